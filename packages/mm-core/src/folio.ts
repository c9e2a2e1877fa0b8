/**
 * The memmap: one record per page frame, kept as parallel typed arrays indexed by pfn, as the kernel
 * keeps a `struct page` per frame (include/linux/mm_types.h, page-flags.h). A folio is named by the pfn
 * of its head page; its fields live in the head's slots. Nothing here allocates on the host.
 */
import { HPAGE_PMD_ORDER, type PhysMem } from "./physmem.js";

/** Page and folio flags (include/linux/page-flags.h), plus mmemu's markers for page types. */
export const PG = {
  locked: 1 << 0,
  writeback: 1 << 1,
  referenced: 1 << 2,
  uptodate: 1 << 3,
  dirty: 1 << 4,
  lru: 1 << 5,
  head: 1 << 6,
  active: 1 << 7,
  workingset: 1 << 8,
  private: 1 << 9,
  swapbacked: 1 << 10,
  unevictable: 1 << 11,
  mlocked: 1 << 12,
  /** Per page: the page has a hardware memory error; reading it raises a machine check. */
  hwpoison: 1 << 13,
  swapcache: 1 << 14,
  /** folio->mapping points at an anon_vma (PAGE_MAPPING_ANON). */
  anon: 1 << 15,
  ksm: 1 << 16,
  /** Page type: a hugetlbfs folio (PGTY_hugetlb). */
  hugetlb: 1 << 17,
  /** A movable_ops page (balloon, zsmalloc): migrated by its driver's callbacks, not as a folio. */
  movableOps: 1 << 18,
  /** The shared zero page. */
  zero: 1 << 19,
  /** Per page: anonymous page exclusive to one process (PG_anon_exclusive). */
  anonExclusive: 1 << 20,
  /** On the deferred-split queue: a large folio that is partially mapped. */
  deferredSplit: 1 << 21,
  /** ZONE_DEVICE memory (device-private): move_pages reports -ENOENT. */
  zoneDevice: 1 << 22,
  young: 1 << 23,
  /** mmemu bookkeeping: the frame belongs to an allocated folio (head or tail). */
  allocated: 1 << 24,
  /** mmemu bookkeeping: a tail page of a large folio. */
  tail: 1 << 25,
  /** Large folio that may be mapped by PTEs and split (large_rmappable). */
  largeRmappable: 1 << 26,
  /** Someone sleeps waiting for the folio lock (PG_waiters). */
  waiters: 1 << 27,
  /** A hugetlb folio in use and migratable (on the hstate active list, not isolated). */
  hugetlbMigratable: 1 << 28,
  /** PG_reserved: a kernel-image or boot-reserved frame (the vDSO text); never on an LRU, never freed. */
  reserved: 1 << 29,
} as const;

/** Flags that folio_migrate_flags() carries from src to dst (mm/migrate.c). */
export const PG_MIGRATE_FLAGS =
  PG.referenced | PG.uptodate | PG.active | PG.unevictable | PG.workingset | PG.dirty | PG.young | PG.ksm | PG.swapbacked | PG.mlocked;

/** Bits of the dst migration-state word (folio->migrate_info in the series, ->private in mainline). */
export const FOLIO_WAS_MAPPED = 1 << 0;
export const FOLIO_WAS_MLOCKED = 1 << 1;
/** V5: the batch copy already copied this dst (FOLIO_ALREADY_COPIED). */
export const FOLIO_ALREADY_COPIED = 1 << 2;
/** V6: per-folio marker set by the copier (FOLIO_CONTENT_COPIED; same bit as V5's). */
export const FOLIO_CONTENT_COPIED = 1 << 2;
const MIGRATE_INFO_SHIFT = 3;

export class MemMap {
  readonly flags: Uint32Array;
  readonly refcount: Int32Array;
  /** Folio mapcount (head only): PTE mappings count one each, a PMD mapping counts one. */
  readonly mapcount: Int32Array;
  /** log2 of the folio's page count (head only). */
  readonly order: Uint8Array;
  /** anon_vma id (PG.anon) or address_space id; 0 = none. */
  readonly mapping: Int32Array;
  /** Page offset of the head in its mapping (folio->index). */
  readonly index: Float64Array;
  /** The dst migration-state word: anon_vma id << 3 | FOLIO_* bits. */
  readonly migrateInfo: Int32Array;
  /** GUP pins (FOLL_PIN) currently held (each also holds one reference). */
  readonly pincount: Int32Array;
  /** LRU list links (folio->lru); -1 ends. */
  readonly lruNext: Int32Array;
  readonly lruPrev: Int32Array;
  readonly mem: PhysMem;

  constructor(mem: PhysMem) {
    const n = mem.totalPages;
    this.mem = mem;
    this.flags = new Uint32Array(n);
    this.refcount = new Int32Array(n);
    this.mapcount = new Int32Array(n);
    this.order = new Uint8Array(n);
    this.mapping = new Int32Array(n);
    this.index = new Float64Array(n);
    this.migrateInfo = new Int32Array(n);
    this.pincount = new Int32Array(n);
    this.lruNext = new Int32Array(n).fill(-1);
    this.lruPrev = new Int32Array(n).fill(-1);
  }

  /** folio_nr_pages() */
  nrPages(folio: number): number {
    return 1 << this.order[folio]!;
  }

  /** folio_nid() */
  nid(folio: number): number {
    return this.mem.nodeOfPfn[folio]!;
  }

  test(folio: number, flag: number): boolean {
    return (this.flags[folio]! & flag) !== 0;
  }

  set(folio: number, flag: number): void {
    this.flags[folio]! |= flag;
  }

  clear(folio: number, flag: number): void {
    this.flags[folio]! &= ~flag;
  }

  /** folio_test_anon() */
  isAnon(folio: number): boolean {
    return (this.flags[folio]! & PG.anon) !== 0;
  }

  /** folio_test_large() */
  isLarge(folio: number): boolean {
    return this.order[folio]! > 0;
  }

  /** folio_test_pmd_mappable(): at least PMD size. */
  isPmdMappable(folio: number): boolean {
    return this.order[folio]! >= HPAGE_PMD_ORDER;
  }

  /** The folio containing a page: walks back to the head (page_folio()). */
  folioOf(pfn: number): number {
    const f = this.flags;
    if ((f[pfn]! & PG.tail) === 0) return pfn;
    // Heads are aligned to their order, so try each alignment from small to large.
    for (let o = 1; o <= 18; o++) {
      const head = pfn - (pfn & ((1 << o) - 1));
      if ((f[head]! & PG.tail) === 0 && this.order[head]! >= o) return head;
    }
    throw new Error(`pfn ${pfn} is a tail page with no head`);
  }

  /** Pack the migration-state word (__migrate_folio_record). */
  static packMigrateInfo(anonVmaId: number, bits: number): number {
    return (anonVmaId << MIGRATE_INFO_SHIFT) | bits;
  }

  static migrateInfoAnonVma(word: number): number {
    return word >>> MIGRATE_INFO_SHIFT;
  }
}
