import test from "ava";
import { EINVAL, EIO, KernelCore } from "@mmemu/kernel";
import { PAGE_SIZE, PhysMem } from "@mmemu/mm-core";
import {
  DMA_FROM_DEVICE, DMA_TO_DEVICE, DmaEngine, SgTable, dmaAllocCoherent, dmaMapPage, dmaMapSgtable, dmaMappingError,
  dmaSetMaskAndCoherent, dmaUnmapPage, dmaUnmapSgtable, sgAllocTable, sgDmaAddress, sgDmaLen, sgSetPage,
  type DeviceOptions,
} from "@mmemu/dmaengine";

function setup(devOpts: DeviceOptions = {}) {
  const core = new KernelCore();
  const mem = new PhysMem([{ id: 0, pages: 512, cpus: 1 }, { id: 1, pages: 512, cpus: 1 }]);
  const engine = new DmaEngine({ core, mem });
  return { core, mem, engine, dev: engine.createDevice("dev0", { dmaMaskBits: 48, ...devOpts }) };
}

function table(core: KernelCore, pfns: number[], pagesEach = 1): SgTable {
  const sgt = new SgTable(core);
  if (sgAllocTable(sgt, pfns.length) !== 0) throw new Error("alloc");
  pfns.forEach((pfn, i) => sgSetPage(sgt, i, pfn, pagesEach * PAGE_SIZE, 0));
  return sgt;
}

test("without an IOMMU bus address = physical address and nothing merges", (t) => {
  const { core, dev } = setup();
  const sgt = table(core, [10, 11, 12]);
  t.is(dmaMapSgtable(dev, sgt, DMA_TO_DEVICE), 0);
  t.is(sgt.nents, 3);
  t.deepEqual([0, 1, 2].map((i) => sgDmaAddress(sgt, i)), [10, 11, 12].map((p) => p * PAGE_SIZE));
  dmaUnmapSgtable(dev, sgt, DMA_TO_DEVICE);
  t.is(sgt.nents, 0);
});

test("a buffer above the DMA mask fails to map without an IOMMU (-EIO)", (t) => {
  const core = new KernelCore();
  const mem = new PhysMem([{ id: 0, pages: 8192, cpus: 1 }]); // 32 MiB
  const engine = new DmaEngine({ core, mem });
  const dev = engine.createDevice("narrow", { dmaMaskBits: 32 });
  t.is(dmaSetMaskAndCoherent(dev, 22), -EIO, "masks below 24 bits are refused");
  t.is(dmaSetMaskAndCoherent(dev, 24), 0); // reaches 16 MiB = pfn 4096
  t.is(dmaMapSgtable(dev, table(core, [4095]), DMA_TO_DEVICE), 0);
  t.is(dmaMapSgtable(dev, table(core, [4096 + 5]), DMA_TO_DEVICE), -EIO);
  t.is(engine.map.stats.mapFailures, 1);
  const viaIommu = engine.createDevice("iommu", { dmaMaskBits: 24, iommu: "translate" });
  t.is(dmaMapSgtable(viaIommu, table(core, [4096 + 5]), DMA_TO_DEVICE), 0, "an IOMMU remaps it below the mask");
});

test("the IOMMU merges IOVA-contiguous entries up to max_seg_size", (t) => {
  const { core, dev } = setup({ iommu: "translate", maxSegSize: 4 * PAGE_SIZE });
  const sgt = table(core, [100, 7, 300, 42, 9, 250]); // scattered physical pages
  t.is(dmaMapSgtable(dev, sgt, DMA_TO_DEVICE), 0);
  t.is(sgt.nents, 2);
  t.is(sgDmaLen(sgt, 0), 4 * PAGE_SIZE);
  t.is(sgDmaLen(sgt, 1), 2 * PAGE_SIZE);
  t.is(sgDmaAddress(sgt, 1), sgDmaAddress(sgt, 0) + 4 * PAGE_SIZE);
  dmaUnmapSgtable(dev, sgt, DMA_TO_DEVICE);
  t.is(dev.domain.iovaCount, 0);
});

test("the IOMMU can merge the source and destination differently (src.nents != dst.nents)", (t) => {
  // Segments may not cross a 16 KiB IOVA boundary. The source gets IOVA pages 0..2 of a window, the
  // destination pages 3..5, which straddle a boundary.
  const { core, dev } = setup({ iommu: "translate", segBoundary: 4 * PAGE_SIZE, iovaBase: 4 * PAGE_SIZE, maxSegSize: 1 << 20 });
  const src = table(core, [10, 20, 30]);
  const dst = table(core, [400, 410, 420]);
  t.is(dmaMapSgtable(dev, src, DMA_TO_DEVICE), 0);
  t.is(dmaMapSgtable(dev, dst, DMA_FROM_DEVICE), 0);
  t.is(src.nents, 1);
  t.is(dst.nents, 2);
});

