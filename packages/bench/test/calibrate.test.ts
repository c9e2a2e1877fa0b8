import test from "ava";
import { loadProfile, withParams } from "@mmemu/timing";
import { calibrate, PointPool, runPoint, vanillaLatencySpec, type Measurements } from "../src/index.js";

test("the fit recovers known parameters from measurements the emulator itself generated", async (t) => {
  const base = loadProfile("zen3-ptdma-base");
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
    t.true(Math.abs(r.profile.cpu.lru_cache_disable / 81_000 - 1) < 0.03, `lru_cache_disable ${r.profile.cpu.lru_cache_disable}`);
    t.true(Math.abs(r.profile.cpu.cpu_copy_bw / 9.3 - 1) < 0.03, `cpu_copy_bw ${r.profile.cpu.cpu_copy_bw}`);
    t.true(r.objective < 1e-3);
    t.is(r.cells.length, 8);
    t.is(base.cpu.lru_cache_disable, loadProfile("zen3-ptdma-base").cpu.lru_cache_disable, "the base profile is untouched");
  } finally {
    await pool.close();
  }
});
