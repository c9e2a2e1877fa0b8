import test from "ava";
import { buildProgram } from "../src/index.js";

test("bench, calibrate and tune-batch are registered with their options", (t) => {
  const program = buildProgram();
  const names = program.commands.map((c) => c.name());
  for (const n of ["run", "bench", "calibrate", "tune-batch", "profile", "sweep", "worker"]) t.true(names.includes(n), `${n} in ${names.join(", ")}`);
  const bench = program.commands.find((c) => c.name() === "bench")!;
  t.deepEqual(bench.commands.map((c) => c.name()).sort(), ["predict", "seed", "speed"]);
  const speed = bench.commands.find((c) => c.name() === "speed")!;
  for (const opt of ["--no-seed", "--no-engines", "--json"]) t.true(speed.options.some((o) => o.long === opt), `bench speed ${opt}`);
  const cal = program.commands.find((c) => c.name() === "calibrate")!;
  for (const opt of ["--stages", "--validate", "--max-folios", "--k", "--schemes", "--reference"]) t.true(cal.options.some((o) => o.long === opt), opt);
});

test("every command that runs offload points takes --strict-offload", (t) => {
  const program = buildProgram();
  const bench = program.commands.find((c) => c.name() === "bench")!;
  const cmds = [...bench.commands, program.commands.find((c) => c.name() === "tune-batch")!];
  for (const c of cmds) t.true(c.options.some((o) => o.long === "--strict-offload"), `${c.name()} has --strict-offload`);
});

