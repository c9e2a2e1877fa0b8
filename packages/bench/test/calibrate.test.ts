import test from "ava";
import { BUILTIN_SCHEMA } from "@mmemu/components";
import { deriveProfile, loadProfile, profileToFile, withParams } from "@mmemu/timing";
import { calibrate, calibrateLinearised, objectiveOf, PointPool, ROBUST_DELTA, runPoint, vanillaLatencySpec, type Cell, type Measurements } from "../src/index.js";
import { calibrateCommand } from "../src/commands/calibrate-cmd.js";

/** `mmemu calibrate ARGS` through its commander form, in this process. */
async function calibrateCli(args: string[]): Promise<void> {
  await calibrateCommand().exitOverride().parseAsync(["node", "calibrate", ...args]);
}

test("the fit recovers known parameters from measurements the emulator itself generated", async (t) => {
  const base = loadProfile("zen3-ptdma-base", BUILTIN_SCHEMA);
  const truth = withParams(base, { "cpu.lru_cache_disable": 81_000, "cpu.cpu_copy_bw": 9.3 });
  const row = (fs: "4K" | "2M", n: number) => {
    const r = runPoint(truth, vanillaLatencySpec(fs, n));
    return { n, GBps: r.GBps, first_us: r.firstUs };
  };
  const ms: Measurements = {
    tables: { first_folio_latency_vanilla: { order0_4K: [row("4K", 1), row("4K", 16)], order9_2M: [row("2M", 1), row("2M", 4)] } },
  } as Measurements;
  const pool = new PointPool(2);
  try {
    const r = await calibrate({
      base, measurements: ms, pool, configs: new Set(["vanilla"]),
      free: ["cpu.lru_cache_disable", "cpu.cpu_copy_bw"], maxEvals: 80,
    });
    t.true(Math.abs(r.profile.params.cpu.lru_cache_disable / 81_000 - 1) < 0.03, `lru_cache_disable ${r.profile.params.cpu.lru_cache_disable}`);
    t.true(Math.abs(r.profile.params.cpu.cpu_copy_bw / 9.3 - 1) < 0.03, `cpu_copy_bw ${r.profile.params.cpu.cpu_copy_bw}`);
    t.true(r.objective < 1e-3);
    t.is(r.cells.length, 8);
    t.is(base.params.cpu.lru_cache_disable, loadProfile("zen3-ptdma-base", BUILTIN_SCHEMA).params.cpu.lru_cache_disable, "the base profile is untouched");
  } finally {
    await pool.close();
  }
});

test("the objective is a robust loss of the log error: quadratic for small misses, linear for large ones, with no threshold", (t) => {
  const cell = (value: number) => ({ table: "throughput_by_folio_size", metric: "GBps", config: "vanilla", folioSize: "4K", value }) as unknown as Cell;
  const at = (ratio: number) => objectiveOf([{ cell: cell(10), emulated: 10 * ratio, error: ratio - 1 }]);
  // Small misses: about l^2 / 2.
  t.true(Math.abs(at(1.01) / (Math.log(1.01) ** 2 / 2) - 1) < 0.01);
  // Large misses grow linearly: twice the log error costs about twice as much, not four times.
  const r = at(Math.exp(1)) / at(Math.exp(0.5));
  t.true(r > 1.9 && r < 2.2, `ratio ${r}`);
  // Symmetric in log space: 2x over costs what 2x under does.
  t.true(Math.abs(at(2) - at(0.5)) < 1e-15);
  // Smooth through every relative error (no step or kink near any acceptance tolerance).
  for (let e = 0.15; e < 0.35; e += 0.01) {
    const slope = (at(1 + e + 1e-6) - at(1 + e)) / 1e-6;
    const next = (at(1 + e + 0.01 + 1e-6) - at(1 + e + 0.01)) / 1e-6;
    t.true(Math.abs(next / slope - 1) < 0.1, `slope ${slope} -> ${next} at ${e}`);
  }
  t.true(Math.abs(ROBUST_DELTA - 0.05) < 1e-12);
});

