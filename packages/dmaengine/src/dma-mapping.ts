import { Cost, EINVAL, EIO, ENOMEM, type FaultPoint, type KernelCore, type Tracepoint } from "@mmemu/kernel";
import { PAGE_SIZE, type PhysMem } from "@mmemu/mm-core";
import type { SgTable } from "./scatterlist.js";

/**
 * The DMA mapping API of include/linux/dma-mapping.h and kernel/dma/ (dma-direct, and dma-iommu for
 * the IOMMU case), reduced to what copy offload needs: per-device DMA masks, dma_map_sgtable() /
 * dma_map_page() and their unmaps, coherent allocations for rings and status blocks, and the device
 * side — translating a bus address and moving bytes — so that a device write after unmap is seen.
 *
 * Without an IOMMU (or in passthrough) a bus address is the physical address, nothing merges, and a
 * buffer above the device's mask fails to map (no swiotlb bouncing is modelled). With a translating
 * IOMMU each table gets a fresh IOVA range (never reused, so a stale address always faults), and
 * adjacent entries merge into one segment when they are IOVA-contiguous, the merged length stays
 * within max_seg_size and the segment does not cross the segment boundary — which can merge the two
 * sides of a copy differently (spec 4.7, 5.6).
 */

// enum dma_data_direction
export const DMA_BIDIRECTIONAL = 0;
export const DMA_TO_DEVICE = 1;
export const DMA_FROM_DEVICE = 2;
export const DMA_NONE = 3;
const DIR_NAMES = ["DMA_BIDIRECTIONAL", "DMA_TO_DEVICE", "DMA_FROM_DEVICE", "DMA_NONE"];

// DMA attributes (include/linux/dma-mapping.h)
export const DMA_ATTR_WEAK_ORDERING = 1 << 1;
export const DMA_ATTR_WRITE_COMBINE = 1 << 2;
export const DMA_ATTR_NO_KERNEL_MAPPING = 1 << 4;
export const DMA_ATTR_SKIP_CPU_SYNC = 1 << 5;

/** The largest IOMMU page modelled (a 2 MiB leaf PDE): see DmaMapService.iotlbPages(). */
export const IOMMU_HUGE_PAGE = 2 * 1024 * 1024;

/** DMA_MAPPING_ERROR: what dma_map_page() returns on failure. */
export const DMA_MAPPING_ERROR = -1;

/** How a device's DMA addresses reach memory. */
export type IommuMode = "off" | "passthrough" | "translate";
const IOMMU_MODES: readonly IommuMode[] = ["off", "passthrough", "translate"];

export interface DeviceOptions {
  /** NUMA node of the device (dev_to_node()). @default 0 */
  readonly numaNode?: number;
  /** DMA mask width in bits, as DMA_BIT_MASK(n). @default 32 (the kernel's default mask) */
  readonly dmaMaskBits?: number;
  /** @default "off" */
  readonly iommu?: IommuMode;
  /** dma_get_max_seg_size(): the longest merged segment. @default 65536 (the kernel default) */
  readonly maxSegSize?: number;
  /** dma_get_seg_boundary() + 1: merged segments never cross a multiple of it. @default 2^32 */
  readonly segBoundary?: number;
  /** First IOVA handed out by the device's IOMMU domain. @default 1 MiB */
  readonly iovaBase?: number;
}

/** Mirrors the DMA-relevant part of struct device. */
export class Device {
  readonly name: string;
  readonly numaNode: number;
  readonly iommu: IommuMode;
  dmaMaskBits: number;
  /** 2^dmaMaskBits: the first address the device cannot reach. */
  dmaLimit: number;
  maxSegSize: number;
  segBoundary: number;
  readonly dma: DmaMapService;
  // IOMMU domain: mapped IOVA ranges sorted by start (the bump allocator appends in order).
  nextIova: number;
  // The first `iovaCount` slots of these typed arrays are the live ranges (they grow by doubling),
  // so mapping and unmapping a 1 GiB batch (a range per 4 KiB page) allocate and box nothing.
  iovaStart = new Float64Array(16);
  iovaPhys = new Float64Array(16);
  iovaLen = new Float64Array(16);
  /** Live IOVA ranges. */
  iovaCount = 0;
  /** Live mappings (tables and pages). */
  liveMappings = 0;

