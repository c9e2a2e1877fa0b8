/**
 * Migration tracepoints. Names and fields follow include/trace/events/migrate.h and tlb.h; the batch
 * and first-folio events are the custom ones the series' authors added to measure first-folio latency
 * (their figures are "from the start of a migrate_pages_batch() call to the first folio moved").
 */
import type { TraceBus, Tracepoint } from "@mmemu/kernel";

export interface MigrateTracepoints {
  /** trace_mm_migrate_pages_start(mode, reason) */
  readonly migratePagesStart: Tracepoint<{ mode: string; reason: string }>;
  /** trace_mm_migrate_pages(...) at the end of migrate_pages() */
  readonly migratePages: Tracepoint<{
    succeeded: number; failed: number; thp_succeeded: number; thp_failed: number; thp_split: number;
    large_folio_split: number; mode: string; reason: string;
  }>;
  /** Custom: migrate_pages_batch() entered. */
  readonly batchStart: Tracepoint<{ nr_folios: number; nr_pages: number; mode: string; nr_pass: number; offload: boolean }>;
  /** Custom: migrate_pages_batch() returns. */
  readonly batchEnd: Tracepoint<{ rc: number; nr_succeeded: number; nr_failed_pages: number }>;
  /** Custom: one folio's move finished (its new mapping is in place). */
  readonly folioMoved: Tracepoint<{ src: number; dst: number; nr_pages: number }>;
  /** The series: migrate_offload_batch_copy() returned. */
  readonly batchCopy: Tracepoint<{ nr_folios: number; rc: number }>;
  /** trace_set_migration_pte(addr, pte, order) */
  readonly setMigrationPte: Tracepoint<{ addr: number; pfn: number; order: number }>;
  /** trace_remove_migration_pte(addr, pte, order) */
  readonly removeMigrationPte: Tracepoint<{ addr: number; pfn: number; order: number }>;
  /** trace_tlb_flush(reason, pages) */
  readonly tlbFlush: Tracepoint<{ reason: string; cpus: number }>;
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
    tlbFlush: bus.define("tlb_flush"),
    migrationEntryWait: bus.define("migration_entry_wait"),
  };
}
