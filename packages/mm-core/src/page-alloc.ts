import type { PhysMem } from "./physmem.js";
import { MAX_PAGE_ORDER } from "./physmem.js";
import { MAX_DMA32_PFN, MAX_DMA_PFN, MAX_NR_ZONES, Zone, ZONE_DMA, ZONE_DMA32, ZONE_MOVABLE, ZONE_NORMAL } from "./zone.js";

/**
 * A buddy allocator per zone, mirroring mm/page_alloc.c (__rmqueue_smallest, expand, __free_one_page,
 * __zone_watermark_ok): free blocks of order k sit on per-zone free lists; allocation splits a larger
 * block, freeing merges with the buddy when it is free, of the same order and in the same zone.
 * Everything lives in typed arrays indexed by pfn, so allocation and freeing allocate nothing on the
 * host. Fragmentation is real: a node with enough free pages can still fail an order-9 request, as Linux
 * does. Blocks are aligned to their order in absolute pfns (a buddy is pfn ^ (1 << order), as
 * __find_buddy_pfn() computes), so a node or zone that starts or ends off a 2 MiB boundary — real
 * machines' nodes do — has smaller blocks at its edges and every large folio is naturally aligned where
 * folio lookup (page_folio) expects its head. Watermarks are checked by the caller (Machine.folioAlloc);
 * alloc() here is the raw boot-time path (memblock, the zero page, boot hugetlb pools, device memory)
 * that ignores them.
 */
export class PageAllocator {
  /** Every populated zone, by node then zone index. */
  readonly zones: readonly Zone[];
  /** Zones of each node id by zone index (null where the node has no such zone). */
  readonly nodeZones: ReadonlyArray<ReadonlyArray<Zone | null>>;
  /** Order of the free block starting at pfn, or -1 if pfn does not start a free block. */
  private readonly freeOrder: Int8Array;
  /** Intrusive doubly linked free lists (per zone and order); -1 ends a list. */
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  /** Head of each list: index zone.slot*(MAX_PAGE_ORDER+1)+order into heads. */
  private readonly heads: Int32Array;
  /** Free pages per node id. */
  private readonly freePages: Float64Array;
  private readonly mem: PhysMem;

  constructor(mem: PhysMem, movablePages: Readonly<Record<number, number>> = {}) {
    this.mem = mem;
    const n = mem.totalPages;
    this.freeOrder = new Int8Array(n).fill(-1);
    this.next = new Int32Array(n).fill(-1);
    this.prev = new Int32Array(n).fill(-1);
    const maxId = Math.max(...mem.nodes.map((x) => x.id));
    const zones: Zone[] = [];
    const nodeZones: Array<Array<Zone | null>> = [];
    // The first node with memory sits at physical address 0; the others lie above 4 GiB.
    const low = mem.nodes.find((x) => x.nrPages > 0);
    for (const node of mem.nodes) {
      const zs: Array<Zone | null> = Array<Zone | null>(MAX_NR_ZONES).fill(null);
      nodeZones[node.id] = zs;
      const end = node.startPfn + node.nrPages;
      const dmaEnd = node === low ? node.startPfn + MAX_DMA_PFN : node.startPfn;
      const dma32End = node === low ? node.startPfn + MAX_DMA32_PFN : node.startPfn;
      const movable = movablePages[node.id] ?? 0;
      if (!Number.isInteger(movable) || movable < 0 || movable > node.nrPages) {
        throw new Error(`machine: node ${node.id} movable pages must be an integer in [0, ${node.nrPages}], got ${movable}`);
      }
      // ZONE_MOVABLE takes the top of the node (movablecore= / movable_node), the rest by address.
      const movableStart = end - movable;
      const bounds: Array<[number, number, number]> = [
        [ZONE_DMA, node.startPfn, Math.min(dmaEnd, movableStart)],
        [ZONE_DMA32, dmaEnd, Math.min(dma32End, movableStart)],
        [ZONE_NORMAL, Math.max(dma32End, node.startPfn), movableStart],
        [ZONE_MOVABLE, movableStart, end],
      ];
      for (const [idx, lo, hi] of bounds) {
        if (hi <= lo) continue;
        const z = new Zone(node.id, idx, lo, hi, zones.length);
        zones.push(z);
        zs[idx] = z;
      }
    }
    this.zones = zones;
    this.nodeZones = nodeZones;
    this.heads = new Int32Array(Math.max(1, zones.length) * (MAX_PAGE_ORDER + 1)).fill(-1);
    this.freePages = new Float64Array(maxId + 1);
    // Seed each zone with maximal blocks aligned to absolute pfns, as memblock_free_all() does.
    for (const z of zones) {
      let pfn = z.startPfn;
      while (pfn < z.endPfn) {
        let order = MAX_PAGE_ORDER;
        while (order > 0 && (pfn % (1 << order) !== 0 || pfn + (1 << order) > z.endPfn)) order--;
        this.addFree(z, pfn, order);
        pfn += 1 << order;
      }
    }
  }