  constructor(dma: DmaMapService, name: string, opts: DeviceOptions) {
    this.dma = dma;
    this.name = name;
    this.numaNode = opts.numaNode ?? 0;
    this.iommu = opts.iommu ?? "off";
    if (!IOMMU_MODES.includes(this.iommu)) throw new RangeError(`device ${name}: iommu must be one of ${IOMMU_MODES.join(", ")}, got ${JSON.stringify(opts.iommu)}`);
    const bits = opts.dmaMaskBits ?? 32;
    if (!Number.isInteger(bits) || bits < 24 || bits > 64) throw new RangeError(`device ${name}: dmaMaskBits must be an integer in 24..64, got ${bits}`);
    this.dmaMaskBits = bits;
    this.dmaLimit = 2 ** bits;
    this.maxSegSize = opts.maxSegSize ?? 65536;
    if (!Number.isInteger(this.maxSegSize) || this.maxSegSize < PAGE_SIZE) throw new RangeError(`device ${name}: maxSegSize must be an integer >= ${PAGE_SIZE}, got ${this.maxSegSize}`);
    this.segBoundary = opts.segBoundary ?? 2 ** 32;
    if (!isPow2(this.segBoundary) || this.segBoundary < PAGE_SIZE) throw new RangeError(`device ${name}: segBoundary must be a power of two >= ${PAGE_SIZE}, got ${this.segBoundary}`);
    this.nextIova = opts.iovaBase ?? 1 << 20;
    if (!Number.isInteger(this.nextIova) || this.nextIova % PAGE_SIZE !== 0 || this.nextIova <= 0) throw new RangeError(`device ${name}: iovaBase must be a positive multiple of ${PAGE_SIZE}, got ${opts.iovaBase}`);
  }
}

function isPow2(x: number): boolean {
  return Number.isInteger(x) && x > 0 && 2 ** Math.round(Math.log2(x)) === x;
}

/** A dma_alloc_coherent() buffer: CPU and device see the same bytes. */
export interface DmaCoherent {
  readonly dev: Device;
  /** The device-visible (bus) address. */
  readonly busAddr: number;
  readonly size: number;
  readonly bytes: Uint8Array;
  readonly view: DataView;
}

/** Counters of the mapping layer (one record, every counter listed up front). */
export interface DmaMapStats {
  tablesMapped: number;
  tablesUnmapped: number;
  pagesMapped: number;
  pagesUnmapped: number;
  mapFailures: number;
  /** Device writes that landed in memory no live mapping covered (use after unmap, no IOMMU). */
  unmappedWrites: number;
  /** Device reads of memory no live mapping covered. */
  unmappedReads: number;
  /** Device accesses the IOMMU refused (no translation). */
  iommuFaults: number;
}

/**
 * The per-machine mapping service behind the dma_* functions: it owns the page map counts used to
 * spot accesses after unmap, the coherent allocations, and the mapping fault point.
 */
export class DmaMapService {
  readonly core: KernelCore;
  readonly mem: PhysMem;
  readonly stats: DmaMapStats = { tablesMapped: 0, tablesUnmapped: 0, pagesMapped: 0, pagesUnmapped: 0, mapFailures: 0, unmappedWrites: 0, unmappedReads: 0, iommuFaults: 0 };
  /** Fault point: dma_map_sgtable()/dma_map_page() fail. */
  readonly mapFail: FaultPoint;
  readonly tpMap: Tracepoint<{ dev: string; nents: number; mapped: number; dir: string; ret: number }>;
  readonly tpUnmap: Tracepoint<{ dev: string; nents: number; dir: string }>;
  readonly tpUnmapped: Tracepoint<{ dev: string; addr: number; len: number; write: boolean }>;
  readonly tpIommuFault: Tracepoint<{ dev: string; iova: number; write: boolean }>;
  /** Every device created, in creation order (the leak checks walk them). */
  readonly devices: Device[] = [];
  /** Live DMA mappings per pfn, allocated at the first mapping. */
  private mapCount: Uint16Array | null = null;
  private readonly physEnd: number;
  private readonly coherent: DmaCoherent[] = [];
  private coherentNext: number;
  // translate() results without allocating.
  private lkPhys = 0;
  private lkAvail = 0;

