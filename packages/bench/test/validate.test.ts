import test from "ava";
import { deriveProfile, loadProfile, withParams } from "@mmemu/timing";
import { BUILTIN_SCHEMA } from "@mmemu/components";
import { crossValidate, kfoldAssignment, PointPool, runPoint, sampleStatus, summarise, tableOf, vanillaLatencySpec, type Measurements } from "../src/index.js";

test("k-fold assignment deals every cell into exactly one fold, balanced and reproducible from the seed", (t) => {
  const a = kfoldAssignment(140, 5, 1);
  t.is(a.length, 140);
  for (let f = 0; f < 5; f++) t.is(a.filter((x) => x === f).length, 28);
  t.deepEqual(kfoldAssignment(140, 5, 1), a);
  t.notDeepEqual(kfoldAssignment(140, 5, 2), a);
  t.throws(() => kfoldAssignment(10, 1, 1), { message: /--k must be a whole number from 2 to the number of cells \(10\), got 1/ });
});

test("the error summary is the median, 90th percentile and max of |error|", (t) => {
  const e = (error: number) => ({ cell: {} as never, emulated: 0, error });
  const s = summarise([0.1, -0.3, 0.05, 0.2, -0.01, 0, 0.02, 0.04, -0.06, 0.5, 0.03].map(e));
  t.is(s.cells, 11);
  t.is(s.median, 0.05);
  t.true(Math.abs(s.p90 - 0.3) < 1e-12);
  t.is(s.max, 0.5);
});

test("cross-validation predicts a held-out table from the others when the model generated the data, and misses when the model lacks what the held-out table needs", async (t) => {
  const base = deriveProfile(loadProfile("zen3-ptdma-base", BUILTIN_SCHEMA), (d) => { d.free = ["cpu.lru_cache_disable"]; });
  const measure = (truth: typeof base): Measurements => {
    const row = (fs: "4K" | "2M", n: number) => {
      const r = runPoint(truth, vanillaLatencySpec(fs, n));
      return { n, GBps: r.GBps, first_us: r.firstUs };
    };
    return { tables: { first_folio_latency_vanilla: { order0_4K: [row("4K", 1), row("4K", 16)], order9_2M: [row("2M", 1), row("2M", 4)] } } } as Measurements;
  };
  const pool = new PointPool(2);
  try {
    const common = { base, pool, configs: new Set(["vanilla"]), maxEvals: 30, stages: ["cpu" as const], schemes: ["table" as const], method: "refit" as const };
    // Every call pays lru_cache_disable, so each table fixes it and predicts the other.
    const truth = withParams(base, { "cpu.lru_cache_disable": 81_000 });
    const r = await crossValidate({ ...common, measurements: measure(truth), reference: truth });
    // The linearised folds (around a reference 10% off the truth) land on the same predictions.
    const lin = await crossValidate({ ...common, method: "linear", measurements: measure(truth), reference: withParams(base, { "cpu.lru_cache_disable": 73_000 }) });
    t.true(lin.overall.table_out!.max < 0.01, `linearised out-of-sample max ${lin.overall.table_out!.max}`);
    t.is(lin.emulatorEvaluations, 2 + 2, "reference, one step per free parameter, one prediction per fold");
    t.deepEqual(r.tables.map((x) => x.table), ["latency vanilla 4K", "latency vanilla 2M"]);
    t.is(r.overall.inSample.max, 0, "the reference generated the data");
    t.true(r.overall.table_out!.max < 0.01, `out-of-sample max ${r.overall.table_out!.max}`);
    for (const f of r.folds) {
      t.is(f.trainCells, 4);
      t.is(f.predictions.length, 4);
      t.is(new Set(f.predictions.map((p) => tableOf(p.cell))).size, 1, "a fold predicts one table");
    }
    // Data from a machine with a slower CPU copy: the 4K table hardly sees it, the 2M table mostly
    // is it, and a fit that cannot move it mispredicts the 2M table it was not fitted to.
    const slow = withParams(base, { "cpu.lru_cache_disable": 81_000, "cpu.cpu_copy_bw": 8 });
    const r2 = await crossValidate({ ...common, measurements: measure(slow), reference: slow });
    t.true(r2.tables.find((x) => x.table === "latency vanilla 2M")!.table_out!.median > 0.1);
    // Linearising needs a reference that is a fit of the base (it differs only in free parameters).
    await t.throwsAsync(crossValidate({ ...common, method: "linear", measurements: measure(slow), reference: slow }), {
      message: /reference zen3-ptdma-base is not a fit of zen3-ptdma-base: fixed parameters differ: cpu.cpu_copy_bw \(12 vs 8\)/,
    });
  } finally {
    await pool.close();
  }
});

test("bench seed says when its comparison is in-sample", (t) => {
  const fitted = loadProfile("zen3-ptdma", BUILTIN_SCHEMA);
  t.regex(sampleStatus(fitted, "/somewhere/zen3-ptdma-v5.json"), /^IN-SAMPLE: profile zen3-ptdma was fitted to these \d+ cells/);
  t.regex(sampleStatus(fitted, "my-machine.json"), /^out-of-sample: profile zen3-ptdma was fitted to .*zen3-ptdma-v5.json, not to my-machine.json/);
  t.regex(sampleStatus(loadProfile("zen3-ptdma-base", BUILTIN_SCHEMA), "zen3-ptdma-v5.json"), /^not fitted/);
});