test("bad tune-batch and bench arguments are refused with the argument named, before anything runs", async (t) => {
  const run = (args: string[]) => buildProgram().exitOverride().parseAsync(["node", "mmemu", ...args]);
  await t.throwsAsync(run(["tune-batch", "--folio", "2M", "--channels", "17", "--budget-us", "500"]), { message: /--channels must be a whole number from 1 to 16 .* got "17"/ });
  await t.throwsAsync(run(["tune-batch", "--folio", "2M", "--channels", "4", "--budget-us", "abc"]), { message: /--budget-us must be a positive number of microseconds, got "abc"/ });
  await t.throwsAsync(run(["tune-batch", "--folio", "3M", "--channels", "4", "--budget-us", "500"]), { message: /--folio must be one of 4K, 16K/ });
  await t.throwsAsync(run(["bench", "seed", "--threads", "0x"]), { message: /--threads: expected a whole number from 1 to 256, got "0x"/ });
  await t.throwsAsync(run(["calibrate", "--stages", "cpu,gpu"]), { message: /--stages: unknown stage "gpu" \(cpu, dma, joint\)/ });
  await t.throwsAsync(run(["calibrate", "--gb", "GiBs"]), { message: /^--gb: expected GB or GiB, got "GiBs"$/ });
  await t.throwsAsync(run(["bench", "seed", "--gb", "1e9"]), { message: /^--gb: expected GB or GiB, got "1e9"$/ });
  await t.throwsAsync(run(["sweep", "../../examples/sweeps/batch-vs-channels.yaml", "--queue", "http://localhost:6379"]), { message: /--queue: "http:\/\/localhost:6379" is not a redis:\/\/ URL/ });
  await t.throwsAsync(run(["sweep", "../../examples/sweeps/batch-vs-channels.yaml", "--queue", "redis://localhost:6379", "--threads", "2"]), { message: /--threads and --queue exclude each other/ });
  await t.throwsAsync(run(["sweep", "../../examples/sweeps/batch-vs-channels.yaml", "--limit", "0"]), { message: /--limit: expected a whole number from 1 to/ });
  // Nobody listening on the port: one line after the connection timeout, not a hang.
  await t.throwsAsync(run(["sweep", "../../examples/sweeps/batch-vs-channels.yaml", "--queue", "redis://127.0.0.1:1", "--no-cache"]), { message: /^--queue redis:\/\/127\.0\.0\.1:1: no Redis server answered within 10 s \(ECONNREFUSED\)$/ });
  await t.throwsAsync(run(["worker", "--queue", "redis://localhost:6379", "--concurrency", "0"]), { message: /--concurrency: expected a whole number from 1 to 256, got "0"/ });
  await t.throwsAsync(run(["bench", "predict", "--seed", "x"]), { message: /--seed: expected a whole number/ });
  await t.throwsAsync(run(["calibrate", "--queue", "redis://localhost:6379", "--threads", "2"]), { message: /--threads and --queue exclude each other/ });
  await t.throwsAsync(run(["calibrate", "--queue", "localhost:6379", "--max-evals", "1"]), { message: /--queue: "localhost:6379" is not a redis:\/\/ URL/ });
  await t.throwsAsync(run(["calibrate", "--validate", "--schemes", "table,loo"]), { message: /--schemes: unknown scheme "loo" \(table, kfold\)/ });
  await t.throwsAsync(run(["calibrate", "--validate", "--k", "1"]), { message: /--k: expected a whole number from 2 to 1000, got "1"/ });
  await t.throwsAsync(run(["calibrate", "--max-folios", "4k"]), { message: /--max-folios: expected a whole number from 512 to 262144, got "4k"/ });
  await t.throwsAsync(run(["calibrate", "--max-evals", "0"]), { message: /--max-evals: expected a whole number from 1 to 100000, got "0"/ });
  await t.throwsAsync(run(["calibrate", "--descent", "--linearised", "2"]), { message: /--descent and --linearised exclude each other/ });
  await t.throwsAsync(run(["calibrate", "--validate", "--descent"]), { message: /with --validate the folds' method is --method/ });
  await t.throwsAsync(run(["calibrate", "--linearised", "0"]), { message: /--linearised: expected a whole number from 1 to 1000, got "0"/ });
});

/** Run the CLI in-process and collect what it prints. */
async function capture(args: string[]): Promise<string> {
  const lines: string[] = [];
  const orig = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.join(" "));
  try {
    await buildProgram().exitOverride().parseAsync(["node", "mmemu", ...args]);
  } finally {
    console.log = orig;
  }
  return lines.join("\n");
}

test.serial("profile show lists every parameter with its value; --set changes one, and the shipped fit's free parameters show their ranges", async (t) => {
  const shown = await capture(["profile", "show", "zen3-ptdma"]);
  t.regex(shown, /^cpu\.cpu_copy_bw\s+\S+\s+12\s+GB\/s\s+6\.\.20/m);
  t.regex(shown, /^cpu\.syscall\s+1000\s+1000\s+ns\s+fixed$/m);
  const varied = await capture(["profile", "show", "zen3-ptdma", "--set", "ptdma.chan_bw=19.5", "--set", "cpu.syscall=700"]);
  t.regex(varied, /^ptdma\.chan_bw\s+19\.5\*/m);
  t.regex(varied, /^cpu\.syscall\s+700\*/m);
  t.regex(varied, /^profile zen3-ptdma\+ptdma\.chan_bw=19\.5,cpu\.syscall=700:/m);
  const md = await capture(["profile", "show", "--markdown"]);
  t.regex(md, /^\| `ptdma\.chan_bw` \| GB\/s \| [0-9.]+ \*\*fit\*\* \| /m);
});

test.serial("profile derive writes a variant that loads with the value set; bad --set assignments are refused by name", async (t) => {
  const { mkdtempSync, readFileSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const out = join(mkdtempSync(join(tmpdir(), "mmemu-profile-")), "fast.json");
  await capture(["profile", "derive", "zen3-ptdma", "--set", "ptdma.chan_bw=20", "--out", out, "--name", "zen3-fast"]);
  const shown = await capture(["profile", "show", out]);
  t.regex(shown, /^profile zen3-fast: /m);
  t.regex(shown, /^ptdma\.chan_bw\s+20\*/m);
  const ipi = (text: string) => /^cpu\.tlb_flush_ipi\s+(\S+)/m.exec(text)?.[1];
  t.is(ipi(shown), ipi(await capture(["profile", "show", "zen3-ptdma"])), "the rest is the base's");
  t.false("calibration" in JSON.parse(readFileSync(out, "utf8")), "a variant is not the base's calibration output");
  const run = (args: string[]) => buildProgram().exitOverride().parseAsync(["node", "mmemu", ...args]);
  await t.throwsAsync(run(["profile", "show", "--set", "ptdma.chan_bww=20"]), { message: /--set "ptdma.chan_bww=20": no parameter "ptdma.chan_bww"/ });
  await t.throwsAsync(run(["profile", "show", "--set", "ptdma.chan_bw=fast"]), { message: /--set "ptdma.chan_bw=fast": "fast" is not a number/ });
  await t.throwsAsync(run(["profile", "show", "--set", "chan_bw"]), { message: /expected section.name=value/ });
  await t.throwsAsync(run(["profile", "show", "--set", "ptdma.chan_bw=-3"]), { message: /chan_bw/ });
  await t.throwsAsync(run(["profile", "derive", "zen3-ptdma", "--out", out]), { message: /at least one --set/ });
  await t.throwsAsync(run(["bench", "seed", "--set", "cpu.nope=1"]), { message: /no parameter "cpu.nope"/ });
});

test("every command that builds a machine takes --migrator and --engine, and refuses a missing plug-in file by name before running", async (t) => {
  const program = buildProgram();
  const find = (path: string[]) => path.reduce((c, n) => c.commands.find((x) => x.name() === n)!, program);
  const commands = [["run"], ["bench", "seed"], ["bench", "predict"], ["bench", "speed"], ["calibrate"], ["tune-batch"], ["profile", "show"]];
  for (const path of commands) {
    const longs = find(path).options.map((o) => o.long);
    t.true(longs.includes("--migrator") && longs.includes("--engine"), `${path.join(" ")}: ${longs.join(" ")}`);
  }
  const run = (args: string[]) => buildProgram().exitOverride().parseAsync(["node", "mmemu", ...args]);
  const loads: string[][] = [["bench", "seed"], ["bench", "predict"], ["bench", "speed"], ["calibrate"], ["tune-batch", "--folio", "2M", "--channels", "4", "--budget-us", "500"], ["profile", "show"]];
  for (const args of loads) {
    await t.throwsAsync(run([...args, "--engine", "/nonexistent/x.ts"]), { message: /--engine \/nonexistent\/x\.ts: no such file/ }, args.join(" "));
    await t.throwsAsync(run([...args, "--migrator", "./nope.ts"]), { message: /--migrator \.\/nope\.ts: no such file/ }, args.join(" "));
    await t.throwsAsync(run([...args, "--migrator", "sgbm"]), { message: /--migrator "sgbm": not a built-in migrator \(dcbm, mtcopy\)/ }, args.join(" "));
  }
});

test("every bench command takes the trace options, --quiet and --json", (t) => {
  const program = buildProgram();
  const cmd = (path: string[]) => path.reduce((c, n) => c.commands.find((x) => x.name() === n)!, program);
  for (const path of [["bench", "seed"], ["bench", "predict"], ["bench", "speed"], ["tune-batch"], ["calibrate"]]) {
    const longs = cmd(path).options.map((o) => o.long);
    for (const o of ["--trace", "--trace-format", "--trace-events", "--trace-window", "--trace-buffer", "--trace-point", "--quiet", "--json"]) {
      t.true(longs.includes(o), `${path.join(" ")} ${o}`);
    }
  }
  t.true(cmd(["profile", "show"]).options.some((o) => o.long === "--json"));
});

test("bad trace options are refused by name before anything runs", async (t) => {
  const run = (args: string[]) => buildProgram().exitOverride().parseAsync(["node", "mmemu", ...args]);
  await t.throwsAsync(run(["bench", "predict", "--trace-events", "tlb"]), { message: /--trace-events needs --trace FILE/ });
  await t.throwsAsync(run(["bench", "speed", "--trace", "/tmp/x", "--trace-point", "3"]), { message: /--trace-point: "3" is not a point index from 0 to 2/ });
  await t.throwsAsync(run(["tune-batch", "--folio", "2M", "--channels", "4", "--budget-us", "500", "--trace", "/tmp/x", "--trace-window", "9:1"]), { message: /--trace-window: end 1 is not after start 9/ });
  await t.throwsAsync(run(["bench", "seed", "--trace", "/tmp/x", "--trace-events", "tlb,Bad!"]), { message: /--trace-events: "Bad!"/ });
});

test.serial("profile show --json is the parameter table as JSON", async (t) => {
  const out = JSON.parse(await capture(["profile", "show", "zen3-ptdma", "--json"])) as { name: string; params: Array<{ path: string; value: number; unit: string }> };
  t.is(out.name, "zen3-ptdma");
  t.true(out.params.some((p) => p.path === "cpu.syscall" && p.unit === "ns"));
});

test.serial("tune-batch --json gives the curve with each N's phases; --trace writes a Perfetto file of the chosen point", async (t) => {
  const { mkdtempSync, readFileSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "mmemu-tb-"));
  try {
    const file = join(dir, "tb.json");
    const errs: string[] = [];
    const origErr = console.error;
    console.error = (...a: unknown[]) => void errs.push(a.join(" "));
    let text: string;
    try {
      text = await capture(["tune-batch", "--folio", "2M", "--channels", "16", "--budget-us", "500", "--json", "--quiet", "--trace", file, "--trace-format", "perfetto", "--trace-point", "0"]);
    } finally {
      console.error = origErr;
    }
    const out = JSON.parse(text) as { rows: Array<{ N: number; GBps: number; first_us: number; phases_ns: Record<string, number> }>; recommended_N: number | null };
    t.is(out.rows.length, 10);
    for (const r of out.rows) t.true(Object.values(r.phases_ns).reduce((a, b) => a + b, 0) > 0);
    t.true(out.recommended_N === null || out.rows.some((r) => r.N === out.recommended_N && r.first_us <= 500));
    t.regex(errs.join("\n"), /wrote .*tb\.json \(perfetto, \d+ events\) of dcbm 16ch 2M 1 GiB N=512/);
    const trace = JSON.parse(readFileSync(file, "utf8")) as { traceEvents: Array<{ ph: string; name: string }> };
    t.true(trace.traceEvents.some((e) => e.ph === "X" && e.name === "descriptor"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.serial("bench seed --json with no file writes the JSON alone to stdout and its tables to stderr", async (t) => {
  const errs: string[] = [];
  const origErr = console.error;
  console.error = (...a: unknown[]) => void errs.push(a.join(" "));
  let text: string;
  try {
    text = await capture(["bench", "seed", "--json", "--quiet", "--threads", "2"]);
  } finally {
    console.error = origErr;
  }
  const out = JSON.parse(text) as { profile: string; results: Array<{ table: string; GBps: number }> };
  t.is(out.profile, "zen3-ptdma");
  t.is(out.results.length, 121);
  t.true(out.results.every((r) => r.GBps > 0));
  t.regex(errs.join("\n"), /^throughput_by_folio_size: GiB\/s, 1 GiB moved/m);
  t.regex(errs.join("\n"), /^121 points on 2 threads/m);
});