  constructor(core: KernelCore, mem: PhysMem) {
    this.core = core;
    this.mem = mem;
    this.physEnd = mem.totalPages * PAGE_SIZE;
    // Coherent buffers get bus addresses above RAM (rounded to 1 GiB) so they never alias mapped pages.
    this.coherentNext = Math.ceil((this.physEnd + 1) / 2 ** 30) * 2 ** 30;
    this.mapFail = core.faults.define("dma.map_fail", "dma_map_sgtable()/dma_map_page() fail (IOVA or swiotlb space exhausted)");
    this.tpMap = core.trace.define("dma_map_sg");
    this.tpUnmap = core.trace.define("dma_unmap_sg");
    this.tpUnmapped = core.trace.define("dma_unmapped_access");
    this.tpIommuFault = core.trace.define("iommu_fault");
  }

  /** Create a device (the struct device a provider maps against). */
  createDevice(name: string, opts: DeviceOptions = {}): Device {
    const dev = new Device(this, name, opts);
    if (this.mem.node(dev.numaNode) === undefined) throw new RangeError(`device ${name}: NUMA node ${dev.numaNode} does not exist`);
    this.devices.push(dev);
    return dev;
  }

  private counts(): Uint16Array {
    return (this.mapCount ??= new Uint16Array(this.mem.totalPages));
  }

  private charge(kind: number, units: number): void {
    if (!this.core.sim.inEvent && units > 0) this.core.cost.charge(kind as never, units);
  }

  /** @internal count pages of [phys, phys+len) as mapped (+1) or unmapped (-1). */
  refPages(phys: number, len: number, delta: 1 | -1): number {
    return this.refPfns(Math.floor(phys / PAGE_SIZE), Math.floor((phys + len - 1) / PAGE_SIZE), delta);
  }

  /** @internal as refPages, for pfns first..last (small integers: no boxing on the hot path). */
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

  /**
   * @internal allocate `bytes` of IOVA space, or -1 if it would pass the mask. iommu_dma_alloc_iova()
   * allocates size-aligned (alloc_iova_fast(..., size_aligned = true)), so a mapping of 2 MiB or more
   * starts on a 2 MiB boundary and a 2 MiB folio in it can get a 2 MiB IOMMU page (see iotlbPages());
   * the alignment is capped at that largest page modelled, smaller mappings are page aligned.
   */
  allocIova(dev: Device, bytes: number): number {
    const size = Math.ceil(bytes / PAGE_SIZE) * PAGE_SIZE;
    const align = size >= IOMMU_HUGE_PAGE ? IOMMU_HUGE_PAGE : PAGE_SIZE;
    const base = Math.ceil(dev.nextIova / align) * align;
    if (base + size > dev.dmaLimit) return -1;
    dev.nextIova = base + size;
    return base;
  }

  /** @internal record an IOVA → phys range. */
  addRange(dev: Device, iova: number, phys: number, len: number): void {
    const i = dev.iovaCount;
    if (i === dev.iovaStart.length) growRanges(dev);
    dev.iovaStart[i] = iova;
    dev.iovaPhys[i] = phys;
    dev.iovaLen[i] = len;
    dev.iovaCount = i + 1;
  }

  /** @internal drop the range starting at `iova`; returns its phys and length through lk*, false if none. */
  removeRange(dev: Device, iova: number): boolean {
    const i = this.findRange(dev, iova);
    if (i < 0 || dev.iovaStart[i] !== iova) return false;
    this.lkPhys = dev.iovaPhys[i]!;
    this.lkAvail = dev.iovaLen[i]!;
    dropRanges(dev, i, 1);
    return true;
  }

  private findRange(dev: Device, iova: number): number {
    const s = dev.iovaStart;
    let lo = 0;
    let hi = dev.iovaCount - 1;
    let ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (s[mid]! <= iova) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (ans >= 0 && iova < s[ans]! + dev.iovaLen[ans]!) return ans;
    return -1;
  }