  /** Free base pages on a node. */
  nrFree(nid: number): number {
    return this.freePages[nid] ?? 0;
  }

  /** Free pages in blocks of at least `order` on a node (what an order-`order` request can use). */
  nrFreeAtLeast(nid: number, order: number): number {
    let total = 0;
    for (const z of this.nodeZones[nid] ?? []) if (z) total += this.zoneFreeAtLeast(z, order);
    return total;
  }

  /** Free pages of a zone in blocks of at least `order`. */
  zoneFreeAtLeast(z: Zone, order: number): number {
    let total = 0;
    for (let o = order; o <= MAX_PAGE_ORDER; o++) {
      for (let p = this.heads[z.slot * (MAX_PAGE_ORDER + 1) + o]!; p !== -1; p = this.next[p]!) total += 1 << o;
    }
    return total;
  }

  /**
   * Mirrors __zone_watermark_ok() for an allocation without reserves access (no ALLOC_HIGH, no
   * ALLOC_OOM, CMA and high-atomic reserves absent): the zone must keep more than `mark` plus the
   * lowmem reserve for `highestZoneIdx` free after the allocation, and for order > 0 hold a free block
   * of at least that order.
   */
  watermarkOk(z: Zone, order: number, mark: number, highestZoneIdx: number): boolean {
    const free = z.free - ((1 << order) - 1);
    if (free <= mark + z.lowmemReserve[highestZoneIdx]!) return false;
    if (order === 0) return true;
    const base = z.slot * (MAX_PAGE_ORDER + 1);
    for (let o = order; o <= MAX_PAGE_ORDER; o++) if (this.heads[base + o] !== -1) return true;
    return false;
  }

  /**
   * The raw boot-time allocation (memblock-like): an aligned block of 2^order pages from the node's
   * highest zone down, ignoring watermarks, or -1. Orders above MAX_PAGE_ORDER (gigantic pages) are
   * carved from contiguous free blocks, like alloc_contig_pages().
   */
  alloc(nid: number, order: number): number {
    const zs = nid >= 0 && nid < this.nodeZones.length ? this.nodeZones[nid] : undefined;
    if (zs === undefined) return -1;
    for (let i = MAX_NR_ZONES - 1; i >= 0; i--) {
      const z = zs[i];
      if (!z) continue;
      const pfn = order > MAX_PAGE_ORDER ? this.allocContig(z, order) : this.rmqueue(z, order);
      if (pfn >= 0) return pfn;
    }
    return -1;
  }

  /** Mirrors __rmqueue_smallest(): the smallest free block of at least `order` in the zone, split down. */
  rmqueue(z: Zone, order: number): number {
    const base = z.slot * (MAX_PAGE_ORDER + 1);
    for (let o = order; o <= MAX_PAGE_ORDER; o++) {
      const pfn = this.heads[base + o]!;
      if (pfn === -1) continue;
      this.delFree(z, pfn, o);
      // expand(): give back the upper halves.
      while (o > order) {
        o--;
        this.addFree(z, pfn + (1 << o), o);
      }
      return pfn;
    }
    return -1;
  }

  /**
   * Mirrors get_page_from_freelist(): walk the zonelist — the preferred node's zones from
   * `highestZoneIdx` down, then (unless `thisNode`, __GFP_THISNODE) the other nodes' in id order — and
   * take the block from the first zone that passes its watermark `mark` (WMARK_LOW on the fast path,
   * WMARK_MIN in the slow path), skipping nodes outside `nodemask`. -1 when no zone can.
   */
  getPageFromFreelist(nid: number, order: number, thisNode: boolean, mark: number, highestZoneIdx: number, nodemask: Uint8Array | null = null): number {
    let pfn = nodemask === null || nodemask[nid] ? this.allocFromNode(nid, order, mark, highestZoneIdx) : -1;
    if (pfn >= 0 || thisNode) return pfn;
    const nodes = this.mem.nodes;
    for (let i = 0; i < nodes.length; i++) {
      const other = nodes[i]!.id;
      if (other === nid || (nodemask !== null && !nodemask[other])) continue;
      pfn = this.allocFromNode(other, order, mark, highestZoneIdx);
      if (pfn >= 0) return pfn;
    }
    return -1;
  }

