import test from "ava";
import { Cost, NR_COST_KINDS, Sim, type CostKind } from "@mmemu/kernel";
import { paramDefaults } from "@mmemu/kernel";
import { CPU_COST_PARAMS, PRICE_SCALE, TimingModel, unpricedCostKinds } from "../src/index.js";

const cpu = { ...paramDefaults(CPU_COST_PARAMS), cpu_copy_bw: 11.7, pte_unmap: 97.3, folio_move: 251.37 };

test("every cost kind of the kernel has a price", (t) => {
  t.deepEqual(unpricedCostKinds(), []);
});

test("the clock advances by exactly floor(sum of units x price), however the work is split", (t) => {
  const sim = new Sim();
  const tm = new TimingModel(sim, cpu);
  let fx = 0;
  // Many small charges whose prices are not whole nanoseconds.
  const kinds: CostKind[] = [Cost.CPU_COPY_BYTE, Cost.PTE_UNMAP, Cost.FOLIO_MOVE];
  for (let i = 0; i < 10_000; i++) {
    const k = kinds[i % 3]!;
    const units = k === Cost.CPU_COPY_BYTE ? 4096 : 1 + (i % 7);
    tm.charge(k, units);
    fx += units * Math.round(tm.nsPerUnit(k) * PRICE_SCALE);
  }
  t.is(sim.now, Math.floor(fx / PRICE_SCALE));
  t.is(tm.advanced, sim.now);
  // One charge of the same total work lands on the same nanosecond.
  const sim2 = new Sim();
  const tm2 = new TimingModel(sim2, cpu);
  tm2.charge(Cost.CPU_COPY_BYTE, 4096 * Math.ceil(10_000 / 3));
  const sim3 = new Sim();
  const tm3 = new TimingModel(sim3, cpu);
  for (let i = 0; i < Math.ceil(10_000 / 3); i++) tm3.charge(Cost.CPU_COPY_BYTE, 4096);
  t.is(sim2.now, sim3.now);
});

test("a bandwidth parameter prices bytes at 1/GBps ns", (t) => {
  const tm = new TimingModel(new Sim(), cpu);
  t.true(Math.abs(tm.nsPerUnit(Cost.CPU_COPY_BYTE) - 1 / 11.7) < 1e-6);
  t.is(tm.nsPerUnit(Cost.LRU_CACHE_DISABLE), cpu.lru_cache_disable);
});

test("charges are counted by kind and device events inside the work fire at their times", (t) => {
  const sim = new Sim();
  const tm = new TimingModel(sim, cpu);
  let firedAt = -1;
  sim.schedule(500, () => {
    firedAt = sim.now;
  });
  tm.charge(Cost.SYSCALL, 1);
  t.is(firedAt, 500);
  t.is(sim.now, cpu.syscall);
  const b = tm.breakdown();
  t.deepEqual(b.map((l) => l.kind), ["SYSCALL"]);
  t.is(b[0]!.ns, cpu.syscall);
  t.is(tm.units.length, NR_COST_KINDS);
});

test("a huge single charge stays exact", (t) => {
  const sim = new Sim();
  const tm = new TimingModel(sim, cpu);
  tm.charge(Cost.CPU_COPY_BYTE, 2 ** 40);
  const fx = 2 ** 40 * Math.round(tm.nsPerUnit(Cost.CPU_COPY_BYTE) * PRICE_SCALE);
  t.is(sim.now, Math.floor(fx / PRICE_SCALE));
});

test("a shootdown pays the deep C-state exit only when its targets have been idle long enough", (t) => {
  const sim = new Sim();
  const c = { ...cpu, tlb_flush_ipi: 2000, ipi_deep_exit: 20_000, ipi_deep_after: 500_000 };
  const tm = new TimingModel(sim, c);
  tm.charge(Cost.TLB_FLUSH_IPI, 1); // targets idle since boot: deep
  t.is(sim.now, 22_000);
  tm.charge(Cost.TLB_FLUSH_IPI, 1); // right after: shallow
  t.is(sim.now, 24_000);
  sim.advance(499_999);
  tm.charge(Cost.TLB_FLUSH_IPI, 1);
  t.is(sim.now, 24_000 + 499_999 + 2000, "just under the residency: still shallow");
  sim.advance(500_000);
  const before = sim.now;
  tm.charge(Cost.TLB_FLUSH_IPI, 1);
  t.is(sim.now - before, 22_000, "idle for the residency: deep again");
  t.is(tm.deepWakeups, 2);
  t.is(tm.breakdown().find((l) => l.kind === "TLB_FLUSH_IPI")!.ns, 4 * 2000 + 2 * 20_000);
  const off = new TimingModel(new Sim(), { ...c, ipi_deep_exit: 0 });
  off.charge(Cost.TLB_FLUSH_IPI, 1);
  t.is(off.deepWakeups, 0);
});

test("a call's sleep in lru_cache_disable() leaves the reused working set cold: its first folios miss, later ones hit", (t) => {
  const sim = new Sim();
  const c = { ...cpu, warm_set_lines: 1000, warm_set_lines_per_folio: 4, warm_set_miss: 100 };
  const tm = new TimingModel(sim, c);
  const folio = () => {
    const before = sim.now;
    tm.charge(Cost.FOLIO_WARM_SET, 1);
    return sim.now - before;
  };
  tm.charge(Cost.LRU_CACHE_DISABLE, 1);
  const first = folio();
  t.is(first, 400, "a cold set: every one of the folio's 4 lines misses at 100 ns");
  for (let i = 0; i < 5000; i++) folio();
  t.is(folio(), 0, "after thousands of folios the set is warm");
  // The whole set is paid once per call, whatever the split into charges (within the ns rounding).
  t.true(Math.abs(tm.warmSetMisses - 1000) < 1e-3);
  const t0 = sim.now;
  tm.charge(Cost.LRU_CACHE_DISABLE, 1);
  t.is(folio(), 400, "the next call starts cold again");
  tm.charge(Cost.FOLIO_WARM_SET, 20_000);
  t.true(Math.abs(sim.now - t0 - c.lru_cache_disable - 100_000) <= 1, "a call pays warm_set_lines x warm_set_miss in all");
  // 64 folios into a call cost more per folio than 64 folios of a call 4096 folios in.
  const perFolio = (skip: number) => {
    tm.charge(Cost.LRU_CACHE_DISABLE, 1);
    tm.charge(Cost.FOLIO_WARM_SET, skip);
    const s = sim.now;
    tm.charge(Cost.FOLIO_WARM_SET, 64);
    return (sim.now - s) / 64;
  };
  t.true(perFolio(0) > 300 && perFolio(4096) < 1);
});
