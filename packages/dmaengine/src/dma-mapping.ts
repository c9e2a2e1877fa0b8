import { Cost, EINVAL, EIO, type FaultPoint, type KernelCore, type Tracepoint } from "@mmemu/kernel";
import { PAGE_SIZE, type PhysMem } from "@mmemu/mm-core";
import { IOMMU_MODES, Iommu, IommuDomain, IovaDomain, type CoherentBuffer, type DmaMaster, type IommuMode } from "@mmemu/platform";
import { iommuDmaMapPage, iommuDmaMapSg, iommuDmaUnmapPage, iommuDmaUnmapSg } from "./dma-iommu.js";
import type { SgTable } from "./scatterlist.js";

/**
 * The DMA mapping API of include/linux/dma-mapping.h and kernel/dma/ (dma-direct, and dma-iommu for
 * the IOMMU case), reduced to what copy offload needs: per-device DMA masks, dma_map_sgtable() /
 * dma_map_page() and their unmaps, and coherent allocations for rings and status blocks.
 *
 * Without an IOMMU (or in passthrough) a bus address is the physical address (dma-direct), nothing
 * merges, and a buffer above the device's mask fails to map (no swiotlb bouncing is modelled). With a
 * translating IOMMU the work goes to the dma-iommu glue (dma-iommu.ts), which fills the device's
 * domain in @mmemu/platform: a fresh IOVA range per mapping (never reused, so a stale address always
 * faults) and merged segments. Device models reach memory through the platform's {@link Iommu}, which
 * also sees a device write after unmap.
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

/** DMA_MAPPING_ERROR: what dma_map_page() returns on failure. */
export const DMA_MAPPING_ERROR = -1;

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
export class Device implements DmaMaster {
  readonly name: string;
  readonly numaNode: number;
  readonly iommu: IommuMode;
  dmaMaskBits: number;
  /** 2^dmaMaskBits: the first address the device cannot reach. */
  dmaLimit: number;
  maxSegSize: number;
  segBoundary: number;
  readonly dma: DmaMapService;
  /** The IOMMU domain (iommu_get_dma_domain()); used only when `iommu` is "translate". */
  readonly domain: IommuDomain;
  /** The IOVA space of the domain's DMA cookie (iommu_dma_cookie.iovad), which dma-iommu allocates from. */
  readonly iovad: IovaDomain;
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
    const iovaBase = opts.iovaBase ?? 1 << 20;
    if (!Number.isInteger(iovaBase) || iovaBase % PAGE_SIZE !== 0 || iovaBase <= 0) throw new RangeError(`device ${name}: iovaBase must be a positive multiple of ${PAGE_SIZE}, got ${opts.iovaBase}`);
    this.domain = new IommuDomain();
    this.iovad = new IovaDomain(iovaBase);
  }
}

function isPow2(x: number): boolean {
  return Number.isInteger(x) && x > 0 && 2 ** Math.round(Math.log2(x)) === x;
}

/** A dma_alloc_coherent() buffer: CPU and device see the same bytes. */
export interface DmaCoherent extends CoherentBuffer {
  readonly dev: Device;
}

/** Counters of the mapping layer (one record, every counter listed up front). */
export interface DmaMapStats {
  tablesMapped: number;
  tablesUnmapped: number;
  pagesMapped: number;
  pagesUnmapped: number;
  mapFailures: number;
}

/**
 * The per-machine mapping service behind the dma_* functions: it owns the coherent allocations and
 * the mapping fault point, and maps through the platform's {@link Iommu} (which keeps the per-page
 * mapping counts that spot device accesses after unmap).
 */