test("a device copy through the IOMMU follows scattered pages; a stale IOVA faults", (t) => {
  const { core, mem, engine, dev } = setup({ iommu: "translate" });
  mem.fillPages(10, 1, 0xa);
  mem.fillPages(20, 1, 0xb);
  const src = table(core, [10, 20]);
  const dst = table(core, [400, 300]);
  dmaMapSgtable(dev, src, DMA_TO_DEVICE);
  dmaMapSgtable(dev, dst, DMA_FROM_DEVICE);
  t.is(src.nents, 1);
  const s = sgDmaAddress(src, 0);
  const d = sgDmaAddress(dst, 0);
  t.is(engine.map.iommu.deviceCopy(dev, d, s, 2 * PAGE_SIZE), 2 * PAGE_SIZE);
  t.is(mem.digest(400), mem.digest(10));
  t.is(mem.digest(300), mem.digest(20));
  dmaUnmapSgtable(dev, dst, DMA_FROM_DEVICE);
  t.is(engine.map.iommu.deviceCopy(dev, d, s, 2 * PAGE_SIZE), 0, "the destination IOVA is gone");
  t.is(engine.map.iommu.stats.iommuFaults, 1);
});

test("without an IOMMU a device write after unmap lands and is counted", (t) => {
  const { mem, engine, dev } = setup();
  mem.fillPages(10, 1, 0xa);
  const s = dmaMapPage(dev, 10, 0, PAGE_SIZE, DMA_TO_DEVICE);
  const d = dmaMapPage(dev, 400, 0, PAGE_SIZE, DMA_FROM_DEVICE);
  dmaUnmapPage(dev, d, PAGE_SIZE, DMA_FROM_DEVICE);
  const rec = engine.core.trace.record(["dma_unmapped_access"]);
  t.is(engine.map.iommu.deviceCopy(dev, d, s, PAGE_SIZE), PAGE_SIZE);
  t.is(mem.digest(400), mem.digest(10), "the late write corrupts whatever reuses the page");
  t.is(engine.map.iommu.stats.unmappedWrites, 1);
  t.is(rec.records.length, 1);
});

test("the map_fail fault point fails dma_map_sgtable and dma_map_page", (t) => {
  const { core, dev } = setup();
  core.faults.arm("dma.map_fail", { times: 2 });
  t.is(dmaMapSgtable(dev, table(core, [1, 2]), DMA_TO_DEVICE), -EIO);
  t.true(dmaMappingError(dev, dmaMapPage(dev, 3, 0, PAGE_SIZE, DMA_TO_DEVICE)));
  t.is(dmaMapSgtable(dev, table(core, [1, 2]), DMA_TO_DEVICE), 0, "disarmed after two failures");
});

test("mapping misuse gives clear errors", (t) => {
  const { core, dev, engine } = setup();
  const sgt = table(core, [1]);
  t.throws(() => dmaMapSgtable(dev, sgt, 7), { message: /direction must be/ });
  t.is(dmaMapSgtable(dev, sgt, DMA_TO_DEVICE), 0);
  t.is(dmaMapSgtable(dev, sgt, DMA_TO_DEVICE), -EINVAL, "already mapped");
  t.throws(() => dmaUnmapSgtable(dev, sgt, DMA_FROM_DEVICE), { message: /direction DMA_FROM_DEVICE differs/ });
  const other = engine.createDevice("other");
  t.throws(() => dmaUnmapSgtable(other, sgt, DMA_TO_DEVICE), { message: /mapped for dev0/ });
  t.is(sgAllocTable(new SgTable(), 0), -EINVAL);
  t.throws(() => sgSetPage(sgt, 5, 1, 4096, 0), { message: /entry 5 is outside/ });
  t.throws(() => engine.createDevice("x", { iommu: "bogus" as never }), { message: /iommu must be one of/ });
  t.throws(() => engine.createDevice("x", { numaNode: 9 }), { message: /NUMA node 9/ });
});

test("coherent buffers are aligned to their size and live above RAM", (t) => {
  const { dev, engine } = setup();
  const ring = dmaAllocCoherent(dev, 1024)!;
  const big = dmaAllocCoherent(dev, 8192)!;
  t.is(ring.busAddr % 4096, 0);
  t.is(big.busAddr % 8192, 0);
  t.true(ring.busAddr >= 1024 * PAGE_SIZE);
  t.is(engine.map.iommu.coherentAt(big.busAddr + 100), big);
});