  /** Device side: resolve one bus address; sets lkPhys/lkAvail (bytes contiguous from there). */
  private lookup(dev: Device, bus: number): boolean {
    if (dev.iommu === "translate") {
      const i = this.findRange(dev, bus);
      if (i < 0) return false;
      const off = bus - dev.iovaStart[i]!;
      this.lkPhys = dev.iovaPhys[i]! + off;
      this.lkAvail = dev.iovaLen[i]! - off;
      return true;
    }
    if (bus < 0 || bus >= this.physEnd) return false;
    this.lkPhys = bus;
    this.lkAvail = this.physEnd - bus;
    return true;
  }

  /**
   * Device side: the IOMMU translations (IOTLB entries) a device access to [bus, bus + len) touches, 0
   * without a translating IOMMU. A streaming copy reuses none, so each is a miss and a page walk.
   * Every mapped entry is one physically contiguous range; the part of it that is 2 MiB aligned on
   * both sides (IOVA ≡ phys mod 2 MiB) is mapped with 2 MiB pages, one translation per 2 MiB, and the
   * rest costs one per 4 KiB page. AMD's v1 table can map a naturally aligned 16 KiB..1 MiB folio with
   * one replicated large PTE (AMD_IOMMU_PGSIZES has every power of two), but the published 1-channel
   * figures (16K..1M folios at 2.6-4.6 GB/s, 2M at 12.7) show them translated per 4 KiB, as an IOTLB
   * that only holds 4 KiB, 2 MiB and 1 GiB entries would; physically adjacent folios are not coalesced.
   * Unmapped parts of the range count nothing (the access faults there anyway).
   */
  iotlbPages(dev: Device, bus: number, len: number): number {
    if (dev.iommu !== "translate" || len <= 0) return 0;
    const starts = dev.iovaStart;
    const lens = dev.iovaLen;
    const phys = dev.iovaPhys;
    let i = this.findRange(dev, bus);
    if (i < 0) return 0;
    const end = bus + len;
    let a = bus;
    let n = 0;
    while (a < end && i < dev.iovaCount) {
      const s = starts[i]!;
      if (s >= end) break;
      const e = s + lens[i]!;
      if (a < s) a = s;
      const b = e < end ? e : end;
      if (b > a) {
        n += ioPagesIn(a, b, s, e, phys[i]!);
        a = b;
      }
      i++;
    }
    return n;
  }

  /** Device side: the physical address behind a bus address, or -1 if it does not translate. */
  translate(dev: Device, bus: number): number {
    return this.lookup(dev, bus) ? this.lkPhys : -1;
  }