export class DmaMapService {
  readonly core: KernelCore;
  readonly mem: PhysMem;
  /** The platform IOMMU devices reach memory through. */
  readonly iommu: Iommu;
  readonly stats: DmaMapStats = { tablesMapped: 0, tablesUnmapped: 0, pagesMapped: 0, pagesUnmapped: 0, mapFailures: 0 };
  /** Fault point: dma_map_sgtable()/dma_map_page() fail. */
  readonly mapFail: FaultPoint;
  readonly tpMap: Tracepoint<{ dev: string; nents: number; mapped: number; dir: string; ret: number }>;
  readonly tpUnmap: Tracepoint<{ dev: string; nents: number; dir: string }>;
  /** Every device created, in creation order (the leak checks walk them). */
  readonly devices: Device[] = [];
  private readonly physEnd: number;
  private coherentNext: number;

  /** `iommu` is the machine's IOMMU; one of its own if none is given. */
  constructor(core: KernelCore, mem: PhysMem, iommu: Iommu = new Iommu(core, mem)) {
    if (iommu.mem !== mem) throw new RangeError("DmaMapService: the IOMMU serves another PhysMem");
    this.core = core;
    this.mem = mem;
    this.iommu = iommu;
    this.physEnd = iommu.physEnd;
    // Coherent buffers get bus addresses above RAM (rounded to 1 GiB) so they never alias mapped pages.
    this.coherentNext = Math.ceil((this.physEnd + 1) / 2 ** 30) * 2 ** 30;
    this.mapFail = core.faults.define("dma.map_fail", "dma_map_sgtable()/dma_map_page() fail (IOVA or swiotlb space exhausted)");
    this.tpMap = core.trace.define("dma_map_sg");
    this.tpUnmap = core.trace.define("dma_unmap_sg");
  }

  /** Create a device (the struct device a provider maps against). */
  createDevice(name: string, opts: DeviceOptions = {}): Device {
    const dev = new Device(this, name, opts);
    if (this.mem.node(dev.numaNode) === undefined) throw new RangeError(`device ${name}: NUMA node ${dev.numaNode} does not exist`);
    this.devices.push(dev);
    return dev;
  }

  /** @internal charge mapping work to the running task (event context is timed by the device). */
  charge(kind: number, units: number): void {
    if (!this.core.sim.inEvent && units > 0) this.core.cost.charge(kind as never, units);
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
    this.iommu.addCoherent(buf);
    return buf;
  }

  /** @internal dma_free_coherent() */
  freeCoherent(buf: DmaCoherent): void {
    if (!this.iommu.removeCoherent(buf)) throw new Error(`dma_free_coherent(${buf.dev.name}): buffer at 0x${buf.busAddr.toString(16)} is not allocated`);
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
        pages += this.iommu.refPfns(pfn, pfn + Math.floor((off + len - 1) / PAGE_SIZE), 1);
      }
      sgt.nents = n;
    } else {
      pages = iommuDmaMapSg(this, dev, sgt);
      if (pages < 0) return this.failMap(dev, sgt, dir, pages);
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
      pages = iommuDmaUnmapSg(this, dev, sgt);
    } else {
      for (let i = 0; i < n; i++) {
        const pfn = sgt.pfn[i]!;
        pages += this.iommu.refPfns(pfn, pfn + Math.floor((sgt.offset[i]! + sgt.length[i]! - 1) / PAGE_SIZE), -1);
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
      bus = iommuDmaMapPage(this, dev, phys, offset, size);
      if (bus < 0) {
        this.stats.mapFailures++;
        return DMA_MAPPING_ERROR;
      }
      pages = this.iommu.refPages(phys, size, 1);
    } else {
      if (phys + size > dev.dmaLimit) {
        this.stats.mapFailures++;
        return DMA_MAPPING_ERROR;
      }
      pages = this.iommu.refPages(phys, size, 1);
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
      pages = iommuDmaUnmapPage(this, dev, addr, size);
    } else {
      pages = this.iommu.refPages(addr, size, -1);
    }
    dev.liveMappings--;
    this.stats.pagesUnmapped += pages;
    this.charge(Cost.DMA_MAP_ENTRY, 1);
  }
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
