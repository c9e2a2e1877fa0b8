import type { KernelCore, Tracepoint } from "@mmemu/kernel";
import { isAligned, PAGE_SIZE, type PhysMem } from "@mmemu/mm-core";
import type { IommuDomain } from "./io-pgtable.js";
import { iotlbPages } from "./iotlb.js";

/** How a device's DMA addresses reach memory. */
export type IommuMode = "off" | "passthrough" | "translate";
export const IOMMU_MODES: readonly IommuMode[] = ["off", "passthrough", "translate"];

/** What the IOMMU sees of a device (the kernel's struct device carries more). */
export interface DmaMaster {
  readonly name: string;
  readonly iommu: IommuMode;
  /** The device's domain; consulted only when `iommu` is "translate". */
  readonly domain: IommuDomain;
}

/** Host memory outside the emulated RAM pages that devices reach at a bus address (a coherent buffer). */
export interface CoherentBuffer {
  /** The device-visible (bus) address. */
  readonly busAddr: number;
  readonly size: number;
  readonly bytes: Uint8Array;
  readonly view: DataView;
}

/** What devices did to memory (one record, every counter listed up front). */
export interface IommuStats {
  /** Device writes that landed in memory no live mapping covered (use after unmap, no IOMMU). */
  unmappedWrites: number;
  /** Device reads of memory no live mapping covered. */
  unmappedReads: number;
  /** Device accesses the IOMMU refused (no translation). */
  iommuFaults: number;
}

/**
 * The IOMMU and host memory as device models see them: bus addresses translate through a device's
 * domain (or pass straight through), a device copy moves page contents in {@link PhysMem}, and an
 * access with no translation faults (the AMD IOMMU's IO_PAGE_FAULT event). The kernel side that fills
 * the domains is the DMA-mapping API in @mmemu/dmaengine; it also keeps {@link refPages}, a per-page
 * count of live mappings (what CONFIG_DMA_API_DEBUG records) that the device side checks accesses
 * against when no IOMMU would catch a use after unmap.
 */
export class Iommu {
  readonly mem: PhysMem;
  /** End of physical memory: bus addresses at or above it are not RAM. */
  readonly physEnd: number;
  readonly stats: IommuStats = { unmappedWrites: 0, unmappedReads: 0, iommuFaults: 0 };
  readonly tpUnmapped: Tracepoint<{ dev: string; addr: number; len: number; write: boolean }>;
  readonly tpIommuFault: Tracepoint<{ dev: string; iova: number; write: boolean }>;
  /** Live DMA mappings per pfn, allocated at the first mapping. */
  private mapCount: Uint16Array | null = null;
  /** Coherent buffers, sorted by bus address. */
  private readonly coherent: CoherentBuffer[] = [];
  // translate() results without allocating.
  private lkPhys = 0;

  constructor(core: KernelCore, mem: PhysMem) {
    this.mem = mem;
    this.physEnd = mem.totalPages * PAGE_SIZE;
    this.tpUnmapped = core.trace.define("dma_unmapped_access");
    this.tpIommuFault = core.trace.define("iommu_fault");
  }

  private counts(): Uint16Array {
    return (this.mapCount ??= new Uint16Array(this.mem.totalPages));
  }

  /** Count pages of [phys, phys+len) as mapped (+1) or unmapped (-1); returns the pages counted. */
  refPages(phys: number, len: number, delta: 1 | -1): number {
    return this.refPfns(Math.floor(phys / PAGE_SIZE), Math.floor((phys + len - 1) / PAGE_SIZE), delta);
  }

  /** As refPages, for pfns first..last (small integers: no boxing on the hot path). */
  refPfns(first: number, last: number, delta: 1 | -1): number {
    const c = this.counts();
    if (delta === 1 && this.mem.dmaObserver !== null) this.mem.dmaObserver.dmaMapped(first, last);
    for (let p = first; p <= last; p++) {
      const v = c[p]! + delta;
      if (v < 0) throw new Error(`DMA unmap of pfn ${p}, which has no live mapping (double unmap?)`);
      c[p] = v;
    }
    return last - first + 1;
  }

  /** Make a coherent buffer reachable at its bus address (buffers come at increasing addresses). */
  addCoherent(buf: CoherentBuffer): void {
    this.coherent.push(buf);
  }

  /** Stop a coherent buffer being reachable; false if it was not. */
  removeCoherent(buf: CoherentBuffer): boolean {
    const i = this.coherent.indexOf(buf);
    if (i < 0) return false;
    this.coherent.splice(i, 1);
    return true;
  }

