import { PAGE_SIZE } from "@mmemu/mm-core";

/** The largest IOMMU page modelled (a 2 MiB leaf PDE): see iotlbPages(). */
export const IOMMU_HUGE_PAGE = 2 * 1024 * 1024;

/**
 * A device's IOMMU domain with its I/O page table. Mirrors struct protection_domain of
 * drivers/iommu/amd with the v1 page-table ops of drivers/iommu/amd/io_pgtable.c (map_pages,
 * unmap_pages, iova_to_phys), kept as the list of mapped ranges (IOVA, phys, length) sorted by IOVA
 * instead of a radix tree: the IOVA allocator hands out increasing addresses, so mapping appends.
 * Which IOMMU pages (leaves) a range takes is {@link iommuPagesOf}.
 */
export class IommuDomain {
  // The first `iovaCount` slots of these typed arrays are the live ranges (they grow by doubling),
  // so mapping and unmapping a 1 GiB batch (a range per 4 KiB page) allocate and box nothing.
  iovaStart = new Float64Array(16);
  iovaPhys = new Float64Array(16);
  iovaLen = new Float64Array(16);
  /** Live IOVA ranges. */
  iovaCount = 0;
  /** The result of {@link lookup} or {@link unmap} (no allocation): the physical address... */
  lkPhys = 0;
  /** ...and the bytes contiguous from there. */
  lkAvail = 0;

  /** Make room for `n` more ranges (one growth for a whole table instead of several). */
  reserve(n: number): void {
    if (this.iovaCount + n > this.iovaStart.length) this.grow(this.iovaCount + n);
  }

  /** Mirrors iommu_map(): map [iova, iova + len) to phys. Ranges are added in increasing IOVA order. */
  map(iova: number, phys: number, len: number): void {
    const i = this.iovaCount;
    if (i === this.iovaStart.length) this.grow(0);
    this.iovaStart[i] = iova;
    this.iovaPhys[i] = phys;
    this.iovaLen[i] = len;
    this.iovaCount = i + 1;
  }

  /** Mirrors iommu_unmap() of one mapping: drop the range starting at `iova`, its phys and length in lkPhys/lkAvail; false if none. */
  unmap(iova: number): boolean {
    const i = this.find(iova);
    if (i < 0 || this.iovaStart[i] !== iova) return false;
    this.lkPhys = this.iovaPhys[i]!;
    this.lkAvail = this.iovaLen[i]!;
    this.unmapRanges(i, 1);
    return true;
  }

  /** Remove ranges i..i+n-1, keeping the rest in order (a table's entries sit next to each other). */
  unmapRanges(i: number, n: number): void {
    const end = this.iovaCount;
    this.iovaStart.copyWithin(i, i + n, end);
    this.iovaPhys.copyWithin(i, i + n, end);
    this.iovaLen.copyWithin(i, i + n, end);
    this.iovaCount = end - n;
  }

  /**
   * Index of the range holding `iova`, or -1. The last two ranges found (a descriptor's source and
   * destination tables) and the ones after them are tried first; a binary search otherwise.
   */
  find(iova: number): number {
    const h = this.hitAt(this.lastHit0, iova);
    if (h >= 0) return h;
    const h1 = this.hitAt(this.lastHit1, iova);
    if (h1 >= 0) {
      this.lastHit1 = this.lastHit0;
      this.lastHit0 = h1;
      return h1;
    }
    const s = this.iovaStart;
    let lo = 0;
    let hi = this.iovaCount - 1;
    let ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (s[mid]! <= iova) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (ans >= 0 && iova < s[ans]! + this.iovaLen[ans]!) {
      this.lastHit1 = this.lastHit0;
      this.lastHit0 = ans;
      return ans;
    }
    return -1;
  }

  /** Hints for {@link find}: indices only, checked against the live ranges before use. */
  private lastHit0 = 0;
  private lastHit1 = 0;

  /**
   * Range `hint` or the one after it when it is the one the binary search would give (the last
   * starting at or below `iova`, and holding it); else -1.
   */
  private hitAt(hint: number, iova: number): number {
    const s = this.iovaStart;
    const n = this.iovaCount;
    for (let i = hint; i <= hint + 1 && i < n; i++) {
      if (s[i]! <= iova && iova < s[i]! + this.iovaLen[i]! && (i + 1 === n || s[i + 1]! > iova)) return i;
    }
    return -1;
  }

  /** The range holding `bus`, trying range `hint` and the one after it before a binary search; -1 if none. */
  findFrom(bus: number, hint: number): number {
    if (hint >= 0) {
      const starts = this.iovaStart;
      for (let i = hint; i <= hint + 1 && i < this.iovaCount; i++) {
        const st = starts[i]!;
        if (st <= bus && bus < st + this.iovaLen[i]!) return i;
      }
    }
    return this.find(bus);
  }

  /** Mirrors iova_to_phys(): sets lkPhys/lkAvail (bytes mapped contiguously from there); false if unmapped. */
  lookup(iova: number): boolean {
    const i = this.find(iova);
    if (i < 0) return false;
    const off = iova - this.iovaStart[i]!;
    this.lkPhys = this.iovaPhys[i]! + off;
    this.lkAvail = this.iovaLen[i]! - off;
    return true;
  }

  /** Grow the range arrays: at least double, and to `need` ranges if that is more. */
  private grow(need: number): void {
    const size = Math.max(this.iovaStart.length * 2, need);
    const grow = (a: Float64Array) => {
      const b = new Float64Array(size);
      b.set(a);
      return b;
    };
    this.iovaStart = grow(this.iovaStart);
    this.iovaPhys = grow(this.iovaPhys);
    this.iovaLen = grow(this.iovaLen);
  }
}

/** 4 KiB pages touched by [a, b), b > a. */
function smallPages(a: number, b: number): number {
  return Math.floor((b - 1) / PAGE_SIZE) - Math.floor(a / PAGE_SIZE) + 1;
}

/**
 * IOMMU pages touched by [a, b) inside one mapped range [s, e) whose physical start is `phys`: 2 MiB
 * pages where the range is 2 MiB aligned on both sides, 4 KiB pages elsewhere (see iotlbPages()).
 */
export function ioPagesIn(a: number, b: number, s: number, e: number, phys: number): number {
  if (b <= a) return 0;
  if (e - s >= IOMMU_HUGE_PAGE && (s - phys) % IOMMU_HUGE_PAGE === 0) {
    const hs = Math.ceil(s / IOMMU_HUGE_PAGE) * IOMMU_HUGE_PAGE;
    const he = Math.floor(e / IOMMU_HUGE_PAGE) * IOMMU_HUGE_PAGE;
    if (he > hs && b > hs && a < he) {
      const ha = a > hs ? a : hs;
      const hb = b < he ? b : he;
      let n = Math.floor((hb - 1) / IOMMU_HUGE_PAGE) - Math.floor(ha / IOMMU_HUGE_PAGE) + 1;
      if (a < ha) n += smallPages(a, ha);
      if (hb < b) n += smallPages(hb, b);
      return n;
    }
  }
  return smallPages(a, b);
}

/** IOMMU pages (page-table leaves) that map one range: what iommu_map()/iommu_unmap() write. */
export function iommuPagesOf(iova: number, phys: number, len: number): number {
  return ioPagesIn(iova, iova + len, iova, iova + len, phys);
}
