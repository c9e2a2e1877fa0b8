/**
 * Migration tracepoints. Names and fields follow include/trace/events/migrate.h, thp.h and tlb.h; the
 * batch and first-folio events are the custom ones the series' authors added to measure first-folio
 * latency (their figures are "from the start of a migrate_pages_batch() call to the first folio moved").
 */
import type { TraceBus, Tracepoint } from "@mmemu/kernel";
import { PTE } from "./mm-types.js";

/** tlb.h's enum tlb_flush_reason, by value. */
export const TLB_FLUSH_REASON = {
  TLB_FLUSH_ON_TASK_SWITCH: 0,
  TLB_REMOTE_SHOOTDOWN: 1,
  TLB_LOCAL_SHOOTDOWN: 2,
  TLB_LOCAL_MM_SHOOTDOWN: 3,
  TLB_REMOTE_SEND_IPI: 4,
  TLB_REMOTE_WRONG_CPU: 5,
} as const;
export type TlbFlushReason = keyof typeof TLB_FLUSH_REASON;

export interface MigrateTracepoints {
  /** trace_mm_migrate_pages_start(mode, reason) */
  readonly migratePagesStart: Tracepoint<{ mode: string; reason: string }>;
  /** trace_mm_migrate_pages(...) at the end of migrate_pages(), with the kernel's field names. */
  readonly migratePages: Tracepoint<{
    nr_succeeded: number; nr_failed: number; nr_thp_succeeded: number; nr_thp_failed: number; nr_thp_split: number;
    nr_split: number; mode: string; reason: string;
  }>;
  /** Custom: migrate_pages_batch() entered. */
  readonly batchStart: Tracepoint<{ nr_folios: number; nr_pages: number; mode: string; nr_pass: number; offload: boolean }>;
  /** Custom: migrate_pages_batch() returns. */
  readonly batchEnd: Tracepoint<{ rc: number; nr_succeeded: number; nr_failed_pages: number }>;
  /** Custom: one folio's move finished (its new mapping is in place). */
  readonly folioMoved: Tracepoint<{ src: number; dst: number; nr_pages: number }>;
  /** The series: migrate_offload_batch_copy() returned. */
  readonly batchCopy: Tracepoint<{ nr_folios: number; rc: number }>;
  /** trace_set_migration_pte(addr, pte, order): `pte` is the x86-64 entry in hex, `pfn` the page. */
  readonly setMigrationPte: Tracepoint<{ addr: number; pte: string; order: number; pfn: number }>;
  /** trace_remove_migration_pte(addr, pte, order) */
  readonly removeMigrationPte: Tracepoint<{ addr: number; pte: string; order: number; pfn: number }>;
  /** trace_set_migration_pmd(addr, pmd) (thp.h) */
  readonly setMigrationPmd: Tracepoint<{ addr: number; pmd: string; pfn: number }>;
  /** trace_remove_migration_pmd(addr, pmd) */
  readonly removeMigrationPmd: Tracepoint<{ addr: number; pmd: string; pfn: number }>;
  /**
   * trace_tlb_flush(reason, pages): pages -1 is TLB_FLUSH_ALL. The sender's events are logged in its
   * context; each target CPU's `TLB_REMOTE_SHOOTDOWN` in that CPU's IPI handler.
   */
  readonly tlbFlush: Tracepoint<{ reason: TlbFlushReason; pages: number; cpus: number }>;
  /** A task sleeps on a migration entry (migration_entry_wait). */
  readonly migrationEntryWait: Tracepoint<{ pid: number; addr: number; pfn: number }>;
}

