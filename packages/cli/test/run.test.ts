/** `mmemu run`: tables, --json records, exit statuses and error messages (no stack traces). */
import test from "ava";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { buildProgram, runCommand, type Output } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "mmemu-cli-"));
const example = fileURLToPath(new URL("../../../examples/scenarios/ltp-move_pages04.json", import.meta.url));
const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));

function capture(): Output & { stdout: string; stderr: string } {
  const o = { stdout: "", stderr: "", out: (s: string) => void (o.stdout += s), err: (s: string) => void (o.stderr += s) };
  return o;
}

function scenarioFile(name: string, obj: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof obj === "string" ? obj : JSON.stringify(obj));
  return p;
}

const failing = {
  version: 1, name: "wrong expectation",
  machine: { nodes: [{ id: 0, memory: "16MiB" }, { id: 1, memory: "16MiB" }] },
  processes: [{ name: "p" }],
  steps: [
    { op: "mmap", process: "p", as: "b", len: "1p" },
    { op: "move_pages", process: "p", pages: ["b"], nodes: [1], expect: { status: [1] } },
  ],
};

test("a passing scenario prints a table with one row per step and exits 0", async (t) => {
  const o = capture();
  t.is(await runCommand([example], {}, o), 0);
  t.regex(o.stdout, /move_pages\(0, 4, 4 addrs, \[1,1,1,1\], status, MOVE\)/);
  t.regex(o.stdout, /status \[1, -ENOENT, -EFAULT, -EFAULT\]/);
  t.regex(o.stdout, /PASS: 10 steps, 0 failed/);
  t.is(o.stderr, "");
});

test("--json prints one record per step plus a summary, with ret, errno and status", async (t) => {
  const o = capture();
  t.is(await runCommand([example], { json: true }, o), 0);
  const lines = o.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  t.is(lines.length, 11);
  const mp = lines.find((l) => l.op === "move_pages")!;
  t.deepEqual(mp.status, [1, -2, -14, -14]);
  t.is(mp.ret, 0);
  t.is(mp.errno, 0);
  t.is(mp.errnoName, null);
  t.true(mp.ok);
  t.deepEqual(lines.at(-1), { ...lines.at(-1), summary: true, ok: true, steps: 10, failed: 0 });
});

test("--json errno fields for a failing call", async (t) => {
  const f = scenarioFile("enodev.json", { ...failing, steps: [failing.steps[0], { op: "move_pages", process: "p", pages: ["b"], nodes: [9], expect: { ret: -1, errno: "ENODEV" } }] });
  const o = capture();
  t.is(await runCommand([f], { json: true }, o), 0);
  const rec = JSON.parse(o.stdout.split("\n")[1]!) as Record<string, unknown>;
  t.is(rec.ret, -1);
  t.is(rec.errno, 19);
  t.is(rec.errnoName, "ENODEV");
});

test("a mismatch is listed and the exit status is 1", async (t) => {
  const o = capture();
  t.is(await runCommand([scenarioFile("fail.json", failing)], {}, o), 1);
  t.regex(o.stdout, /step 1 \(move_pages\): status\[0\] is -2 \(-ENOENT\), expected 1/);
  t.regex(o.stdout, /FAIL: 2 steps, 1 failed/);
});

test("an invalid scenario is rejected with paths, nothing runs, exit 2", async (t) => {
  const bad = scenarioFile("bad.json", { ...failing, steps: [{ op: "mmap", process: "p", as: "b", len: "1 parsec" }] });
  const o = capture();
  t.is(await runCommand([example, bad], {}, o), 2);
  t.is(o.stdout, "", "not even the valid file ran");
  t.regex(o.stderr, /bad\.json: invalid scenario\n {2}steps\[0\]\.len: a size like/);
});

test("a missing file and bad --kernel are clear errors", async (t) => {
  const o = capture();
  t.is(await runCommand([join(dir, "nope.json")], {}, o), 2);
  t.regex(o.stderr, /nope\.json: invalid scenario\n {2}cannot read the file: ENOENT/);
  const o2 = capture();
  t.is(await runCommand([example], { kernel: "5.4" }, o2), 2);
  t.regex(o2.stderr, /--kernel 5\.4: expected one of 6\.1, 6\.12, mainline/);
});

test("--kernel overrides the scenario's kernel", async (t) => {
  const o = capture();
  t.is(await runCommand([example], { kernel: "6.1" }, o), 1, "move_pages04's mainline expectation fails on 6.1");
  t.regex(o.stdout, /status\[1\] is -14 \(-EFAULT\), expected -ENOENT/);
});