test("an SDXI machine: dcbm copies through the SDXI functions, and the fit recovers the functions' bandwidth from its measurements", async (t) => {
  const base = loadProfile("example-sdxi", BUILTIN_SCHEMA);
  // dcbm takes channels in registration order, so 4 channels are the four contexts of sdxi0, which
  // share its data mover: the copy rate follows sdxi.chan_bw.
  const spec = { config: "dcbm" as const, channels: 4, folioSize: "2M" as const, totalBytes: 64 << 20, batchPages: 262144 };
  const slow = runPoint(base, spec);
  const fast = runPoint(withParams(base, { "sdxi.chan_bw": 28 }), spec);
  t.true(fast.GBps > slow.GBps * 1.5, `doubling sdxi.chan_bw: ${slow.GBps} -> ${fast.GBps} GB/s`);
  const truth = withParams(base, { "sdxi.chan_bw": 21.5 });
  const rate = (ch: number) => ({ mean: runPoint(truth, { config: "dcbm", channels: ch, folioSize: "2M", totalBytes: 2 ** 30, batchPages: 262144 }).GBps });
  const ms: Measurements = {
    tables: { throughput_by_folio_size: { folio_sizes: ["2M"], dcbm: { "1": [rate(1)], "8": [rate(8)] } } },
  } as Measurements;
  const pool = new PointPool(2);
  try {
    const r = await calibrate({ base, measurements: ms, pool, configs: new Set(["dcbm"]), free: ["sdxi.chan_bw"], maxEvals: 40 });
    t.true(Math.abs(r.profile.params.sdxi.chan_bw / 21.5 - 1) < 0.03, `sdxi.chan_bw ${r.profile.params.sdxi.chan_bw}`);
    t.is(r.cells.length, 2);
  } finally {
    await pool.close();
  }
});

test("the linearised fit recovers known parameters in a few emulator evaluations per iteration", async (t) => {
  const base = loadProfile("zen3-ptdma-base", BUILTIN_SCHEMA);
  const truth = withParams(base, { "cpu.lru_cache_disable": 81_000, "cpu.cpu_copy_bw": 9.3 });
  const row = (fs: "4K" | "2M", n: number) => {
    const r = runPoint(truth, vanillaLatencySpec(fs, n));
    return { n, GBps: r.GBps, first_us: r.firstUs };
  };
  const ms: Measurements = {
    tables: { first_folio_latency_vanilla: { order0_4K: [row("4K", 1), row("4K", 16)], order9_2M: [row("2M", 1), row("2M", 4)] } },
  } as Measurements;
  const pool = new PointPool(2);
  try {
    const r = await calibrateLinearised({
      base, measurements: ms, pool, configs: new Set(["vanilla"]),
      free: ["cpu.lru_cache_disable", "cpu.cpu_copy_bw"], maxEvals: 200, outer: 4,
    });
    t.true(Math.abs(r.profile.params.cpu!.lru_cache_disable / 81_000 - 1) < 0.03, `lru_cache_disable ${r.profile.params.cpu!.lru_cache_disable}`);
    t.true(Math.abs(r.profile.params.cpu!.cpu_copy_bw / 9.3 - 1) < 0.03, `cpu_copy_bw ${r.profile.params.cpu!.cpu_copy_bw}`);
    t.true(r.evaluations <= 1 + 4 * 3, `${r.evaluations} emulator evaluations`);
  } finally {
    await pool.close();
  }
});

test.serial("calibrate's default is the linearised fit the shipped profile was made with: 1 + 4 (P + 1) emulator evaluations", async (t) => {
  const { mkdtempSync, readFileSync, writeFileSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "mmemu-caldef-"));
  // Two free parameters, measurements the emulator made at known values of them.
  const base = deriveProfile(loadProfile("zen3-ptdma-base", BUILTIN_SCHEMA), (d) => { d.free = ["cpu.lru_cache_disable", "cpu.cpu_copy_bw"]; });
  const truth = withParams(base, { "cpu.lru_cache_disable": 81_000, "cpu.cpu_copy_bw": 9.3 });
  const row = (n: number) => {
    const r = runPoint(truth, vanillaLatencySpec("2M", n));
    return { n, GBps: r.GBps, first_us: r.firstUs };
  };
  writeFileSync(join(dir, "base.json"), JSON.stringify({ ...profileToFile(base), name: "two-free" }));
  writeFileSync(join(dir, "m.json"), JSON.stringify({ tables: { first_folio_latency_vanilla: { order9_2M: [row(1), row(4)] } } }));
  const out = join(dir, "fit.json");
  await calibrateCli(["--measurements", join(dir, "m.json"), "--profile", join(dir, "base.json"), "--out", out, "--threads", "1", "--quiet"]);
  const fit = JSON.parse(readFileSync(out, "utf8"));
  t.true(fit.calibration.evaluations <= 1 + 4 * (2 + 1), `${fit.calibration.evaluations} emulator evaluations`);
  t.true(Math.abs(fit.cpu.cpu_copy_bw / 9.3 - 1) < 0.03, `cpu_copy_bw ${fit.cpu.cpu_copy_bw}`);
  // Coordinate descent on the emulator is still there, and costs many more evaluations.
  await calibrateCli(["--measurements", join(dir, "m.json"), "--profile", join(dir, "base.json"), "--out", out, "--threads", "1", "--quiet", "--descent", "--max-evals", "30", "--stages", "cpu"]);
  t.true(JSON.parse(readFileSync(out, "utf8")).calibration.evaluations > 13);
});