export function defineMigrateTracepoints(bus: TraceBus): MigrateTracepoints {
  return {
    migratePagesStart: bus.define("mm_migrate_pages_start"),
    migratePages: bus.define("mm_migrate_pages"),
    batchStart: bus.define("mm_migrate_pages_batch_start"),
    batchEnd: bus.define("mm_migrate_pages_batch_end"),
    folioMoved: bus.define("mm_migrate_folio_moved"),
    batchCopy: bus.define("mm_migrate_offload_batch_copy"),
    setMigrationPte: bus.define("set_migration_pte"),
    removeMigrationPte: bus.define("remove_migration_pte"),
    setMigrationPmd: bus.define("set_migration_pmd"),
    removeMigrationPmd: bus.define("remove_migration_pmd"),
    tlbFlush: bus.define("tlb_flush"),
    migrationEntryWait: bus.define("migration_entry_wait"),
  };
}

// x86-64 page-table bits (arch/x86/include/asm/pgtable_types.h), 4-level paging.
const X86_PRESENT = 0x1n, X86_RW = 0x2n, X86_USER = 0x4n, X86_ACCESSED = 0x20n, X86_DIRTY = 0x40n;
const X86_UFFD_WP = 1n << 10n, X86_SOFT_DIRTY = 1n << 11n, X86_NX = 1n << 63n;
/** Non-present entries keep soft-dirty in _PAGE_RW and uffd-wp in _PAGE_USER (_PAGE_SWP_*). */
const X86_SWP_SOFT_DIRTY = X86_RW, X86_SWP_UFFD_WP = X86_USER;
/** SWP_PFN_BITS = MAX_PHYSMEM_BITS (46) - PAGE_SHIFT; the young and dirty bits sit above the pfn. */
const SWP_PFN_BITS = 34n;
/**
 * Swap types of migration entries: MAX_SWAPFILES = 32 - 3 device - 3 migration - 1 hwpoison - 1 pte
 * marker = 24, then SWP_MIGRATION_READ = MAX_SWAPFILES + SWP_HWPOISON_NUM, READ_EXCLUSIVE, WRITE.
 */
const SWP_MIGRATION_READ = 25n, SWP_MIGRATION_READ_EXCLUSIVE = 26n, SWP_MIGRATION_WRITE = 27n;
const MASK64 = (1n << 64n) - 1n;

/**
 * The raw x86-64 value of an emulated PTE (or PMD) as trace_set/remove_migration_pte print it:
 * a present mapping is pfn << 12 with P, RW, U/S, A, D, soft-dirty and NX; a migration entry is
 * __swp_entry(type, offset) with the offset (pfn, young and dirty bits) stored inverted in bits 9..58
 * and the type in bits 59..63. Only called while the tracepoint is enabled.
 */
export function x86PteHex(bits: number, pfn: number, huge = false): string {
  let v: bigint;
  if (bits & PTE.MIGRATION) {
    let offset = BigInt(pfn);
    if (bits & PTE.YOUNG) offset |= 1n << SWP_PFN_BITS;
    if (bits & PTE.DIRTY) offset |= 1n << (SWP_PFN_BITS + 1n);
    const type = bits & PTE.MIG_WRITE ? SWP_MIGRATION_WRITE : bits & PTE.MIG_READ_EXCL ? SWP_MIGRATION_READ_EXCLUSIVE : SWP_MIGRATION_READ;
    v = ((((~offset & MASK64) << 14n) & MASK64) >> 5n) | (type << 59n);
    if (bits & PTE.SOFT_DIRTY) v |= X86_SWP_SOFT_DIRTY;
    if (bits & PTE.UFFD_WP) v |= X86_SWP_UFFD_WP;
  } else {
    v = (BigInt(pfn) << 12n) | X86_NX;
    if (bits & PTE.PRESENT) v |= X86_PRESENT | X86_USER;
    if (bits & PTE.WRITE) v |= X86_RW;
    if (bits & PTE.YOUNG) v |= X86_ACCESSED;
    if (bits & PTE.DIRTY) v |= X86_DIRTY;
    if (bits & PTE.SOFT_DIRTY) v |= X86_SOFT_DIRTY;
    if (bits & PTE.UFFD_WP) v |= X86_UFFD_WP;
    if (huge) v |= 0x80n; // _PAGE_PSE
  }
  return v.toString(16);
}