  /**
   * Device side: move `len` bytes from bus address `src` to bus address `dst` as the device would.
   * Returns the bytes moved; fewer than `len` means a translation fault stopped the transfer there.
   * Without an IOMMU, touching pages with no live mapping is counted and traced (use after unmap).
   */
  deviceCopy(dev: Device, dst: number, src: number, len: number): number {
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
    const starts = dev.iovaStart;
    const lens = dev.iovaLen;
    const physs = dev.iovaPhys;
    let si = -1;
    let di = -1;
    let runDst = 0;
    let runSrc = 0;
    let runLen = 0;
    /** The run ends on a page boundary on both sides (kept as it grows: a float modulo per run, not per chunk). */
    let runEndsOnPage = false;
    let done = 0;
    while (done < len) {
      const s = src + done;
      si = this.rangeFrom(dev, s, si);
      if (si < 0) return this.faultAfterRun(dev, runDst, runSrc, runLen, s, false, done);
      const d = dst + done;
      di = this.rangeFrom(dev, d, di);
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
        runEndsOnPage = (sPhys + chunk) % PAGE_SIZE === 0 && (dPhys + chunk) % PAGE_SIZE === 0;
      }
      done += chunk;
    }
    if (runLen > 0) this.devWrite(dev, runDst, runSrc, runLen);
    return done;
  }

  /** The device writes `len` bytes at physical `dst` from physical `src` (what an attached checker hears). */
  private devWrite(dev: Device, dst: number, src: number, len: number): void {
    if (this.mem.dmaObserver !== null) this.mem.dmaObserver.deviceWrite(dev.name, dst, len);
    this.mem.copyPhys(dst, src, len);
  }

  /** An IOMMU fault part way through a copy: the bytes before it land, then the fault is reported. */
  private faultAfterRun(dev: Device, runDst: number, runSrc: number, runLen: number, iova: number, write: boolean, done: number): number {
    if (runLen > 0) this.devWrite(dev, runDst, runSrc, runLen);
    return this.iommuFault(dev, iova, write, done);
  }

  /** The range holding `bus`, trying range `hint` and the one after it before a binary search; -1 if none. */
  private rangeFrom(dev: Device, bus: number, hint: number): number {
    if (hint >= 0) {
      const starts = dev.iovaStart;
      for (let i = hint; i <= hint + 1 && i < dev.iovaCount; i++) {
        const st = starts[i]!;
        if (st <= bus && bus < st + dev.iovaLen[i]!) return i;
      }
    }
    return this.findRange(dev, bus);
  }

  private iommuFault(dev: Device, iova: number, write: boolean, done: number): number {
    this.stats.iommuFaults++;
    if (this.tpIommuFault.enabled) this.tpIommuFault.emit({ dev: dev.name, iova, write });
    return done;
  }

  private checkMapped(dev: Device, phys: number, len: number, write: boolean): void {
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

  /** The coherent buffer holding bus address `bus`, or null. */
  coherentAt(bus: number): DmaCoherent | null {
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

  /** @internal dma_alloc_coherent() */
  allocCoherent(dev: Device, size: number): DmaCoherent | null {
    if (!Number.isInteger(size) || size < 1 || size > 1 << 26) throw new RangeError(`dma_alloc_coherent(${dev.name}): size must be an integer in 1..64 MiB, got ${size}`);
    let align = PAGE_SIZE;
    while (align < size) align *= 2;
    const bus = Math.ceil(this.coherentNext / align) * align;
    if (bus + size > dev.dmaLimit) return null;
    this.coherentNext = bus + size;
    const bytes = new Uint8Array(size);
    const buf: DmaCoherent = { dev, busAddr: bus, size, bytes, view: new DataView(bytes.buffer) };
    this.coherent.push(buf);
    return buf;
  }

  /** @internal dma_free_coherent() */
  freeCoherent(buf: DmaCoherent): void {
    const i = this.coherent.indexOf(buf);
    if (i < 0) throw new Error(`dma_free_coherent(${buf.dev.name}): buffer at 0x${buf.busAddr.toString(16)} is not allocated`);
    this.coherent.splice(i, 1);
  }

  /** @internal the mapping side of dma_map_sgtable(). */
  mapSg(dev: Device, sgt: SgTable, dir: number): number {
    const n = sgt.origNents;
    let pages = 0;
    for (let i = 0; i < n; i++) {
      const phys = sgt.pfn[i]! * PAGE_SIZE + sgt.offset[i]!;
      if (phys + sgt.length[i]! > this.physEnd) throw new RangeError(`dma_map_sgtable(${dev.name}): entry ${i} [0x${phys.toString(16)}, +${sgt.length[i]}) is outside physical memory`);
    }
    if (this.mapFail.armed && this.mapFail.shouldFail()) return this.failMap(dev, sgt, dir, -EIO);
    if (dev.iommu !== "translate") {
      for (let i = 0; i < n; i++) {
        const phys = sgt.pfn[i]! * PAGE_SIZE + sgt.offset[i]!;
        if (phys + sgt.length[i]! > dev.dmaLimit) return this.failMap(dev, sgt, dir, -EIO);
      }
      for (let i = 0; i < n; i++) {
        const pfn = sgt.pfn[i]!;
        const off = sgt.offset[i]!;
        const len = sgt.length[i]!;
        sgt.dmaAddress[i] = pfn * PAGE_SIZE + off;
        sgt.dmaLength[i] = len;
        pages += this.refPfns(pfn, pfn + Math.floor((off + len - 1) / PAGE_SIZE), 1);
      }
      sgt.nents = n;
    } else {
      let total = 0;
      for (let i = 0; i < n; i++) total += pageRoundUp(sgt.offset[i]! + sgt.length[i]!);
      const base = this.allocIova(dev, total);
      if (base < 0) return this.failMap(dev, sgt, dir, -ENOMEM);
      if (dev.iovaCount + n > dev.iovaStart.length) growRanges(dev, dev.iovaCount + n);
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
        const phys = sgt.pfn[i]! * PAGE_SIZE + off;
        const iova = cursor + off;
        cursor += pageRoundUp(off + len);
        this.addRange(dev, iova, phys, len);
        pages += this.refPages(phys, len, 1);
        ioPages += iommuPagesOf(iova, phys, len);
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
      this.charge(Cost.IOMMU_MAP_PAGE, ioPages);
    }
    sgt.mappedBy = dev;
    sgt.mappedDir = dir;
    dev.liveMappings++;
    this.stats.tablesMapped++;
    this.stats.pagesMapped += pages;
    this.charge(Cost.DMA_MAP_ENTRY, n);
    if (this.tpMap.enabled) this.tpMap.emit({ dev: dev.name, nents: n, mapped: sgt.nents, dir: DIR_NAMES[dir]!, ret: 0 });
    return 0;
  }

  private failMap(dev: Device, sgt: SgTable, dir: number, ret: number): number {
    this.stats.mapFailures++;
    sgt.nents = 0;
    if (this.tpMap.enabled) this.tpMap.emit({ dev: dev.name, nents: sgt.origNents, mapped: 0, dir: DIR_NAMES[dir]!, ret });
    return ret;
  }

  /** @internal the unmapping side of dma_unmap_sgtable(). */
  unmapSg(dev: Device, sgt: SgTable, dir: number): void {
    if (sgt.mappedBy !== dev) throw new Error(`dma_unmap_sgtable(${dev.name}): table is ${sgt.mappedBy === null ? "not mapped" : `mapped for ${sgt.mappedBy.name}`}`);
    if (sgt.mappedDir !== dir) throw new Error(`dma_unmap_sgtable(${dev.name}): direction ${DIR_NAMES[dir]} differs from the mapping's ${DIR_NAMES[sgt.mappedDir]}`);
    const n = sgt.origNents;
    let pages = 0;
    if (dev.iommu === "translate") {
      // The table's entries were mapped at increasing IOVAs inside one block, so their ranges sit
      // next to each other in the sorted range list: check each, then drop them in one splice.
      const i0 = this.findRange(dev, sgt.dmaAddress[0]!);
      let seg = 0;
      let segOff = 0;
      let ioPages = 0;
      for (let i = 0; i < n; i++) {
        if (segOff >= sgt.dmaLength[seg]!) {
          seg++;
          segOff = 0;
        }
        const iova = sgt.dmaAddress[seg]! + segOff;
        if (i0 < 0 || i0 + i >= dev.iovaCount || dev.iovaStart[i0 + i] !== iova) throw new Error(`dma_unmap_sgtable(${dev.name}): no IOVA mapping at 0x${iova.toString(16)}`);
        pages += this.refPages(dev.iovaPhys[i0 + i]!, dev.iovaLen[i0 + i]!, -1);
        ioPages += iommuPagesOf(iova, dev.iovaPhys[i0 + i]!, dev.iovaLen[i0 + i]!);
        segOff += sgt.length[i]!;
      }
      dropRanges(dev, i0, n);
      this.charge(Cost.IOMMU_MAP_PAGE, ioPages);
    } else {
      for (let i = 0; i < n; i++) {
        const pfn = sgt.pfn[i]!;
        pages += this.refPfns(pfn, pfn + Math.floor((sgt.offset[i]! + sgt.length[i]! - 1) / PAGE_SIZE), -1);
      }
    }
    sgt.mappedBy = null;
    sgt.mappedDir = -1;
    sgt.nents = 0;
    dev.liveMappings--;
    this.stats.tablesUnmapped++;
    this.stats.pagesUnmapped += pages;
    this.charge(Cost.DMA_MAP_ENTRY, n);
    if (this.tpUnmap.enabled) this.tpUnmap.emit({ dev: dev.name, nents: n, dir: DIR_NAMES[dir]! });
  }

  /** @internal dma_map_page() */
  mapPage(dev: Device, pfn: number, offset: number, size: number, dir: number): number {
    const phys = pfn * PAGE_SIZE + offset;
    if (!Number.isInteger(phys) || phys < 0 || !Number.isInteger(size) || size < 1 || phys + size > this.physEnd) throw new RangeError(`dma_map_page(${dev.name}): [pfn ${pfn} + ${offset}, +${size}) is not a valid range of physical memory`);
    if (this.mapFail.armed && this.mapFail.shouldFail()) {
      this.stats.mapFailures++;
      return DMA_MAPPING_ERROR;
    }
    let bus = phys;
    let pages: number;
    if (dev.iommu === "translate") {
      const base = this.allocIova(dev, offset + size);
      if (base < 0) {
        this.stats.mapFailures++;
        return DMA_MAPPING_ERROR;
      }
      bus = base + offset;
      this.addRange(dev, bus, phys, size);
      pages = this.refPages(phys, size, 1);
      this.charge(Cost.IOMMU_MAP_PAGE, iommuPagesOf(bus, phys, size));
    } else {
      if (phys + size > dev.dmaLimit) {
        this.stats.mapFailures++;
        return DMA_MAPPING_ERROR;
      }
      pages = this.refPages(phys, size, 1);
    }
    dev.liveMappings++;
    this.stats.pagesMapped += pages;
    this.charge(Cost.DMA_MAP_ENTRY, 1);
    void dir;
    return bus;
  }

  /** @internal dma_unmap_page() */
  unmapPage(dev: Device, addr: number, size: number): void {
    let pages: number;
    if (dev.iommu === "translate") {
      if (!this.removeRange(dev, addr)) throw new Error(`dma_unmap_page(${dev.name}): no mapping at IOVA 0x${addr.toString(16)}`);
      if (this.lkAvail !== size) throw new Error(`dma_unmap_page(${dev.name}): size ${size} differs from the mapped ${this.lkAvail}`);
      pages = this.refPages(this.lkPhys, size, -1);
      this.charge(Cost.IOMMU_MAP_PAGE, iommuPagesOf(addr, this.lkPhys, size));
    } else {
      pages = this.refPages(addr, size, -1);
    }
    dev.liveMappings--;
    this.stats.pagesUnmapped += pages;
    this.charge(Cost.DMA_MAP_ENTRY, 1);
  }
}

/** Grow a device's IOVA range arrays: at least double, and to `need` ranges if that is more. */
function growRanges(dev: Device, need = 0): void {
  const size = Math.max(dev.iovaStart.length * 2, need);
  const grow = (a: Float64Array) => {
    const b = new Float64Array(size);
    b.set(a);
    return b;
  };
  dev.iovaStart = grow(dev.iovaStart);
  dev.iovaPhys = grow(dev.iovaPhys);
  dev.iovaLen = grow(dev.iovaLen);
}

/** Remove ranges i..i+n-1 of a device, keeping the rest in order. */
function dropRanges(dev: Device, i: number, n: number): void {
  const end = dev.iovaCount;
  dev.iovaStart.copyWithin(i, i + n, end);
  dev.iovaPhys.copyWithin(i, i + n, end);
  dev.iovaLen.copyWithin(i, i + n, end);
  dev.iovaCount = end - n;
}

/** `bytes` rounded up to whole pages (a non-negative integer; a mask where it stays in int32 range). */
function pageRoundUp(bytes: number): number {
  return bytes <= 0x7fff_f000 ? ((bytes + PAGE_SIZE - 1) & -PAGE_SIZE) : Math.ceil(bytes / PAGE_SIZE) * PAGE_SIZE;
}

/** 4 KiB pages touched by [a, b), b > a. */
function smallPages(a: number, b: number): number {
  return Math.floor((b - 1) / PAGE_SIZE) - Math.floor(a / PAGE_SIZE) + 1;
}

/**
 * IOMMU pages touched by [a, b) inside one mapped range [s, e) whose physical start is `phys`: 2 MiB
 * pages where the range is 2 MiB aligned on both sides, 4 KiB pages elsewhere (see iotlbPages()).
 */
function ioPagesIn(a: number, b: number, s: number, e: number, phys: number): number {
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
function iommuPagesOf(iova: number, phys: number, len: number): number {
  return ioPagesIn(iova, iova + len, iova, iova + len, phys);
}

function checkDir(fn: string, dir: number): void {
  if (dir !== DMA_BIDIRECTIONAL && dir !== DMA_TO_DEVICE && dir !== DMA_FROM_DEVICE) throw new RangeError(`${fn}: direction must be DMA_BIDIRECTIONAL, DMA_TO_DEVICE or DMA_FROM_DEVICE, got ${dir}`);
}

/**
 * Mirrors dma_map_sgtable(): map every entry for `dev`; sets sgt.nents (merged segments with an
 * IOMMU). Returns 0, -EINVAL for a bad table, -EIO when an entry is beyond the device's DMA mask (no
 * IOMMU) or the map_fail fault fires, -ENOMEM when IOVA space runs out.
 */
export function dmaMapSgtable(dev: Device, sgt: SgTable, dir: number, attrs = 0): number {
  checkDir("dma_map_sgtable", dir);
  void attrs;
  if (sgt.origNents === 0) return -EINVAL;
  if (sgt.mappedBy !== null) return -EINVAL;
  return dev.dma.mapSg(dev, sgt, dir);
}

/** Mirrors dma_unmap_sgtable(). Unmapping with another device or direction than the mapping throws. */
export function dmaUnmapSgtable(dev: Device, sgt: SgTable, dir: number, attrs = 0): void {
  checkDir("dma_unmap_sgtable", dir);
  void attrs;
  dev.dma.unmapSg(dev, sgt, dir);
}

/** Mirrors dma_map_page(): a bus address, or DMA_MAPPING_ERROR. */
export function dmaMapPage(dev: Device, pfn: number, offset: number, size: number, dir: number): number {
  checkDir("dma_map_page", dir);
  return dev.dma.mapPage(dev, pfn, offset, size, dir);
}

/** Mirrors dma_unmap_page(). */
export function dmaUnmapPage(dev: Device, addr: number, size: number, dir: number): void {
  checkDir("dma_unmap_page", dir);
  dev.dma.unmapPage(dev, addr, size);
}

/** Mirrors dma_mapping_error(). */
export function dmaMappingError(_dev: Device, addr: number): boolean {
  return addr === DMA_MAPPING_ERROR;
}

/** Mirrors dma_set_mask_and_coherent(dev, DMA_BIT_MASK(bits)): 0, or -EIO for an unsupported width. */
export function dmaSetMaskAndCoherent(dev: Device, bits: number): number {
  if (!Number.isInteger(bits) || bits < 24 || bits > 64) return -EIO;
  dev.dmaMaskBits = bits;
  dev.dmaLimit = 2 ** bits;
  return 0;
}

/** Mirrors dma_get_max_seg_size(). */
export function dmaGetMaxSegSize(dev: Device): number {
  return dev.maxSegSize;
}

/** Mirrors dma_set_max_seg_size(): 0, or -EINVAL below one page. */
export function dmaSetMaxSegSize(dev: Device, size: number): number {
  if (!Number.isInteger(size) || size < PAGE_SIZE) return -EINVAL;
  dev.maxSegSize = size;
  return 0;
}

/** Mirrors dma_alloc_coherent(): a buffer both sides see, aligned to its size rounded up to a power of two; null if out of reach of the mask. */
export function dmaAllocCoherent(dev: Device, size: number): DmaCoherent | null {
  return dev.dma.allocCoherent(dev, size);
}

/** Mirrors dma_free_coherent(). */
export function dmaFreeCoherent(dev: Device, buf: DmaCoherent): void {
  if (buf.dev !== dev) throw new Error(`dma_free_coherent(${dev.name}): buffer belongs to ${buf.dev.name}`);
  dev.dma.freeCoherent(buf);
}
