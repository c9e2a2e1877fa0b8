import test from "ava";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  LocalEngine, loadProfileWith, offloadSpec, parseSweep, PointCache, predictRows, predictSweep, recordsJsonl, resolveSweep, runPoint, runSweep,
  SweepSpecError, vanillaLatencySpec, writeSweepDb, writeSweepReport,
} from "../src/index.js";
import { presetSweep, throughputAndLatency } from "../src/sweep/preset.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const CLI = join(ROOT, "packages/cli/src/main.ts");

/** Eight small points: vanilla and dcbm on 1 and 4 channels against the batch limit. */
const SMALL = `
version: 1
name: small
base: { folio_size: 4K, amount: 4MiB }
points:
  - { migrator: vanilla }
  - { migrator: dcbm, channels: 1 }
  - { migrator: dcbm, channels: 4 }
grid:
  batch_pages: [256, 1024]
  set.ptdma.chan_bw: [10, 20]
figures: [GBps, first_us, batches, cost, counters]
`;

function problems(text: string, file = "s.yaml"): string[] {
  try {
    parseSweep(text, file);
  } catch (e) {
    if (e instanceof SweepSpecError) return [...e.problems];
    throw e;
  }
  return [];
}

test("a spec expands to every explicit point crossed with every grid combination, last grid axis fastest", (t) => {
  const s = parseSweep(SMALL, "small.yaml");
  t.is(s.points.length, 3 * 2 * 2);
  t.deepEqual(s.axes, ["migrator", "channels", "batch_pages", "set.ptdma.chan_bw"]);
  t.deepEqual(s.points.slice(0, 3).map((p) => p.axes), [
    { migrator: "vanilla", channels: 1, batch_pages: 256, "set.ptdma.chan_bw": 10 },
    { migrator: "vanilla", channels: 1, batch_pages: 256, "set.ptdma.chan_bw": 20 },
    { migrator: "vanilla", channels: 1, batch_pages: 1024, "set.ptdma.chan_bw": 10 },
  ]);
  t.is(s.points[11]!.fields.amount, 4 << 20);
  t.deepEqual(s.points[11]!.fields.set, { "ptdma.chan_bw": 20 });
});

