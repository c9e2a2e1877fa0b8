import { PAGE_SIZE } from "@mmemu/mm-core";
import { IOMMU_HUGE_PAGE } from "./io-pgtable.js";

/**
 * A device's IOVA space. Mirrors struct iova_domain and alloc_iova_fast() in drivers/iommu/iova.c,
 * reduced to a bump allocator: addresses are never reused, so a device that keeps using a stale bus
 * address after unmap always faults instead of hitting a later mapping.
 */
export class IovaDomain {
  /** The next free IOVA. */
  next: number;

  /** `base` is the first IOVA handed out: a positive multiple of the page size (checked by the caller). */
  constructor(base: number) {
    this.next = base;
  }

  /**
   * Allocate `bytes` of IOVA space below `limit` (the device's DMA mask), or -1 if it would pass it.
   * iommu_dma_alloc_iova() allocates size-aligned (alloc_iova_fast(..., size_aligned = true)), so a
   * mapping of 2 MiB or more starts on a 2 MiB boundary and a 2 MiB folio in it can get a 2 MiB IOMMU
   * page (see iotlbPages()); the alignment is capped at that largest page modelled, smaller mappings
   * are page aligned.
   */
  alloc(bytes: number, limit: number): number {
    const size = Math.ceil(bytes / PAGE_SIZE) * PAGE_SIZE;
    const align = size >= IOMMU_HUGE_PAGE ? IOMMU_HUGE_PAGE : PAGE_SIZE;
    const base = Math.ceil(this.next / align) * align;
    if (base + size > limit) return -1;
    this.next = base + size;
    return base;
  }
}
