import type { PhysMem } from "./physmem.js";
import { MAX_PAGE_ORDER } from "./physmem.js";

/**
 * A buddy allocator per node, mirroring mm/page_alloc.c (__rmqueue_smallest, expand, __free_one_page):
 * free blocks of order k sit on per-node free lists; allocation splits a larger block, freeing merges
 * with the buddy when it is free and of the same order. Everything lives in typed arrays indexed by pfn,
 * so allocation and freeing allocate nothing on the host. Fragmentation is real: a node with enough free
 * pages can still fail an order-9 request, as Linux does. Blocks are aligned to their order in absolute
 * pfns (a buddy is pfn ^ (1 << order), as __find_buddy_pfn() computes), so a node that starts or ends off a
 * 2 MiB boundary — real machines' nodes do — has smaller blocks at its edges and every large folio is
 * naturally aligned where folio lookup (page_folio) expects its head.
 */
export class PageAllocator {
  /** Order of the free block starting at pfn, or -1 if pfn does not start a free block. */
  private readonly freeOrder: Int8Array;
  /** Intrusive doubly linked free lists (per node and order); -1 ends a list. */
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  /** Head of each list: index node*(MAX_PAGE_ORDER+1)+order into heads. */
  private readonly heads: Int32Array;
  /** Free pages per node id. */
  private readonly freePages: Float64Array;
  private readonly nodeSlot: Int32Array;
  private readonly mem: PhysMem;

  constructor(mem: PhysMem) {
    this.mem = mem;
    const n = mem.totalPages;
    this.freeOrder = new Int8Array(n).fill(-1);
    this.next = new Int32Array(n).fill(-1);
    this.prev = new Int32Array(n).fill(-1);
    const maxId = Math.max(...mem.nodes.map((x) => x.id));
    this.nodeSlot = new Int32Array(maxId + 1).fill(-1);
    mem.nodes.forEach((node, i) => (this.nodeSlot[node.id] = i));
    this.heads = new Int32Array(mem.nodes.length * (MAX_PAGE_ORDER + 1)).fill(-1);
    this.freePages = new Float64Array(maxId + 1);
    // Seed each node with maximal aligned blocks, as memblock_free_all() -> __free_pages_memory() does.
    for (const node of mem.nodes) {
      let pfn = node.startPfn;
      const end = node.startPfn + node.nrPages;
      while (pfn < end) {
        let order = MAX_PAGE_ORDER;
        while (order > 0 && (pfn % (1 << order) !== 0 || pfn + (1 << order) > end)) order--;
        this.addFree(node.id, pfn, order);
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
    const slot = this.nodeSlot[nid]!;
    for (let o = order; o <= MAX_PAGE_ORDER; o++) {
      for (let p = this.heads[slot * (MAX_PAGE_ORDER + 1) + o]!; p !== -1; p = this.next[p]!) total += 1 << o;
    }
    return total;
  }

  /**
   * Mirrors __rmqueue_smallest(): an aligned block of 2^order pages on node `nid`, or -1. Orders above
   * MAX_PAGE_ORDER (gigantic pages) are carved from contiguous free blocks, like alloc_contig_pages().
   */
  alloc(nid: number, order: number): number {
    const slot = nid >= 0 && nid < this.nodeSlot.length ? this.nodeSlot[nid]! : -1;
    if (slot < 0) return -1;
    if (order > MAX_PAGE_ORDER) return this.allocContig(nid, order);
    const base = slot * (MAX_PAGE_ORDER + 1);
    for (let o = order; o <= MAX_PAGE_ORDER; o++) {
      const pfn = this.heads[base + o]!;
      if (pfn === -1) continue;
      this.delFree(nid, pfn, o);
      // expand(): give back the upper halves.
      while (o > order) {
        o--;
        this.addFree(nid, pfn + (1 << o), o);
      }
      return pfn;
    }
    return -1;
  }

  /** Mirrors __free_one_page(): free and merge with free buddies. */
  free(pfn: number, order: number): void {
    const nid = this.mem.nodeOfPfn[pfn]!;
    if (order > MAX_PAGE_ORDER) {
      for (let i = 0; i < 1 << order; i += 1 << MAX_PAGE_ORDER) this.free(pfn + i, MAX_PAGE_ORDER);
      return;
    }
    const node = this.mem.node(nid)!;
    const end = node.startPfn + node.nrPages;
    while (order < MAX_PAGE_ORDER) {
      // __find_buddy_pfn(); a buddy outside the node (an edge block) never merges.
      const buddy = pfn ^ (1 << order);
      if (buddy < node.startPfn || buddy + (1 << order) > end || this.freeOrder[buddy] !== order) break;
      this.delFree(nid, buddy, order);
      pfn &= ~(1 << order);
      order++;
    }
    this.addFree(nid, pfn, order);
  }

  private allocContig(nid: number, order: number): number {
    const node = this.mem.node(nid)!;
    const nr = 1 << order;
    const chunk = 1 << MAX_PAGE_ORDER;
    // Gigantic pages are naturally aligned too (alloc_contig_pages() searches aligned ranges).
    for (let start = Math.ceil(node.startPfn / nr) * nr; start + nr <= node.startPfn + node.nrPages; start += nr) {
      let ok = true;
      for (let p = start; p < start + nr; p += chunk) {
        if (this.freeOrder[p] !== MAX_PAGE_ORDER) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      for (let p = start; p < start + nr; p += chunk) this.delFree(nid, p, MAX_PAGE_ORDER);
      return start;
    }
    return -1;
  }

  private addFree(nid: number, pfn: number, order: number): void {
    const h = this.nodeSlot[nid]! * (MAX_PAGE_ORDER + 1) + order;
    const head = this.heads[h]!;
    this.next[pfn] = head;
    this.prev[pfn] = -1;
    if (head !== -1) this.prev[head] = pfn;
    this.heads[h] = pfn;
    this.freeOrder[pfn] = order;
    this.freePages[nid]! += 1 << order;
  }

  private delFree(nid: number, pfn: number, order: number): void {
    const h = this.nodeSlot[nid]! * (MAX_PAGE_ORDER + 1) + order;
    const n = this.next[pfn]!;
    const p = this.prev[pfn]!;
    if (p !== -1) this.next[p] = n;
    else this.heads[h] = n;
    if (n !== -1) this.prev[n] = p;
    this.freeOrder[pfn] = -1;
    this.freePages[nid]! -= 1 << order;
  }
}
