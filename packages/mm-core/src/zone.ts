/**
 * Memory zones and their watermarks. Mirrors struct zone (include/linux/mmzone.h) and the parts of
 * mm/page_alloc.c that size and check the reserves: calculate_min_free_kbytes(),
 * __setup_per_zone_wmarks(), setup_per_zone_lowmem_reserve(), calculate_totalreserve_pages() and
 * __zone_watermark_ok(); plus set_recommended_min_free_kbytes() of mm/khugepaged.c, which raises
 * min_free_kbytes while transparent huge pages are enabled. The same rules hold in 6.1 and 6.12 (spec
 * mm-policy-and-limits.md §1); the privileged-allocation discounts that changed in 6.3 (ALLOC_HIGH vs
 * ALLOC_MIN_RESERVE) apply to no allocation mmemu makes, so they are not modelled.
 *
 * Layout (x86-64 without ZONE_HIGHMEM): the first node starts at physical address 0, so its first 16 MiB
 * are ZONE_DMA and its memory below 4 GiB ZONE_DMA32 (mmemu has no PCI hole below 4 GiB); the rest of it
 * and every other node are ZONE_NORMAL. ZONE_MOVABLE exists only where a node asks for it (movablecore).
 */
import { PAGE_SHIFT } from "./physmem.js";

export const ZONE_DMA = 0;
export const ZONE_DMA32 = 1;
export const ZONE_NORMAL = 2;
export const ZONE_MOVABLE = 3;
/** MAX_NR_ZONES on x86-64 without ZONE_DEVICE (device memory is not buddy-managed here). */
export const MAX_NR_ZONES = 4;
export const ZONE_NAMES = ["DMA", "DMA32", "Normal", "Movable"] as const;

/** enum zone_watermarks */
export const WMARK_MIN = 0;
export const WMARK_LOW = 1;
export const WMARK_HIGH = 2;
export const WMARK_PROMO = 3;

/** ZONE_DMA ends at 16 MiB, ZONE_DMA32 at 4 GiB (MAX_DMA_PFN, MAX_DMA32_PFN on x86-64). */
export const MAX_DMA_PFN = (16 << 20) >> PAGE_SHIFT;
export const MAX_DMA32_PFN = 2 ** 32 / 2 ** PAGE_SHIFT;

/** sysctl_lowmem_reserve_ratio[] defaults: DMA 256, DMA32 256, Normal 32, Movable 0. */
export const DEFAULT_LOWMEM_RESERVE_RATIO: readonly number[] = [256, 256, 32, 0];
/** watermark_scale_factor default: 10 (units of 1/10000 of the zone). */
export const DEFAULT_WATERMARK_SCALE_FACTOR = 10;
/** pageblock_nr_pages on x86-64 (pageblock_order = HPAGE_PMD_ORDER). */
export const PAGEBLOCK_NR_PAGES = 512;
/** MIGRATE_PCPTYPES: unmovable, movable, reclaimable. */
const MIGRATE_PCPTYPES = 3;

/** Mirrors struct zone: a contiguous pfn range of one node, its free pages and its watermarks. */
export class Zone {
  /** NR_FREE_PAGES */
  free = 0;
  /** _watermark[WMARK_MIN..WMARK_PROMO] in pages. */
  readonly watermark = new Float64Array(4);
  /** watermark_boost: 0 after every recomputation; mmemu models no fragmentation events that boost it. */
  watermarkBoost = 0;
  /** lowmem_reserve[highest_zoneidx]: pages kept from allocations that could have used a higher zone. */
  readonly lowmemReserve = new Float64Array(MAX_NR_ZONES);

  constructor(
    readonly nid: number,
    /** zone_idx() */
    readonly idx: number,
    readonly startPfn: number,
    /** End of the range (exclusive). */
    readonly endPfn: number,
    /** Index of this zone's free lists in the allocator. */
    readonly slot: number,
  ) {}

  get name(): string {
    return ZONE_NAMES[this.idx]!;
  }

  /** managed_pages: every page of the range (mmemu reserves no memmap or kernel image inside a zone). */
  get managed(): number {
    return this.endPfn - this.startPfn;
  }

  /** min_wmark_pages() and friends: the watermark plus the boost. */
  mark(which: number): number {
    return this.watermark[which]! + this.watermarkBoost;
  }
}

/** The vm sysctls that size the reserves (/proc/sys/vm/). */
export interface WatermarkSysctls {
  /** min_free_kbytes; the boot value comes from calculateMinFreeKbytes(). */
  minFreeKbytes: number;
  /** watermark_scale_factor, 1..3000. */
  watermarkScaleFactor: number;
  /** lowmem_reserve_ratio per zone index. */
  readonly lowmemReserveRatio: number[];
}

