import test from "ava";
import { Cost, KernelCore, type CostKind } from "@mmemu/kernel";
import { PAGE_SIZE, PhysMem } from "@mmemu/mm-core";
import { IOMMU_HUGE_PAGE } from "@mmemu/platform";
import {
  DMA_TO_DEVICE, DmaEngine, SgTable, dmaMapPage, dmaMapSgtable, dmaUnmapSgtable, sgAllocTable,
  sgDmaAddress, sgSetPage, type DeviceOptions,
} from "@mmemu/dmaengine";

/** Two nodes of 8 MiB; a cost meter that counts IOMMU_MAP_PAGE units. */
function setup(devOpts: DeviceOptions = {}) {
  const core = new KernelCore();
  const iommuPages = { n: 0 };
  core.cost = { charge(kind: CostKind, units: number) { if (kind === Cost.IOMMU_MAP_PAGE) iommuPages.n += units; } };
  const mem = new PhysMem([{ id: 0, pages: 2048, cpus: 1 }, { id: 1, pages: 2048, cpus: 1 }]);
  const engine = new DmaEngine({ core, mem });
  return { core, engine, iommuPages, dev: engine.createDevice("dev0", { dmaMaskBits: 48, iommu: "translate", ...devOpts }) };
}

function table(core: KernelCore, pfns: number[], pagesEach: number): SgTable {
  const sgt = new SgTable(core);
  if (sgAllocTable(sgt, pfns.length) !== 0) throw new Error("alloc");
  pfns.forEach((pfn, i) => sgSetPage(sgt, i, pfn, pagesEach * PAGE_SIZE, 0));
  return sgt;
}

test("a 2 MiB folio gets a 2 MiB-aligned IOVA and one IOMMU page; smaller folios one per 4 KiB", (t) => {
  const { core, engine, dev, iommuPages } = setup({ iovaBase: 3 * PAGE_SIZE });
  const huge = table(core, [512, 1024], 512); // two 2 MiB folios, physically 2 MiB aligned
  t.is(dmaMapSgtable(dev, huge, DMA_TO_DEVICE), 0);
  t.is(sgDmaAddress(huge, 0) % IOMMU_HUGE_PAGE, 0, "size-aligned IOVA (iommu_dma_alloc_iova)");
  t.is(iommuPages.n, 2, "iommu_map writes one 2 MiB leaf per folio");
  const bus = sgDmaAddress(huge, 0);
  t.is(engine.map.iommu.iotlbPages(dev, bus, 2 * IOMMU_HUGE_PAGE), 2);
  t.is(engine.map.iommu.iotlbPages(dev, bus + 4096, 8192), 1, "inside one 2 MiB page");
  t.is(engine.map.iommu.iotlbPages(dev, bus + IOMMU_HUGE_PAGE - 4096, 8192), 2, "across two");
  iommuPages.n = 0;
  dmaUnmapSgtable(dev, huge, DMA_TO_DEVICE);
  t.is(iommuPages.n, 2);

  const mid = table(core, [16, 32, 48], 16); // 64 KiB folios: 16 IOTLB entries each
  iommuPages.n = 0;
  t.is(dmaMapSgtable(dev, mid, DMA_TO_DEVICE), 0);
  t.is(iommuPages.n, 48);
  t.is(mid.nents, 3, "64 KiB = max_seg_size: nothing merges");
  t.is(engine.map.iommu.iotlbPages(dev, sgDmaAddress(mid, 0), 64 * 1024), 16);
  t.is(engine.map.iommu.iotlbPages(dev, sgDmaAddress(mid, 0) + 60 * 1024, 8 * 1024), 2, "a range spanning two folios");
});

test("a 2 MiB folio that is not 2 MiB aligned in memory is translated per 4 KiB", (t) => {
  const { core, engine, dev, iommuPages } = setup();
  const odd = table(core, [256], 512);
  t.is(dmaMapSgtable(dev, odd, DMA_TO_DEVICE), 0);
  t.is(iommuPages.n, 512);
  t.is(engine.map.iommu.iotlbPages(dev, sgDmaAddress(odd, 0), IOMMU_HUGE_PAGE), 512);
});

test("dma_map_page of 2 MiB gets a 2 MiB page; without an IOMMU nothing is translated", (t) => {
  const { engine, dev, iommuPages } = setup();
  const bus = dmaMapPage(dev, 1536, 0, IOMMU_HUGE_PAGE, DMA_TO_DEVICE);
  t.is(bus % IOMMU_HUGE_PAGE, 0);
  t.is(iommuPages.n, 1);
  t.is(engine.map.iommu.iotlbPages(dev, bus, IOMMU_HUGE_PAGE), 1);
  const plain = engine.createDevice("plain", { dmaMaskBits: 48 });
  t.is(engine.map.iommu.iotlbPages(plain, 0, IOMMU_HUGE_PAGE), 0);
});

test("an entry at an offset in its page takes one 4 KiB IOMMU page per RAM page it spans, mapped and unmapped", (t) => {
  const { core, dev, iommuPages } = setup();
  const sgt = new SgTable(core);
  t.is(sgAllocTable(sgt, 3), 0);
  sgSetPage(sgt, 0, 100, PAGE_SIZE, 100); // crosses into page 101: 2 pages
  sgSetPage(sgt, 1, 200, 200, PAGE_SIZE - 100); // the last 100 bytes of 200 and the first 100 of 201: 2
  sgSetPage(sgt, 2, 300, 1, 0); // one byte: 1
  t.is(dmaMapSgtable(dev, sgt, DMA_TO_DEVICE), 0);
  t.is(iommuPages.n, 5, "iommu_map leaves: the 4 KiB pages each entry spans");
  iommuPages.n = 0;
  dmaUnmapSgtable(dev, sgt, DMA_TO_DEVICE);
  t.is(iommuPages.n, 5, "iommu_unmap clears the same leaves");
});
