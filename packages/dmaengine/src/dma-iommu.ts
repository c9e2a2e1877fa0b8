import { Cost, ENOMEM } from "@mmemu/kernel";
import { PAGE_SIZE } from "@mmemu/mm-core";
import { IOMMU_HUGE_PAGE, iommuPagesOf } from "@mmemu/platform";
import type { Device, DmaMapService } from "./dma-mapping.js";
import type { SgTable } from "./scatterlist.js";

/**
 * The DMA API's IOMMU glue of drivers/iommu/dma-iommu.c: a mapping gets a fresh IOVA range from the
 * device's allocator, each entry is written into the domain's IO page table, and adjacent entries
 * merge into one DMA segment when they are IOVA-contiguous, the merged length stays within
 * max_seg_size and the segment does not cross the segment boundary (which can merge the two sides of
 * a copy differently, spec 4.7, 5.6). The domain, allocator and page table are @mmemu/platform's.
 * These return the RAM pages counted as mapped or unmapped; the caller keeps the API's statistics.
 */

/** `bytes` rounded up to whole pages (a non-negative integer; a mask where it stays in int32 range). */
function pageRoundUp(bytes: number): number {
  return bytes <= 0x7fff_f000 ? ((bytes + PAGE_SIZE - 1) & -PAGE_SIZE) : Math.ceil(bytes / PAGE_SIZE) * PAGE_SIZE;
}

/**
 * IOMMU pages (page-table leaves) of one mapped entry that spans `ramPages` 4 KiB pages: below 2 MiB
 * that many 4 KiB leaves, since the entry's IOVA and physical address share their offset in the page
 * (iommuPagesOf() without its divisions: two entries per folio of a 1 GiB batch).
 */
function entryIoPages(iova: number, phys: number, len: number, ramPages: number): number {
  return len > 0 && len < IOMMU_HUGE_PAGE ? ramPages : iommuPagesOf(iova, phys, len);
}

/** Mirrors iommu_dma_map_sg(): sets sgt.nents; the pages mapped, or -ENOMEM when IOVA space runs out. */
export function iommuDmaMapSg(map: DmaMapService, dev: Device, sgt: SgTable): number {
  const n = sgt.origNents;
  const dom = dev.domain;
  let total = 0;
  for (let i = 0; i < n; i++) total += pageRoundUp(sgt.offset[i]! + sgt.length[i]!);
  const base = dev.iovad.alloc(total, dev.dmaLimit);
  if (base < 0) return -ENOMEM;
  dom.reserve(n);
  let pages = 0;
  let cursor = base;
  let seg = -1;
  // The segment boundary window [winStart, winEnd) of the current segment: a merge must end
  // inside it (the same test as comparing both ends' floor(x / seg_boundary), without dividing).
  let winStart = 0;
  let winEnd = 0;
  let ioPages = 0;
  for (let i = 0; i < n; i++) {
    const off = sgt.offset[i]!;
    const len = sgt.length[i]!;
    const pfn = sgt.pfn[i]!;
    const phys = pfn * PAGE_SIZE + off;
    const iova = cursor + off;
    cursor += pageRoundUp(off + len);
    dom.map(iova, phys, len);
    // refPages(phys, len) with the page numbers taken from pfn and the offset, not from dividing phys.
    const ram = map.iommu.refPfns(pfn + Math.floor(off / PAGE_SIZE), pfn + Math.floor((off + len - 1) / PAGE_SIZE), 1);
    pages += ram;
    ioPages += entryIoPages(iova, phys, len, ram);
    if (seg >= 0) {
      const segStart = sgt.dmaAddress[seg]!;
      const segLen = sgt.dmaLength[seg]!;
      const contiguous = segStart + segLen === iova;
      const fits = segLen + len <= dev.maxSegSize;
      const last = iova + len - 1;
      const sameWindow = last >= winStart && last < winEnd;
      if (contiguous && fits && sameWindow) {
        sgt.dmaLength[seg] = segLen + len;
        continue;
      }
    }
    seg++;
    sgt.dmaAddress[seg] = iova;
    sgt.dmaLength[seg] = len;
    winStart = Math.floor(iova / dev.segBoundary) * dev.segBoundary;
    winEnd = winStart + dev.segBoundary;
  }
  sgt.nents = seg + 1;
  map.charge(Cost.IOMMU_MAP_PAGE, ioPages);
  return pages;
}

/** Mirrors iommu_dma_unmap_sg(): unmap every entry of a table mapped by iommuDmaMapSg(); returns the pages unmapped. */
export function iommuDmaUnmapSg(map: DmaMapService, dev: Device, sgt: SgTable): number {
  const n = sgt.origNents;
  const dom = dev.domain;
  // The table's entries were mapped at increasing IOVAs inside one block, so their ranges sit
  // next to each other in the sorted range list: check each, then drop them in one splice.
  const i0 = dom.find(sgt.dmaAddress[0]!);
  let seg = 0;
  let segOff = 0;
  let ioPages = 0;
  let pages = 0;
  for (let i = 0; i < n; i++) {
    if (segOff >= sgt.dmaLength[seg]!) {
      seg++;
      segOff = 0;
    }
    const iova = sgt.dmaAddress[seg]! + segOff;
    if (i0 < 0 || i0 + i >= dom.iovaCount || dom.iovaStart[i0 + i] !== iova) throw new Error(`dma_unmap_sgtable(${dev.name}): no IOVA mapping at 0x${iova.toString(16)}`);
    const phys = dom.iovaPhys[i0 + i]!;
    const len = dom.iovaLen[i0 + i]!;
    const ram = map.iommu.refPages(phys, len, -1);
    pages += ram;
    ioPages += entryIoPages(iova, phys, len, ram);
    segOff += sgt.length[i]!;
  }
  dom.unmapRanges(i0, n);
  map.charge(Cost.IOMMU_MAP_PAGE, ioPages);
  return pages;
}

/** Mirrors iommu_dma_map_page(): the IOVA of [phys, phys + size) at `offset` into its page, or -1 when IOVA space runs out. */
export function iommuDmaMapPage(map: DmaMapService, dev: Device, phys: number, offset: number, size: number): number {
  const dom = dev.domain;
  const base = dev.iovad.alloc(offset + size, dev.dmaLimit);
  if (base < 0) return -1;
  const bus = base + offset;
  dom.map(bus, phys, size);
  map.charge(Cost.IOMMU_MAP_PAGE, iommuPagesOf(bus, phys, size));
  return bus;
}

/** Mirrors iommu_dma_unmap_page(): returns the pages unmapped. */
export function iommuDmaUnmapPage(map: DmaMapService, dev: Device, addr: number, size: number): number {
  const dom = dev.domain;
  if (!dom.unmap(addr)) throw new Error(`dma_unmap_page(${dev.name}): no mapping at IOVA 0x${addr.toString(16)}`);
  if (dom.lkAvail !== size) throw new Error(`dma_unmap_page(${dev.name}): size ${size} differs from the mapped ${dom.lkAvail}`);
  const pages = map.iommu.refPages(dom.lkPhys, size, -1);
  map.charge(Cost.IOMMU_MAP_PAGE, iommuPagesOf(addr, dom.lkPhys, size));
  return pages;
}
