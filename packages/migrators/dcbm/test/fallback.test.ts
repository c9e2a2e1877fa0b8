import test from "ava";
import { Cost, EINVAL, EIO, ENODEV, ENOMEM, ETIMEDOUT } from "@mmemu/kernel";
import { PAGE_SIZE } from "@mmemu/mm-core";
import { DMA_MEMCPY, dmaCapMaskOf, dmaengineGetDmaDevice, isErrPtr } from "@mmemu/dmaengine";
import { kernelLog } from "@mmemu/offload-api";
import { anon, intact, migrateRange, onNode, rig, type Rig } from "./rig.js";

/**
 * Every error path of folios_copy_dma() returns an error, and the core copies the batch on the CPU:
 * no data is lost, the pages end on the target node, every channel and mapping is given back.
 */
function batchRc(r: Rig, fn: () => void): number[] {
  const rcs: number[] = [];
  const off = r.m.core.trace.on("migrate_offload_copy_end", (x) => rcs.push(x.fields["rc"] as number));
  fn();
  off();
  return rcs;
}

function cpuCopied(r: Rig, fn: () => void): number {
  const units = new Float64Array(64);
  const prev = r.m.core.cost;
  r.m.core.cost = { charge: (k, n) => { units[k]! += n; prev.charge(k, n); } };
  fn();
  r.m.core.cost = prev;
  return units[Cost.CPU_COPY_PAGE]!;
}

function nothingHeld(t: { is: (a: unknown, b: unknown, m?: string) => void }, r: Rig): void {
  for (const p of r.pts) t.is(p.dma.chan.clientCount, 0, `${p.dma.chan.name} released`);
  t.is(r.dma.map.stats.tablesMapped, r.dma.map.stats.tablesUnmapped, "every mapped table unmapped");
}

test("no DMA channel at all: -ENODEV, CPU copy, no data lost (and, as in the driver, no warning or failure count)", (t) => {
  const r = rig({ engines: 0, channels: 4 });
  const addr = anon(r, 8 * PAGE_SIZE);
  let rcs: number[] = [];
  const pages = cpuCopied(r, () => { rcs = batchRc(r, () => t.is(migrateRange(r, addr, 8 * PAGE_SIZE, 1), 0)); });
  t.deepEqual(rcs, [-ENODEV]);
  t.is(pages, 8);
  t.true(intact(r, addr, 8 * PAGE_SIZE));
  t.true(onNode(r, addr, 8 * PAGE_SIZE, 1));
  t.is(r.dcbm.foliosFailures, 0);
  t.is(kernelLog(r.m.core).grep("falling back").length, 0);
  t.deepEqual(r.checker.checkQuiescent(), []);
});

test("every channel held by another client: -ENODEV and CPU copy", (t) => {
  const r = rig({ engines: 2, channels: 2 });
  for (let i = 0; i < 2; i++) if (isErrPtr(r.dma.dmaRequestChanByMask(dmaCapMaskOf(DMA_MEMCPY), "hog"))) throw new Error("setup");
  const addr = anon(r, 4 * PAGE_SIZE);
  t.deepEqual(batchRc(r, () => t.is(migrateRange(r, addr, 4 * PAGE_SIZE, 1), 0)), [-ENODEV]);
  t.true(intact(r, addr, 4 * PAGE_SIZE));
});

test("allocation failure in the copy path: -ENOMEM, CPU copy", (t) => {
  const r = rig({ channels: 2 });
  const addr = anon(r, 8 * PAGE_SIZE);
  r.m.core.faults.arm("dcbm.alloc_fail", { times: 1, space: 1 }); // the sg tables, after kcalloc succeeded
  t.deepEqual(batchRc(r, () => t.is(migrateRange(r, addr, 8 * PAGE_SIZE, 1), 0)), [-ENOMEM]);
  t.is(r.dcbm.foliosFailures, 8);
  t.true(intact(r, addr, 8 * PAGE_SIZE));
  nothingHeld(t, r);
});

test("DMA mapping failure on the second channel: everything already mapped is undone, -EIO, CPU copy", (t) => {
  const r = rig({ channels: 4 });
  const addr = anon(r, 16 * PAGE_SIZE);
  r.m.core.faults.arm("dma.map_fail", { times: 1, space: 2 });
  let pages = 0;
  t.deepEqual(batchRc(r, () => { pages = cpuCopied(r, () => t.is(migrateRange(r, addr, 16 * PAGE_SIZE, 1), 0)); }), [-EIO]);
  t.is(pages, 16, "V5: the whole batch");
  t.is(r.dcbm.foliosFailures, 16);
  t.is(r.dcbm.foliosMigrated, 0);
  t.is(r.dcbm.stats.mapFailures, 1);
  t.true(intact(r, addr, 16 * PAGE_SIZE));
  nothingHeld(t, r);
  t.regex(kernelLog(r.m.core).lines().at(-1)!.text, /^dcbm: DMA copy failed \(-5\), falling back to CPU$/);
  t.deepEqual(r.checker.checkQuiescent(), []);
});