/** int_sqrt() */
function intSqrt(x: number): number {
  let r = Math.floor(Math.sqrt(x));
  while (r * r > x) r--;
  while ((r + 1) * (r + 1) <= x) r++;
  return r;
}

/** mult_frac(x, n, d) = (x / d) * n + ((x % d) * n) / d, in integers. */
function multFrac(x: number, n: number, d: number): number {
  return Math.floor(x / d) * n + Math.floor(((x % d) * n) / d);
}

/** nr_free_buffer_pages() at boot: the managed pages of every zone up to ZONE_NORMAL (HIGH is 0 then). */
export function nrFreeBufferPages(zones: readonly Zone[]): number {
  let n = 0;
  for (const z of zones) if (z.idx <= ZONE_NORMAL) n += Math.max(z.managed - z.mark(WMARK_HIGH), 0);
  return n;
}

/** Mirrors calculate_min_free_kbytes(): sqrt(lowmem_kbytes * 16), clamped to [128, 262144]. */
export function calculateMinFreeKbytes(zones: readonly Zone[]): number {
  const lowmemKbytes = nrFreeBufferPages(zones) * ((1 << PAGE_SHIFT) / 1024);
  return Math.min(Math.max(intSqrt(lowmemKbytes * 16), 128), 262144);
}

/**
 * Mirrors set_recommended_min_free_kbytes() while khugepaged runs: two pageblocks per populated zone
 * up to ZONE_NORMAL, plus MIGRATE_PCPTYPES² pageblocks per zone, at most 5% of lowmem, in kB.
 */
export function recommendedMinFreeKbytes(zones: readonly Zone[]): number {
  let nrZones = 0;
  for (const z of zones) if (z.managed > 0 && z.idx <= ZONE_NORMAL) nrZones++;
  let pages = PAGEBLOCK_NR_PAGES * nrZones * 2 + PAGEBLOCK_NR_PAGES * nrZones * MIGRATE_PCPTYPES * MIGRATE_PCPTYPES;
  pages = Math.min(pages, Math.floor(nrFreeBufferPages(zones) / 20));
  return pages * ((1 << PAGE_SHIFT) / 1024);
}

/**
 * Mirrors __setup_per_zone_wmarks(): min_free_kbytes is split over the zones by size (ZONE_MOVABLE
 * counts as lowmem, as in 6.1 and 6.12); each zone's LOW, HIGH and PROMO lie one gap apart, the gap the
 * larger of a quarter of MIN and watermark_scale_factor/10000 of the zone.
 */
export function setupPerZoneWmarks(zones: readonly Zone[], sysctl: WatermarkSysctls): void {
  const pagesMin = sysctl.minFreeKbytes >> (PAGE_SHIFT - 10);
  let lowmemPages = 0;
  for (const z of zones) lowmemPages += z.managed;
  for (const z of zones) {
    const tmp = lowmemPages === 0 ? 0 : Math.floor((pagesMin * z.managed) / lowmemPages);
    const gap = Math.max(tmp >> 2, multFrac(z.managed, sysctl.watermarkScaleFactor, 10000));
    z.watermarkBoost = 0;
    z.watermark[WMARK_MIN] = tmp;
    z.watermark[WMARK_LOW] = tmp + gap;
    z.watermark[WMARK_HIGH] = tmp + 2 * gap;
    z.watermark[WMARK_PROMO] = tmp + 3 * gap;
  }
}

/**
 * Mirrors setup_per_zone_lowmem_reserve(): on each node, zone i keeps (Σ managed of zones i+1..j) / ratio[i]
 * pages from an allocation whose highest usable zone is j; 0 when the ratio is 0 or zone i is empty.
 * `nodeZones` holds every zone index of a node (empty ones as null).
 */
export function setupPerZoneLowmemReserve(nodeZones: ReadonlyArray<ReadonlyArray<Zone | null>>, ratio: readonly number[]): void {
  for (const zs of nodeZones) {
    if (zs === undefined) continue; // node ids may have gaps
    for (let i = 0; i < MAX_NR_ZONES; i++) {
      const zi = zs[i];
      if (!zi) continue;
      zi.lowmemReserve.fill(0);
      const r = ratio[i] ?? 0;
      let sum = 0;
      for (let j = i + 1; j < MAX_NR_ZONES; j++) {
        sum += zs[j]?.managed ?? 0;
        zi.lowmemReserve[j] = r === 0 || zi.managed === 0 ? 0 : Math.floor(sum / r);
      }
    }
  }
}

/** Mirrors calculate_totalreserve_pages() for one node: Σ min(max reserve + HIGH, managed). */
export function totalreservePages(zones: readonly Zone[]): number {
  let total = 0;
  for (const z of zones) {
    let max = 0;
    for (let j = z.idx; j < MAX_NR_ZONES; j++) max = Math.max(max, z.lowmemReserve[j]!);
    total += Math.min(max + z.watermark[WMARK_HIGH]!, z.managed);
  }
  return total;
}