test("bad specs are refused before anything runs, each problem naming its field path", (t) => {
  t.deepEqual(problems("version: 1\nname: x\ngrid: { channels: [1, 0, 4] }"), ["grid.channels[1]: Too small: expected number to be >=1"]);
  t.regex(problems("version: 1\nname: x\ngrid: { chanels: [1] }")[0]!, /^grid\.chanels: not an axis \(point fields: profile, migrator/);
  t.deepEqual(problems("version: 1\nname: x\nbase: { folio: 4K }"), ['base: unknown field "folio"']);
  t.regex(problems("version: 1\nname: x\ngrid: { set.ptdma.chan_bandwidth: [1] }")[0]!, /^grid\.set\.ptdma\.chan_bandwidth\[0\]: no profile parameter "ptdma\.chan_bandwidth"/);
  t.regex(problems("version: 1\nname: x\nbase: { set: { ptdma.chan_bw: -3 } }")[0]!, /^base\.set\.ptdma\.chan_bw: ptdma\.chan_bw = -3 is outside its declared range/);
  t.regex(problems("version: 1\nname: x\nbase: { migrator: dcbn }")[0]!, /^base\.migrator: expected "vanilla", "dcbm", "mtcopy" or a plug-in file \(\.\/my-migrator\.ts\)/);
  t.regex(problems("version: 1\nname: x\nbase: { amount: 5GiB }")[0]!, /^base\.amount: amount must be from 4096 bytes to 4 GiB/);
  t.regex(problems("version: 1\nname: x\nbase: { amount: lots }")[0]!, /^base\.amount: "lots" is not a size \(bytes, or e\.g\. "64MiB", "1G"\)/);
  t.deepEqual(problems("version: 1\nname: x\npoints: [{ channels: 2 }]\ngrid: { channels: [1, 4] }"), ["points[0].channels: also a grid axis; set it in one place"]);
  t.regex(problems("version: 1\nname: x\ngrid: { channels: [1] }\ncharts: [{ x: batch_pages, y: GBps }]")[0]!, /^charts\[0\]\.x: "batch_pages" is not an axis of this sweep \(channels\)/);
  t.regex(problems("version: 1\nname: x\ngrid: { channels: [1] }\ncharts: [{ x: channels, y: cost.FOLIO_MOVE }]")[0]!, /^charts\[0\]\.y: "cost\.FOLIO_MOVE" needs "cost" in figures/);
  t.regex(problems("version: 1\nname: x\ngrid: { migrator: [dcbm] , channels: [17] }")[0]!, /^point 0 \(migrator=dcbm channels=17\): dcbm takes 1\.\.16 channels/);
  t.regex(problems("version: 1\nname: x\nbase: { folio_size: 2M, amount: 1MiB }")[0]!, /^point 0 \(the base point\): amount 1048576 is less than one 2M folio/);
  t.regex(problems("version: 1\nname: [x", "s.yaml")[0]!, /^not valid YAML: /);
  t.regex(problems("{ \"version\": 1, ", "s.json")[0]!, /^not valid JSON: /);
  t.regex(problems('{ "version": 2, "name": "x" }', "s.json")[0]!, /^version: /);
  const e = t.throws(() => parseSweep("version: 1\nname: x\ngrid: { channels: [1, 0] }", "dir/s.yaml"));
  t.is(e.message.split("\n")[0], "dir/s.yaml: invalid sweep spec");
});

test("a point's hash covers its whole input: equal inputs share one, any parameter, profile or workload change makes another", async (t) => {
  const s = parseSweep(`
version: 1
name: h
base: { amount: 4MiB }
points:
  - { migrator: vanilla, channels: 1 }
  - { migrator: vanilla, channels: 4 }
  - { migrator: dcbm, channels: 4 }
  - { migrator: dcbm, channels: 4, set: { ptdma.chan_bw: 20 } }
  - { migrator: dcbm, channels: 4, profile: zen3-ptdma-base }
  - { migrator: dcbm, channels: 4, seed: 2 }
  - { migrator: dcbm, channels: 4, engine: ptdma }
  - { migrator: mtcopy, channels: 4 }
  - { migrator: mtcopy, channels: 4, engine: ptdma }
`, "h.yaml");
  const h = (await resolveSweep(s)).map((p) => p.hash);
  // Vanilla ignores the channel count, mtcopy (no DMA) the engines; dcbm with only PTDMA probed is another machine.
  t.is(h[0], h[1]);
  t.is(h[7], h[8]);
  t.is(new Set([h[0], h[2], h[3], h[4], h[5], h[6], h[7]]).size, 7);
  t.deepEqual((await resolveSweep(s)).map((p) => p.hash), h, "stable across resolutions");
  const bad = parseSweep("version: 1\nname: e\nbase: { migrator: ./no-such-migrator.ts }", "/some/dir/e.yaml");
  await t.throwsAsync(resolveSweep(bad), { message: /point 0 \(the base point\): .*no-such-migrator\.ts/ });
  const missing = parseSweep("version: 1\nname: e\nbase: { profile: ./no-such-profile.json }", "/some/dir/e.yaml");
  await t.throwsAsync(resolveSweep(missing), { message: /point 0 \(the base point\): profile "\/some\/dir\/no-such-profile\.json": cannot read/ });
  // A profile file is found beside the spec, and hashes like the same profile by name.
  const dir = mkdtempSync(join(tmpdir(), "mmemu-spec-"));
  try {
    writeFileSync(join(dir, "mine.json"), readFileSync(join(ROOT, "packages/timing/profiles/zen3-ptdma.json")));
    const byFile = parseSweep("version: 1\nname: f\nbase: { profile: mine.json, amount: 4MiB }", join(dir, "f.yaml"));
    const byName = parseSweep("version: 1\nname: f\nbase: { profile: zen3-ptdma, amount: 4MiB }", join(dir, "f.yaml"));
    t.is((await resolveSweep(byFile))[0]!.hash, (await resolveSweep(byName))[0]!.hash);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a sweep stopped after k points resumes with only the rest, and its records equal an uninterrupted run's", async (t) => {
  const s = parseSweep(SMALL, "small.yaml");
  const points = await resolveSweep(s);
  const distinct = new Set(points.map((p) => p.hash)).size;
  t.is(distinct, 12);
  const dir = mkdtempSync(join(tmpdir(), "mmemu-sweep-"));
  const engine = new LocalEngine(1);
  try {
    const whole = await runSweep(s, points, { engine, cache: null });
    t.is(whole.ran, 12);
    t.true(whole.records.every((r) => r !== null));
    const cache = new PointCache(dir);
    const first = await runSweep(s, points, { engine, cache, limit: 5 });
    t.is(first.ran, 5);
    t.is(first.remaining, 7);
    t.is(first.records.filter((r) => r !== null).length, 5);
    const second = await runSweep(s, points, { engine, cache });
    t.is(second.cached, 5);
    t.is(second.ran, 7);
    t.is(recordsJsonl(second.records), recordsJsonl(whole.records));
    // The records hold the requested figures, from the run's mechanics.
    const r = whole.records[4]!;
    t.deepEqual(Object.keys(r.figures), ["GBps", "first_us", "batches", "cost", "counters"]);
    t.is((r.figures.counters as Record<string, number>).pgmigrate_success, 1024);
    t.true(((r.figures.counters as Record<string, number>)["offload.batchCalls"] ?? 0) > 0);
    t.true((r.figures.cost as Record<string, { ns: number }>).FOLIO_MOVE!.ns > 0);
    // A cache file that is cut short counts as absent: its point runs again.
    const sub = readdirSync(dir)[0]!;
    const f = join(dir, sub, readdirSync(join(dir, sub))[0]!);
    writeFileSync(f, readFileSync(f, "utf8").slice(0, 40));
    const third = await runSweep(s, points, { engine, cache });
    t.is(third.ran, 1);
    t.is(recordsJsonl(third.records), recordsJsonl(whole.records));
    // --db: the records as rows of a DuckDB table, queried with SQL; a second write replaces them.
    const db = join(dir, "sweep.duckdb");
    t.is(await writeSweepDb(db, s, whole.records), 12);
    t.is(await writeSweepDb(db, s, whole.records), 12);
    const { DuckDBInstance } = await import("@duckdb/node-api");
    const inst = await DuckDBInstance.create(db);
    const conn = await inst.connect();
    const rows = (await conn.runAndReadAll("SELECT point, migrator, channels, batch_pages, GBps, json_extract(counters, '$.pgmigrate_success')::INTEGER AS moved FROM points ORDER BY point")).getRowObjectsJson();
    conn.closeSync();
    inst.closeSync();
    t.is(rows.length, 12);
    t.deepEqual(rows[4], { point: 4, migrator: "dcbm", channels: 1, batch_pages: 256, GBps: (whole.records[4]!.figures.GBps as number), moved: 1024 });
    const files = await writeSweepReport(join(dir, "report"), s, whole, "test");
    const html = readFileSync(files[0]!, "utf8");
    t.true(html.includes("<svg"), "the report has charts");
    t.is(files.filter((x) => x.endsWith(".svg")).length, 3, "each scalar figure (GBps, first_us, batches) against the first axis");
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Run the CLI as a child process (node itself, so `child.kill` reaches the sweep, not a wrapper). */
function cli(args: string[]) {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) => {
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

test("the example spec runs from the command line; killed mid-sweep, the same command resumes with the rest and writes the same records", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "mmemu-sweep-cli-"));
  const spec = join(ROOT, "examples/sweeps/batch-vs-channels.yaml");
  try {
    const cache = join(dir, "cache");
    const count = () => (existsSync(cache) ? readdirSync(cache).flatMap((d) => readdirSync(join(cache, d)).filter((f) => f.endsWith(".json"))).length : 0);
    // Killed (SIGKILL, no chance to clean up) once a few points are cached.
    const first = cli(["sweep", spec, "--threads", "1", "--cache", cache, "--out", join(dir, "a.jsonl")]);
    const timer = setInterval(() => {
      if (count() >= 3) first.child.kill("SIGKILL");
    }, 50);
    const killed = await first.done;
    clearInterval(timer);
    t.is(killed.signal, "SIGKILL", killed.stderr);
    t.false(existsSync(join(dir, "a.jsonl")), "no output from the killed run");
    const before = count();
    t.true(before >= 3 && before < 16);
    const resumed = await cli(["sweep", spec, "--threads", "1", "--cache", cache, "--out", join(dir, "a.jsonl"), "--no-table"]).done;
    t.is(resumed.code, 0, resumed.stderr);
    t.regex(resumed.stderr, new RegExp(`16 points \\(${before} distinct from the cache, ${16 - before} run, 0 failed, 0 left\\)`));
    const whole = await cli(["sweep", spec, "--threads", "2", "--no-cache", "--out", join(dir, "b.jsonl"), "--report", join(dir, "report")]).done;
    t.is(whole.code, 0, whole.stderr);
    t.regex(whole.stdout, /│ point │ migrator │ channels │ batch_pages │ GBps/);
    const a = readFileSync(join(dir, "a.jsonl"), "utf8");
    t.is(a, readFileSync(join(dir, "b.jsonl"), "utf8"));
    t.is(a.trim().split("\n").length, 16);
    t.true(existsSync(join(dir, "report", "report.html")));
    const bad = await cli(["sweep", join(dir, "missing.yaml")]).done;
    t.is(bad.code, 2);
    // The problems are indented under the headline (the output helper decides by how much).
    t.regex(bad.stderr.trim(), new RegExp(`^mmemu: ${join(dir, "missing.yaml").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: invalid sweep spec\n +cannot read the file: ENOENT$`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("preset sweeps (tune-batch, bench predict) give the numbers of running their points directly, --set included", async (t) => {
  const specs = [vanillaLatencySpec("16K", 64), offloadSpec("2M", 1024, 4), { ...offloadSpec("4K", 512, 16), totalBytes: 4 << 20 }];
  const sweep = presetSweep("p", "test", specs, { profile: "zen3-ptdma", set: { "ptdma.chan_bw": 20 } });
  const engine = new LocalEngine(1);
  try {
    const got = throughputAndLatency(await runSweep(sweep, await resolveSweep(sweep), { engine, cache: null }));
    const profile = loadProfileWith("zen3-ptdma", ["ptdma.chan_bw=20"]);
    t.deepEqual(got, specs.map((s) => {
      const r = runPoint(profile, s);
      return { GBps: r.GBps, firstUs: r.firstUs, fallback: r.fallback, strictFailures: r.strictFailures };
    }));
  } finally {
    await engine.close();
  }
  // bench predict: one point per row, in row order, with the rows' workloads.
  const p = predictSweep({ profile: "zen3-ptdma" });
  const rows = predictRows();
  t.is(p.points.length, rows.length);
  t.deepEqual(p.points.map((x) => [x.fields.migrator, x.fields.folio_size, x.fields.amount, x.fields.batch_pages]), rows.map((r) => [r.spec.config, r.spec.folioSize, r.spec.totalBytes, r.spec.batchPages]));
});

test("a plug-in migrator is an axis value like a built-in: loaded relative to the spec, its file content part of the point's identity", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "mmemu-plugin-sweep-"));
  try {
    writeFileSync(join(dir, "bigbatch.ts"), readFileSync(join(ROOT, "examples/plugins/bigbatch.ts")));
    const spec = `version: 1
name: p
base: { amount: 4MiB, batch_pages: 512 }
points:
  - { migrator: vanilla }
  - { migrator: mtcopy, channels: 4 }
  - { migrator: ./bigbatch.ts, set: { bigbatch.min_folios: 4 } }
  - { migrator: ./bigbatch.ts, set: { bigbatch.min_folios: 1024 } }
figures: [GBps, counters]`;
    const s = parseSweep(spec, join(dir, "p.yaml"));
    const points = await resolveSweep(s);
    const engine = new LocalEngine(1);
    let run;
    try {
      run = await runSweep(s, points, { engine, cache: null });
    } finally {
      await engine.close();
    }
    t.is(run.failed.length, 0, run.failed.map((f) => f.error).join("; "));
    const counters = (i: number) => run.records[i]!.figures.counters as Record<string, number>;
    // bigbatch copies the 512-folio batches with min_folios 4 and declines them all with 1024.
    t.is(counters(2)["offload.batchCalls"], 2);
    t.is(counters(2)["offload.batchErrors"], 0);
    t.is(counters(3)["offload.batchErrors"], 2);
    t.is(counters(3).pgmigrate_success, 1024);
    t.false("offload.batchCalls" in counters(0), "vanilla loads no migrator");
    const before = points[2]!.hash;
    writeFileSync(join(dir, "bigbatch.ts"), readFileSync(join(dir, "bigbatch.ts"), "utf8") + "\n// changed\n");
    t.not((await resolveSweep(parseSweep(spec, join(dir, "p.yaml"))))[2]!.hash, before);
    // A plug-in parameter that its file does not declare is refused by point.
    const typo = parseSweep(spec.replace("min_folios: 1024", "min_folio: 1024"), join(dir, "p.yaml"));
    await t.throwsAsync(resolveSweep(typo), { message: /point 3 \(migrator=\.\/bigbatch\.ts channels=1 set\.bigbatch\.min_folio=1024\): no parameter "bigbatch\.min_folio"/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