test("an IOMMU that merges the two sides into different segment counts: -EINVAL, CPU copy", (t) => {
  const r = rig({ channels: 1, engines: 1, iommu: "translate" });
  // A 64 KiB segment boundary: the source table starts aligned, the destination table right after
  // it does not, so 12 pages merge into one source segment but two destination segments.
  const dev = r.pts[0]!.hw.dev;
  dev.segBoundary = 65536;
  const addr = anon(r, 12 * PAGE_SIZE);
  t.deepEqual(batchRc(r, () => t.is(migrateRange(r, addr, 12 * PAGE_SIZE, 1), 0)), [-EINVAL]);
  t.is(r.dcbm.stats.nentsMismatch, 1);
  t.true(intact(r, addr, 12 * PAGE_SIZE));
  t.is(dmaengineGetDmaDevice(r.pts[0]!.dma.chan).liveMappings, 0);
});

test("with the IOMMU merging both sides alike, one descriptor per merged segment moves the batch", (t) => {
  const r = rig({ channels: 1, engines: 1, iommu: "translate" });
  const addr = anon(r, 32 * PAGE_SIZE);
  const rec = r.m.core.trace.record(["dmae_prep"]);
  t.deepEqual(batchRc(r, () => t.is(migrateRange(r, addr, 32 * PAGE_SIZE, 1), 0)), [0]);
  rec.stop();
  t.deepEqual(rec.records.map((x) => x.fields["len"]), [65536, 65536], "32 pages in two 64 KiB segments");
  t.true(intact(r, addr, 32 * PAGE_SIZE));
});

test("an engine that hangs: the 10 s wait times out, -ETIMEDOUT, channels torn down, CPU copy", (t) => {
  const r = rig({ channels: 2 });
  const addr = anon(r, 8 * PAGE_SIZE);
  r.m.core.faults.arm("ptdma.hang", { times: 1 });
  const t0 = r.m.sim.now;
  let rcs: number[] = [];
  const pages = cpuCopied(r, () => { rcs = batchRc(r, () => t.is(migrateRange(r, addr, 8 * PAGE_SIZE, 1), 0)); });
  t.deepEqual(rcs, [-ETIMEDOUT]);
  t.true(r.m.sim.now - t0 >= 10_000_000_000, "waited the full timeout in virtual time");
  t.is(pages, 8);
  t.is(r.dcbm.stats.timeouts, 1);
  t.is(r.dcbm.foliosFailures, 8);
  t.true(intact(r, addr, 8 * PAGE_SIZE));
  t.true(onNode(r, addr, 8 * PAGE_SIZE, 1));
  nothingHeld(t, r);
  t.deepEqual(r.checker.checkQuiescent(), []);
});

test("the fallback warning is ratelimited: 10 per 5 s, then 'callbacks suppressed'", (t) => {
  const r = rig({ channels: 1 });
  const addr = anon(r, PAGE_SIZE);
  r.m.core.faults.arm("dma.map_fail");
  for (let i = 0; i < 15; i++) t.is(migrateRange(r, addr, PAGE_SIZE, i % 2 === 0 ? 1 : 0), 0);
  const log = kernelLog(r.m.core);
  t.is(log.grep("falling back to CPU").length, 10);
  t.is(r.dcbm.foliosFailures, 15);
  r.m.sim.advance(6_000_000_000);
  t.is(migrateRange(r, addr, PAGE_SIZE, 1), 0);
  t.is(log.grep("folios_copy_dma: 5 callbacks suppressed").length, 1);
  t.is(log.grep("falling back to CPU").length, 11);
  t.true(intact(r, addr, PAGE_SIZE));
});

test("PTDMA descriptor allocation failure at prep: -EIO, every channel released, CPU copy, no data lost", (t) => {
  const r = rig({ channels: 4 });
  const addr = anon(r, 16 * PAGE_SIZE);
  // The third prep of the batch fails, as pt_alloc_dma_desc()'s GFP_NOWAIT allocation can.
  r.m.core.faults.arm("ptdma.desc_alloc", { times: 1, space: 2 });
  let rcs: number[] = [];
  const pages = cpuCopied(r, () => { rcs = batchRc(r, () => t.is(migrateRange(r, addr, 16 * PAGE_SIZE, 1), 0)); });
  t.deepEqual(rcs, [-EIO]);
  t.is(pages, 16, "the whole batch is copied by the CPU (V5 all-or-nothing)");
  t.true(intact(r, addr, 16 * PAGE_SIZE));
  t.true(onNode(r, addr, 16 * PAGE_SIZE, 1));
  t.is(r.dcbm.foliosFailures, 16);
  nothingHeld(t, r);
  t.deepEqual(r.checker.checkQuiescent(), []);
});