  /** The coherent buffer holding bus address `bus`, or null. */
  coherentAt(bus: number): CoherentBuffer | null {
    // Buffers are handed out at increasing bus addresses, so the list is sorted: binary search.
    const list = this.coherent;
    let lo = 0;
    let hi = list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const b = list[mid]!;
      if (bus < b.busAddr) hi = mid - 1;
      else if (bus >= b.busAddr + b.size) lo = mid + 1;
      else return b;
    }
    return null;
  }

  /** Resolve one bus address; sets lkPhys. */
  private lookup(dev: DmaMaster, bus: number): boolean {
    if (dev.iommu === "translate") {
      const dom = dev.domain;
      if (!dom.lookup(bus)) return false;
      this.lkPhys = dom.lkPhys;
      return true;
    }
    if (bus < 0 || bus >= this.physEnd) return false;
    this.lkPhys = bus;
    return true;
  }

  /** The physical address behind a bus address, or -1 if it does not translate. */
  translate(dev: DmaMaster, bus: number): number {
    return this.lookup(dev, bus) ? this.lkPhys : -1;
  }

  /** The IOTLB entries a device access to [bus, bus + len) touches (see iotlbPages()); 0 without a translating IOMMU. */
  iotlbPages(dev: DmaMaster, bus: number, len: number): number {
    if (dev.iommu !== "translate") return 0;
    return iotlbPages(dev.domain, bus, len);
  }

  /**
   * Move `len` bytes from bus address `src` to bus address `dst` as the device would. Returns the
   * bytes moved; fewer than `len` means a translation fault stopped the transfer there. Without an
   * IOMMU, touching pages with no live mapping is counted and traced (use after unmap).
   */
  deviceCopy(dev: DmaMaster, dst: number, src: number, len: number): number {
    if (len === 0) return 0;
    if (dev.iommu !== "translate") {
      if (src < 0 || dst < 0 || src + len > this.physEnd || dst + len > this.physEnd) {
        this.stats.iommuFaults++;
        if (this.tpIommuFault.enabled) this.tpIommuFault.emit({ dev: dev.name, iova: src + len > this.physEnd ? src : dst, write: dst + len > this.physEnd });
        return 0;
      }
      if (this.mapCount !== null) {
        this.checkMapped(dev, src, len, false);
        this.checkMapped(dev, dst, len, true);
      }
      this.devWrite(dev, dst, src, len);
      return len;
    }
    // A transfer crosses the mapped ranges of each side in order (a table's entries are mapped at
    // increasing IOVAs), so each side keeps the index of its current range and tries the next one
    // before searching: one binary search per side instead of one per 4 KiB chunk. A chunk that
    // continues a run physically on both sides, where the run ends on a page boundary on both, is
    // copied with it in one copyPhys() (which splits at the same page boundaries, so the pages land
    // the same), and a fault copies what preceded it first.
    const dom = dev.domain;
    const starts = dom.iovaStart;
    const lens = dom.iovaLen;
    const physs = dom.iovaPhys;
    let si = -1;
    let di = -1;
    let runDst = 0;
    let runSrc = 0;
    let runLen = 0;
    /** The run ends on a page boundary on both sides (kept as it grows: tested per run, not per chunk). */
    let runEndsOnPage = false;
    let done = 0;
    while (done < len) {
      const s = src + done;
      si = dom.findFrom(s, si);
      if (si < 0) return this.faultAfterRun(dev, runDst, runSrc, runLen, s, false, done);
      const d = dst + done;
      di = dom.findFrom(d, di);
      if (di < 0) return this.faultAfterRun(dev, runDst, runSrc, runLen, d, true, done);
      const sOff = s - starts[si]!;
      const dOff = d - starts[di]!;
      const chunk = Math.min(len - done, lens[si]! - sOff, lens[di]! - dOff);
      const sPhys = physs[si]! + sOff;
      const dPhys = physs[di]! + dOff;
      if (runLen > 0 && runEndsOnPage && runSrc + runLen === sPhys && runDst + runLen === dPhys) {
        runLen += chunk;
        runEndsOnPage = chunk % PAGE_SIZE === 0;
      } else {
        if (runLen > 0) this.devWrite(dev, runDst, runSrc, runLen);
        runDst = dPhys;
        runSrc = sPhys;
        runLen = chunk;
        runEndsOnPage = isAligned(sPhys + chunk, PAGE_SIZE) && isAligned(dPhys + chunk, PAGE_SIZE);
      }
      done += chunk;
    }
    if (runLen > 0) this.devWrite(dev, runDst, runSrc, runLen);
    return done;
  }

  /** The device writes `len` bytes at physical `dst` from physical `src` (what an attached checker hears). */
  private devWrite(dev: DmaMaster, dst: number, src: number, len: number): void {
    if (this.mem.dmaObserver !== null) this.mem.dmaObserver.deviceWrite(dev.name, dst, len);
    this.mem.copyPhys(dst, src, len);
  }

  /** An IOMMU fault part way through a copy: the bytes before it land, then the fault is reported. */
  private faultAfterRun(dev: DmaMaster, runDst: number, runSrc: number, runLen: number, iova: number, write: boolean, done: number): number {
    if (runLen > 0) this.devWrite(dev, runDst, runSrc, runLen);
    return this.iommuFault(dev, iova, write, done);
  }

  private iommuFault(dev: DmaMaster, iova: number, write: boolean, done: number): number {
    this.stats.iommuFaults++;
    if (this.tpIommuFault.enabled) this.tpIommuFault.emit({ dev: dev.name, iova, write });
    return done;
  }

  private checkMapped(dev: DmaMaster, phys: number, len: number, write: boolean): void {
    const c = this.mapCount!;
    const first = Math.floor(phys / PAGE_SIZE);
    const last = Math.floor((phys + len - 1) / PAGE_SIZE);
    for (let p = first; p <= last; p++) {
      if (c[p] === 0) {
        if (write) this.stats.unmappedWrites++;
        else this.stats.unmappedReads++;
        if (this.tpUnmapped.enabled) this.tpUnmapped.emit({ dev: dev.name, addr: phys, len, write });
        return;
      }
    }
  }
}
