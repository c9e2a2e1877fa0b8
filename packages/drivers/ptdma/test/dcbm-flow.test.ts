import test from "ava";
import { EINVAL, EIO } from "@mmemu/kernel";
import { dcbmCopyBatch, type FolioPair } from "../bench/dcbm-flow.js";
import { ZEN3_2S_PTDMA_PLACEMENTS } from "@mmemu/ptdma";
import { rig, type Rig } from "./helpers.js";

const PAGES_PER_NODE = 1 << 15; // 128 MiB per node

function folios(r: Rig, count: number, nr: number): FolioPair[] {
  const out: FolioPair[] = [];
  for (let i = 0; i < count; i++) {
    const f = { srcPfn: i * nr, dstPfn: PAGES_PER_NODE + i * nr, nr };
    r.mem.fillPages(f.srcPfn, nr, 0x1000 + i);
    r.mem.fillPages(f.dstPfn, nr, 0xdead);
    out.push(f);
  }
  return out;
}

function copied(r: Rig, fs: FolioPair[]): number {
  let bad = 0;
  for (const f of fs) for (let p = 0; p < f.nr; p++) if (r.mem.digest(f.dstPfn + p) !== r.mem.digest(f.srcPfn + p)) bad++;
  return bad;
}

for (const channels of [1, 4, 16]) {
  for (const [label, nr, count] of [["4K", 1, 2048], ["2M", 512, 48]] as const) {
    test(`dcbm flow over ${channels} PTDMA channel(s), ${count} ${label} folios: every destination digest matches`, (t) => {
      const r = rig({ placements: ZEN3_2S_PTDMA_PLACEMENTS, pagesPerNode: PAGES_PER_NODE });
      const fs = folios(r, count, nr);
      const t0 = r.core.sim.now;
      t.is(dcbmCopyBatch(r.core, r.engine, fs, channels), 0);
      const ns = r.core.sim.now - t0;
      t.is(copied(r, fs), 0);
      const used = r.pts.filter((p) => p.hw.stats.descriptors > 0).length;
      t.is(used, channels);
      t.is(r.pts.reduce((s, p) => s + p.hw.stats.descriptors, 0), count);
      t.is(r.engine.map.stats.tablesMapped, r.engine.map.stats.tablesUnmapped, "everything unmapped");
      t.true(r.pts.every((p) => p.dma.chan.clientCount === 0), "every channel released");
      t.log(`${((count * nr * 4096) / ns).toFixed(2)} GB/s (virtual), ${ns} ns`);
    });
  }
}

test("dcbm flow: more channels are faster for 2M folios until the cross-socket link saturates", (t) => {
  const rate: number[] = [];
  for (const ch of [1, 4, 16]) {
    const r = rig({ placements: ZEN3_2S_PTDMA_PLACEMENTS, pagesPerNode: PAGES_PER_NODE });
    const fs = folios(r, 48, 512);
    const t0 = r.core.sim.now;
    dcbmCopyBatch(r.core, r.engine, fs, ch);
    rate.push((48 * 512 * 4096) / (r.core.sim.now - t0));
  }
  t.true(rate[0]! > 12 && rate[0]! < 14.1, `1 ch ${rate[0]}`);
  t.true(rate[1]! > 3 * rate[0]!, `4 ch ${rate[1]}`);
  t.true(rate[2]! <= 65.01 && rate[2]! > 55, `16 ch ${rate[2]} (xGMI 65 GB/s)`);
});

test("dcbm flow failure paths: map failure, uneven IOMMU merging, and a hang all return an error with everything released", (t) => {
  {
    const r = rig({ placements: ZEN3_2S_PTDMA_PLACEMENTS.slice(0, 4), pagesPerNode: PAGES_PER_NODE });
    const fs = folios(r, 64, 1);
    r.core.faults.arm("dma.map_fail", { space: 3, times: 1 });
    t.is(dcbmCopyBatch(r.core, r.engine, fs, 4), -EIO);
    t.is(r.engine.map.stats.tablesMapped, r.engine.map.stats.tablesUnmapped);
    t.true(r.pts.every((p) => p.dma.chan.clientCount === 0));
  }
  {
    const r = rig({ placements: ZEN3_2S_PTDMA_PLACEMENTS.slice(0, 1), pagesPerNode: PAGES_PER_NODE, iommu: "translate" });
    r.pts[0]!.dma.dev.segBoundary = 4 * 4096;
    const fs = folios(r, 3, 1); // src IOVA pages 256..258 merge; dst 259..261 cross a 16 KiB boundary
    t.is(dcbmCopyBatch(r.core, r.engine, fs, 1), -EINVAL);
    t.is(r.pts[0]!.hw.stats.descriptors, 0);
  }
  {
    const r = rig({ placements: ZEN3_2S_PTDMA_PLACEMENTS.slice(0, 2), pagesPerNode: PAGES_PER_NODE });
    const fs = folios(r, 16, 1);
    r.core.faults.arm("ptdma.hang", { space: 3, times: 1 });
    const t0 = r.core.sim.now;
    t.is(dcbmCopyBatch(r.core, r.engine, fs, 2), -EIO);
    t.true(r.core.sim.now - t0 >= 10_000_000_000, "after the 10 s wait");
    t.true(copied(r, fs) > 0, "the batch must be redone by the CPU");
    t.true(r.pts.every((p) => p.dma.chan.clientCount === 0));
  }
});