test("--trace - prints the trace in trace-cmd report's layout, with the kernel's field names", async (t) => {
  const o = capture();
  await runCommand([example], { trace: "-" }, o);
  t.regex(o.stdout, /^cpus=\d+$/m);
  t.regex(o.stdout, /^ +\S+-\d+ +\[\d{3}\] \.{5} +\d+\.\d{6}: mm_migrate_pages: +nr_succeeded=1 nr_failed=\d+ nr_thp_succeeded=0 nr_thp_failed=0 nr_thp_split=0 nr_split=0 mode=MIGRATE_SYNC reason=syscall_or_cpuset$/m);
});

test("bad trace options stop the command before anything runs, naming the option", async (t) => {
  for (const [opts, msg] of [
    [{ trace: "/tmp/x", traceFormat: "json" }, /--trace-format: "json" is not one of ftrace, tracefs, perfetto/],
    [{ trace: "/tmp/x", traceWindow: "5:2" }, /--trace-window: end 2 is not after start 5/],
    [{ trace: "/tmp/x", traceEvents: "tlb,bogus class" }, /--trace-events: "bogus class"/],
    [{ trace: "/tmp/x", traceBuffer: "0" }, /--trace-buffer: "0"/],
    [{ traceFormat: "ftrace" }, /--trace-format needs --trace FILE/],
  ] as const) {
    const o = capture();
    t.is(await runCommand([example], opts, o), 2);
    t.regex(o.stderr, msg);
    t.is(o.stdout, "");
  }
});

test("the run command is registered on the program", (t) => {
  const p = buildProgram();
  t.is(p.commands[0]!.name(), "run", "first of the registered commands (bench.test.ts checks the others)");
});

test("the real executable: exit statuses and no stack trace on errors", (t) => {
  const ok = spawnSync(process.execPath, ["--import", "tsx", main, "run", example], { encoding: "utf8" });
  t.is(ok.status, 0);
  const bad = spawnSync(process.execPath, ["--import", "tsx", main, "run", join(dir, "missing.json")], { encoding: "utf8" });
  t.is(bad.status, 2);
  t.notRegex(bad.stderr, /\n\s+at /, "no stack trace");
  const usage = spawnSync(process.execPath, ["--import", "tsx", main, "run"], { encoding: "utf8" });
  t.not(usage.status, 0);
  t.regex(usage.stderr, /missing required argument 'scenario'/);
});

test("--strict-offload sets machine.strictOffload; the --json summary carries the fallback counts", async (t) => {
  const o = capture();
  t.is(await runCommand([example], { json: true, strictOffload: true }, o), 0, "no migrator in this scenario: nothing fell back");
  const summary = JSON.parse(o.stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
  t.deepEqual(summary.fallback, {});
  t.is(summary.strictOffload, undefined);
  t.true(buildProgram().commands.find((c) => c.name() === "run")!.options.some((op) => op.long === "--strict-offload"));
});

test("--trace FILE --trace-format perfetto writes a timeline; --stats prints the breakdown and /proc/vmstat lines", async (t) => {
  const { mkdtempSync, readFileSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "mmemu-run-"));
  try {
    const o = capture();
    const file = join(dir, "run.json");
    await runCommand([example], { trace: file, traceFormat: "perfetto", stats: true }, o);
    t.regex(o.stderr, /wrote .*run\.json \(perfetto, \d+ events\)/);
    const doc = JSON.parse(readFileSync(file, "utf8")) as { traceEvents: Array<{ ph: string; name: string }>; metadata: Record<string, string> };
    t.is(doc.metadata.kernel, "mainline");
    t.true(doc.traceEvents.some((e) => e.ph === "X" && e.name === "move_pages"));
    t.regex(o.stdout, /where virtual time went \([\d.]+ us\):/);
    t.regex(o.stdout, /^ {2}pgmigrate_success \d+$/m);
    t.regex(o.stdout, /^ {2}numa_hit \d+$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--json summary records carry the phase breakdown, adding up, the vmstat lines and the fallback counts", async (t) => {
  const o = capture();
  await runCommand([example], { json: true }, o);
  const summary = o.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, any>).find((r) => r.summary === true)!;
  const parts = Object.values(summary.phasesNs as Record<string, number>).reduce((a, b) => a + b, 0);
  t.is(parts, summary.phasesTotalNs);
  t.true(parts > 0 && parts <= summary.virtualNs);
  t.is(typeof summary.vmstat.pgmigrate_success, "number");
  t.deepEqual(summary.fallback, {});
});