  private allocFromNode(nid: number, order: number, mark: number, highestZoneIdx: number): number {
    const zs = nid >= 0 && nid < this.nodeZones.length ? this.nodeZones[nid] : undefined;
    if (zs === undefined) return -1;
    for (let i = highestZoneIdx; i >= 0; i--) {
      const z = zs[i];
      if (!z || !this.watermarkOk(z, order, z.mark(mark), highestZoneIdx)) continue;
      const pfn = this.rmqueue(z, order);
      if (pfn >= 0) return pfn;
    }
    return -1;
  }

  /** Σ over a node's zones of one watermark (WMARK_MIN..WMARK_HIGH): the free pages it keeps back. */
  nodeWatermark(nid: number, mark: number): number {
    let total = 0;
    for (const z of this.nodeZones[nid] ?? []) if (z) total += z.mark(mark);
    return total;
  }

  /** The zone holding a pfn (page_zone()). */
  zoneOf(pfn: number): Zone {
    const zs = this.nodeZones[this.mem.nodeOfPfn[pfn]!]!;
    for (let i = 0; i < MAX_NR_ZONES; i++) {
      const z = zs[i];
      if (z && pfn >= z.startPfn && pfn < z.endPfn) return z;
    }
    throw new Error(`pfn ${pfn} lies in no zone`);
  }

  /** Mirrors __free_one_page(): free and merge with free buddies of the same zone. */
  free(pfn: number, order: number): void {
    if (order > MAX_PAGE_ORDER) {
      for (let i = 0; i < 1 << order; i += 1 << MAX_PAGE_ORDER) this.free(pfn + i, MAX_PAGE_ORDER);
      return;
    }
    const z = this.zoneOf(pfn);
    while (order < MAX_PAGE_ORDER) {
      // __find_buddy_pfn(); a buddy outside the zone (an edge block) never merges.
      const buddy = pfn ^ (1 << order);
      if (buddy < z.startPfn || buddy + (1 << order) > z.endPfn || this.freeOrder[buddy] !== order) break;
      this.delFree(z, buddy, order);
      pfn &= ~(1 << order);
      order++;
    }
    this.addFree(z, pfn, order);
  }

  private allocContig(z: Zone, order: number): number {
    const nr = 1 << order;
    const chunk = 1 << MAX_PAGE_ORDER;
    // Gigantic pages are naturally aligned too (alloc_contig_pages() searches aligned ranges).
    for (let start = Math.ceil(z.startPfn / nr) * nr; start + nr <= z.endPfn; start += nr) {
      let ok = true;
      for (let p = start; p < start + nr; p += chunk) {
        if (this.freeOrder[p] !== MAX_PAGE_ORDER) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      for (let p = start; p < start + nr; p += chunk) this.delFree(z, p, MAX_PAGE_ORDER);
      return start;
    }
    return -1;
  }

  private addFree(z: Zone, pfn: number, order: number): void {
    const h = z.slot * (MAX_PAGE_ORDER + 1) + order;
    const head = this.heads[h]!;
    this.next[pfn] = head;
    this.prev[pfn] = -1;
    if (head !== -1) this.prev[head] = pfn;
    this.heads[h] = pfn;
    this.freeOrder[pfn] = order;
    z.free += 1 << order;
    this.freePages[z.nid]! += 1 << order;
  }

  private delFree(z: Zone, pfn: number, order: number): void {
    const h = z.slot * (MAX_PAGE_ORDER + 1) + order;
    const n = this.next[pfn]!;
    const p = this.prev[pfn]!;
    if (p !== -1) this.next[p] = n;
    else this.heads[h] = n;
    if (n !== -1) this.prev[n] = p;
    this.freeOrder[pfn] = -1;
    z.free -= 1 << order;
    this.freePages[z.nid]! -= 1 << order;
  }
}