/**
 * The reserve settings of one machine and their recomputation, as the sysctl handlers and
 * init_per_zone_wmark_min() do it: min_free_kbytes (computed at boot, or written by the user, or raised
 * by khugepaged), watermark_scale_factor and lowmem_reserve_ratio; any write recomputes the watermarks
 * and reserves of every zone at once.
 */
export class Watermarks implements WatermarkSysctls {
  minFreeKbytes = 0;
  watermarkScaleFactor = DEFAULT_WATERMARK_SCALE_FACTOR;
  readonly lowmemReserveRatio = [...DEFAULT_LOWMEM_RESERVE_RATIO];
  /** user_min_free_kbytes: -1 until the sysctl is written. */
  userMinFreeKbytes = -1;
  /** Whether khugepaged runs (PMD-sized THP enabled): starting and stopping it recomputes min_free_kbytes. */
  khugepaged = false;

  constructor(
    private readonly zones: readonly Zone[],
    private readonly nodeZones: ReadonlyArray<ReadonlyArray<Zone | null>>,
  ) {}

  /** Mirrors init_per_zone_wmark_min(), then khugepaged's bump when THP is enabled at boot. */
  init(opts: { minFreeKbytes?: number; watermarkScaleFactor?: number; khugepaged: boolean }): void {
    if (opts.watermarkScaleFactor !== undefined) this.checkScaleFactor(opts.watermarkScaleFactor);
    if (opts.minFreeKbytes !== undefined) this.checkMinFree(opts.minFreeKbytes);
    this.watermarkScaleFactor = opts.watermarkScaleFactor ?? DEFAULT_WATERMARK_SCALE_FACTOR;
    this.calculateMinFreeKbytes();
    this.setup();
    if (opts.minFreeKbytes !== undefined) this.setMinFreeKbytes(opts.minFreeKbytes);
    else if (opts.khugepaged) this.khugepagedChanged(true);
  }

  /** calculate_min_free_kbytes(): a user value wins over a smaller computed one. */
  private calculateMinFreeKbytes(): void {
    const computed = calculateMinFreeKbytes(this.zones);
    if (computed > this.userMinFreeKbytes) this.minFreeKbytes = computed;
  }

  /** setup_per_zone_wmarks() then setup_per_zone_lowmem_reserve(). */
  private setup(): void {
    setupPerZoneWmarks(this.zones, this);
    setupPerZoneLowmemReserve(this.nodeZones, this.lowmemReserveRatio);
  }

  /** Write /proc/sys/vm/min_free_kbytes (min_free_kbytes_sysctl_handler). */
  setMinFreeKbytes(kb: number): void {
    this.checkMinFree(kb);
    this.minFreeKbytes = kb;
    this.userMinFreeKbytes = kb;
    this.setup();
  }

  /** Write /proc/sys/vm/watermark_scale_factor. */
  setWatermarkScaleFactor(v: number): void {
    this.checkScaleFactor(v);
    this.watermarkScaleFactor = v;
    this.setup();
  }

  /** Write /proc/sys/vm/lowmem_reserve_ratio (one value per zone). */
  setLowmemReserveRatio(ratios: readonly number[]): void {
    if (ratios.length !== MAX_NR_ZONES || !ratios.every((r) => Number.isInteger(r) && r >= 0)) {
      throw new RangeError(`lowmem_reserve_ratio: ${MAX_NR_ZONES} non-negative integers (DMA DMA32 Normal Movable), got ${ratios.join(" ")}`);
    }
    for (let i = 0; i < MAX_NR_ZONES; i++) this.lowmemReserveRatio[i] = ratios[i]!;
    this.setup();
  }

  /**
   * Mirrors start_stop_khugepaged() -> set_recommended_min_free_kbytes(): with PMD-sized THP enabled
   * min_free_kbytes rises to khugepaged's recommendation; disabled, it goes back to the computed value.
   */
  khugepagedChanged(enabled: boolean): void {
    if (enabled === this.khugepaged) return;
    this.khugepaged = enabled;
    if (!enabled) this.calculateMinFreeKbytes();
    else {
      const rec = recommendedMinFreeKbytes(this.zones);
      if (rec > this.minFreeKbytes) this.minFreeKbytes = rec;
    }
    this.setup();
  }

  private checkMinFree(kb: number): void {
    if (!Number.isInteger(kb) || kb < 0 || kb > 2 ** 31 - 1) throw new RangeError(`min_free_kbytes: a non-negative integer (kB), got ${kb}`);
  }

  private checkScaleFactor(v: number): void {
    if (!Number.isInteger(v) || v < 1 || v > 3000) throw new RangeError(`watermark_scale_factor: an integer in [1, 3000], got ${v}`);
  }
}
