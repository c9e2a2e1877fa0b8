/**
 * Page migration: mirrors mm/migrate.c — migrate_pages(), migrate_pages_batch(), migrate_pages_sync(),
 * migrate_hugetlbs(), migrate_folio_unmap(), migrate_folio_move(), move_to_new_folio(),
 * __migrate_folio(), __folio_migrate_mapping(), folio_migrate_flags(), migrate_folio_done(),
 * migrate_folios_undo() and putback_movable_pages() — plus the batch-copy step that the
 * "Accelerate page migration with batch copying and hardware offload" series (V4-V6) adds after the
 * single TLB flush of a batch (migrate_offload_batch_copy(), FOLIO_ALREADY_COPIED/CONTENT_COPIED).
 *
 * Functional path only: work is reported to the timing model through `m.charge()`, never timed here.
 * The per-folio path allocates nothing: lists are FolioLists of head pfns, folio state is the memmap.
 */
import { Cost, EAGAIN, EBUSY, EHWPOISON, ENOMEM } from "@mmemu/kernel";
import { FOLIO_CONTENT_COPIED, FOLIO_WAS_MAPPED, FOLIO_WAS_MLOCKED, MemMap, PG, PG_MIGRATE_FLAGS } from "./folio.js";
import { FolioList } from "./folio-list.js";
import type { Machine } from "./machine.js";
import {
  folioExpectedRefCount, folioLock, folioTrylock, folioUnlock,
  MIGRATE_ASYNC, MIGRATE_MODE_NAMES, MIGRATE_REASON_NAMES, MIGRATE_SYNC, MIGRATE_SYNC_LIGHT, MR,
  NR_MAX_MIGRATE_ASYNC_RETRY, NR_MAX_MIGRATE_PAGES_RETRY, NR_MAX_MIGRATE_SYNC_RETRY, type MigrateMode,
} from "./migrate-util.js";
import { PAGE_SIZE } from "./physmem.js";
import { removeMigrationPtes, tryToMigrate, tryToUnmapFlush } from "./rmap.js";
import { trySplitFolio } from "./split.js";

/** Mirrors struct migrate_pages_stats (all page counts are base pages). */
export interface MigratePagesStats {
  nr_succeeded: number;
  nr_failed_pages: number;
  nr_thp_succeeded: number;
  nr_thp_failed: number;
  nr_thp_split: number;
  nr_split: number;
}

export function newMigratePagesStats(): MigratePagesStats {
  return { nr_succeeded: 0, nr_failed_pages: 0, nr_thp_succeeded: 0, nr_thp_failed: 0, nr_thp_split: 0, nr_split: 0 };
}

/**
 * new_folio_t: allocate a destination for src, or return -1 (mirrors get_new_folio). `priv` is what
 * the caller passed to migratePages() (migrate_pages()' `private`).
 */
export type NewFolioFn = (src: number, priv: any) => number;
/** free_folio_t: give back an unused destination (mirrors put_new_folio). */
export type FreeFolioFn = (dst: number, priv: any) => void;

/** Mirrors struct migration_target_control for alloc_migration_target(). */
export interface MigrationTargetControl {
  /** Target node. */
  readonly nid: number;
  /** __GFP_THISNODE: never fall back to another node (move_pages and migrate_pages(2) set it). */
  readonly thisNode: boolean;
}

/**
 * Mirrors alloc_migration_target(): a folio of the same order as src on the target node; hugetlb folios
 * come from the node's hugetlb pool. Returns -1 when the node cannot supply one.
 */
export function allocMigrationTarget(m: Machine, src: number, mtc: MigrationTargetControl): number {
  if (m.faults.migrateAlloc.armed && m.faults.migrateAlloc.shouldFail(src)) return -1;
  const f = m.folios;
  m.charge(Cost.FOLIO_ALLOC, 1);
  if (f.test(src, PG.hugetlb)) return m.hugetlbAlloc(mtc.nid);
  return m.folioAlloc(mtc.nid, f.order[src]!, mtc.thisNode);
}

/**
 * Per-call context threaded through the batch functions (no per-folio allocation). A class, so that
 * every context (migrate_pages_sync()'s async attempt has its own stats) has one hidden class and
 * the per-folio functions' property loads stay monomorphic.
 */
class Ctx {
  /** Out-parameter of migrateFolioUnmap. */
  dst = -1;
  /**
   * Sleep on a contended source lock and wait for writeback (6.1's `force`, passes after the third);
   * always true for migrate_pages_batch(), whose async first round stands in for the early passes.
   */
  force = true;
  // Counters shared by migrate_folios_move passes.
  retry = 0;
  thpRetry = 0;
  nrFailed = 0;
  nrRetryPages = 0;
  /**
   * migrate_pages_batch()'s unmapped pairs (src and dst lists, to the migrator and to the CPU copy),
   * reused by every batch of the call: a fresh set per batch was four typed arrays of the batch's length
   * (512 batches per GiB of 4K folios), each an off-heap allocation and external-memory GC pressure.
   * One batch runs at a time per context (the split pieces' batch starts after the parent's returns).
   */
  readonly unmapBatch = new FolioList();
  readonly dstBatch = new FolioList();
  readonly unmapSingle = new FolioList();
  readonly dstSingle = new FolioList();
  /** migrate_pages_sync()'s MIGRATE_ASYNC attempt: made on the first batch, reused (with its lists) by the rest. */
  private asyncAttempt: Ctx | null = null;

  constructor(
    readonly m: Machine,
    readonly getNew: NewFolioFn,
    readonly putNew: FreeFolioFn | null,
    readonly mode: MigrateMode,
    readonly reason: number,
    readonly stats: MigratePagesStats,
    readonly priv: unknown,
  ) {}

  /** The same call with stats of its own, all zero (its state words copied): one per call. */
  withZeroStats(): Ctx {
    let c = this.asyncAttempt;
    if (c === null) c = this.asyncAttempt = new Ctx(this.m, this.getNew, this.putNew, this.mode, this.reason, newMigratePagesStats(), this.priv);
    else Object.assign(c.stats, newMigratePagesStats());
    c.dst = this.dst;
    c.force = this.force;
    c.retry = this.retry;
    c.thpRetry = this.thpRetry;
    c.nrFailed = this.nrFailed;
    c.nrRetryPages = this.nrRetryPages;
    return c;
  }
}

/**
 * Mirrors migrate_pages(): migrate the isolated folios on `from` (each holding one isolation
 * reference). Returns the number of folios not migrated (a split large folio counts once), or -ENOMEM.
 * Folios that were not migrated are left on `from`; the caller must putbackMovablePages() them when the
 * result is non-zero. `retSucceeded.value` receives the number of base pages migrated. `priv` is handed
 * to getNew and putNew with every folio (migrate_pages()' `private`): a caller whose state lives in it
 * can pass a module-level function, whose compiled per-folio path outlives the call (a closure made per
 * call, inlined into that path, takes the optimised code with it when it is collected).
 */
export function migratePages(
  m: Machine, from: FolioList, getNew: NewFolioFn, putNew: FreeFolioFn | null,
  mode: MigrateMode, reason: number, retSucceeded?: { value: number }, priv: unknown = null,
): number {
  const stats = newMigratePagesStats();
  const ctx = new Ctx(m, getNew, putNew, mode, reason, stats, priv);
  if (m.tp.migratePagesStart.enabled) m.tp.migratePagesStart.emit({ mode: MIGRATE_MODE_NAMES[mode], reason: MIGRATE_REASON_NAMES[reason] ?? String(reason) });
  const retFolios = new FolioList();
  let rcGather = m.settings.migratePagesBatch ? migratePagesBatched(ctx, from, retFolios) : migratePagesUnbatched(ctx, from, retFolios);
  retFolios.spliceTailInto(from);
  if (from.empty) rcGather = 0;
  const ev = m.vmEvents;
  if (reason === MR.NUMA_MISPLACED) ev.numa_pages_migrated += stats.nr_succeeded;
  ev.pgmigrate_success += stats.nr_succeeded;
  ev.pgmigrate_fail += stats.nr_failed_pages;
  ev.thp_migration_success += stats.nr_thp_succeeded;
  ev.thp_migration_fail += stats.nr_thp_failed;
  ev.thp_migration_split += stats.nr_thp_split;
  if (m.tp.migratePages.enabled) {
    m.tp.migratePages.emit({
      nr_succeeded: stats.nr_succeeded, nr_failed: stats.nr_failed_pages, nr_thp_succeeded: stats.nr_thp_succeeded,
      nr_thp_failed: stats.nr_thp_failed, nr_thp_split: stats.nr_thp_split, nr_split: stats.nr_split,
      mode: MIGRATE_MODE_NAMES[mode], reason: MIGRATE_REASON_NAMES[reason] ?? String(reason),
    });
  }
  if (retSucceeded) retSucceeded.value = stats.nr_succeeded;
  lastStats.set(m, stats);
  return rcGather;
}

/**
 * The body of migrate_pages() since the batched TLB flush: hugetlb folios first, then the rest in batches
 * of NR_MAX_BATCHED_MIGRATION pages, each through migrate_pages_batch() (MIGRATE_ASYNC) or
 * migrate_pages_sync(). Failures end on `retFolios`.
 */
function migratePagesBatched(ctx: Ctx, from: FolioList, retFolios: FolioList): number {
  const { m, mode } = ctx;
  const f = m.folios;
  const splitFolios = new FolioList();
  const batch = new FolioList();
  let rcGather = migrateHugetlbs(ctx, from, retFolios);
  if (rcGather >= 0) {
    // from now holds only non-hugetlb folios; migrate them batch by batch.
    let cursor = 0;
    const rest = from.snapshot();
    from.clear();
    while (cursor < rest.length) {
      batch.clear();
      let nrPages = 0;
      while (cursor < rest.length) {
        const folio = rest[cursor++]!;
        if (f.test(folio, PG.hugetlb)) {
          retFolios.push(folio);
          continue;
        }
        batch.push(folio);
        nrPages += f.nrPages(folio);
        if (nrPages >= m.settings.nrMaxBatchedMigration) break;
      }
      if (batch.empty) break;
      const rc = mode === MIGRATE_ASYNC
        ? migratePagesBatch(ctx, batch, mode, retFolios, splitFolios, NR_MAX_MIGRATE_PAGES_RETRY)
        : migratePagesSync(ctx, batch, retFolios, splitFolios);
      batch.spliceTailInto(retFolios);
      if (rc < 0) {
        rcGather = rc;
        splitFolios.spliceTailInto(retFolios);
        for (let i = cursor; i < rest.length; i++) retFolios.push(rest[i]!);
        break;
      }
      if (!splitFolios.empty) {
        // Pieces of split large folios: async, one pass, no further splitting; the parent already
        // counted as one failure, so the result is ignored.
        const pieces = new FolioList(splitFolios.length);
        splitFolios.spliceTailInto(pieces);
        migratePagesBatch(ctx, pieces, MIGRATE_ASYNC, retFolios, null, 1);
        pieces.spliceTailInto(retFolios);
      }
      rcGather += rc;
    }
  }
  return rcGather;
}

/**
 * Mirrors migrate_pages() of 6.1, before the batched TLB flush: up to 10 passes over the list in the
 * caller's mode, each folio allocated a target, unmapped with an immediate flush per page, copied and
 * remapped by unmap_and_move() before the next one; hugetlb folios in the same loop. -EAGAIN waits for
 * the next pass; a contended lock is slept on, and writeback waited for, only from the fourth pass
 * (`force`). A large folio that cannot get a target is split and its pieces migrated after the rest,
 * their failures uncounted (the large folio counted once). Any large folio counts in the THP stats, as
 * PageTransHuge() did.
 */
function migratePagesUnbatched(ctx: Ctx, from: FolioList, retFolios: FolioList): number {
  const { m, stats, reason } = ctx;
  const f = m.folios;
  const nosplit = reason === MR.NUMA_MISPLACED;
  const splitFolios = new FolioList();
  let nrFailed = 0;
  let nrThpFailed = 0;
  let retry = 1;
  let thpRetry = 1;
  let nrRetryPages = 0;
  let noSubpageCounting = false;
  for (;;) {
    for (let pass = 0; pass < NR_MAX_MIGRATE_PAGES_RETRY && (retry > 0 || thpRetry > 0); pass++) {
      retry = 0;
      thpRetry = 0;
      nrRetryPages = 0;
      ctx.force = pass > 2;
      let keep = 0;
      const n = from.length;
      for (let i = 0; i < n; i++) {
        const folio = from.get(i);
        const hugetlb = f.test(folio, PG.hugetlb);
        const isThp = f.isLarge(folio) && !hugetlb;
        const nrPages = f.nrPages(folio);
        const rc = hugetlb ? unmapAndMoveHugePage(ctx, folio, ctx.force, retFolios) : unmapAndMove(ctx, folio, retFolios);
        if (rc === 0) {
          stats.nr_succeeded += nrPages;
          if (isThp) stats.nr_thp_succeeded++;
        } else if (rc === -EAGAIN) {
          if (isThp) thpRetry++;
          else if (!noSubpageCounting) retry++;
          nrRetryPages += nrPages;
          from.pfns[keep++] = folio;
        } else if (rc === -ENOMEM) {
          // Low memory: stop; a large folio is split first and its pieces wait for the second round.
          if (isThp) {
            nrThpFailed++;
            if (!nosplit && trySplitFolio(m, folio, splitFolios, MIGRATE_SYNC) === 0) {
              stats.nr_thp_split++;
              continue;
            }
          } else if (!noSubpageCounting) nrFailed++;
          stats.nr_failed_pages += nrPages + nrRetryPages;
          from.pfns[keep++] = folio;
          for (let j = i + 1; j < n; j++) from.pfns[keep++] = from.get(j);
          from.length = keep;
          splitFolios.spliceTailInto(from);
          stats.nr_thp_failed += nrThpFailed + thpRetry;
          return -ENOMEM;
        } else {
          // Permanent failure (-EBUSY, ...): unmap_and_move() put it on retFolios.
          if (isThp) nrThpFailed++;
          else if (!noSubpageCounting) nrFailed++;
          stats.nr_failed_pages += nrPages;
        }
      }
      from.length = keep;
    }
    nrFailed += retry;
    nrThpFailed += thpRetry;
    stats.nr_failed_pages += nrRetryPages;
    if (splitFolios.empty) break;
    // Second round: the pieces of split large folios; what is still on from after 10 passes stays failed.
    from.spliceTailInto(retFolios);
    splitFolios.spliceTailInto(from);
    noSubpageCounting = true;
    retry = 1;
  }
  stats.nr_thp_failed += nrThpFailed;
  return nrFailed + nrThpFailed;
}

/**
 * Mirrors unmap_and_move() and __unmap_and_move() of 6.1: a target for one folio, unmap with an
 * immediate TLB flush (try_to_migrate without TTU_BATCH_FLUSH), move, remap; on -EAGAIN the folio is
 * remapped to itself, the target freed, and the folio stays on the list for the next pass.
 */
function unmapAndMove(ctx: Ctx, src: number, ret: FolioList): number {
  const { m, reason } = ctx;
  const f = m.folios;
  if (!f.test(src, PG.movableOps) && f.refcount[src] === 1) {
    // Freed by its owner while isolated.
    f.clear(src, PG.active | PG.unevictable);
    migrateFolioDone(m, src, reason);
    return 0;
  }
  const rc = migrateFolioUnmap(ctx, src, ctx.mode, ret);
  if (rc !== 0) return rc;
  const dst = ctx.dst;
  const info = f.migrateInfo[dst]!;
  const moved = migrateFolioMove(ctx, src, dst, ret, false);
  if (moved === -EAGAIN) {
    migrateFolioUndoSrc(m, src, (info & FOLIO_WAS_MAPPED) !== 0, MemMap.migrateInfoAnonVma(info), true, null);
    migrateFolioUndoDst(ctx, dst, true);
  }
  return moved;
}

/** The batched flush applies to migrate_pages_batch()'s async unmap only (TTU_BATCH_FLUSH). */
function ttuBatchFlush(m: Machine, mode: MigrateMode): boolean {
  return mode === MIGRATE_ASYNC && m.settings.migratePagesBatch;
}

/** The stats of the last migrate_pages() call on a machine (for tests and reports). */
const lastStats = new WeakMap<Machine, MigratePagesStats>();
export function lastMigrateStats(m: Machine): MigratePagesStats | undefined {
  return lastStats.get(m);
}

/**
 * Mirrors migrate_pages_sync(): one batched MIGRATE_ASYNC attempt with 3 passes, then every failure is
 * retried alone in the caller's mode with 7 passes.
 */
function migratePagesSync(ctx: Ctx, from: FolioList, retFolios: FolioList, splitFolios: FolioList): number {
  const { stats } = ctx;
  const actx = ctx.withZeroStats();
  const astats = actx.stats;
  const failed = new FolioList();
  let nrFailed = 0;
  let rc = migratePagesBatch(actx, from, MIGRATE_ASYNC, failed, splitFolios, NR_MAX_MIGRATE_ASYNC_RETRY);
  stats.nr_succeeded += astats.nr_succeeded;
  stats.nr_thp_succeeded += astats.nr_thp_succeeded;
  stats.nr_thp_split += astats.nr_thp_split;
  stats.nr_split += astats.nr_split;
  if (rc < 0) {
    stats.nr_failed_pages += astats.nr_failed_pages;
    stats.nr_thp_failed += astats.nr_thp_failed;
    failed.spliceTailInto(retFolios);
    return rc;
  }
  stats.nr_thp_failed += astats.nr_thp_split;
  nrFailed += astats.nr_split;
  // Everything that failed (left on from, or permanently failed in async mode) is retried alone.
  failed.spliceTailInto(from);
  const all = from.snapshot();
  from.clear();
  const one = new FolioList(1);
  for (let i = 0; i < all.length; i++) {
    one.clear();
    one.push(all[i]!);
    rc = migratePagesBatch(ctx, one, ctx.mode, retFolios, splitFolios, NR_MAX_MIGRATE_SYNC_RETRY);
    one.spliceTailInto(retFolios);
    if (rc < 0) {
      for (let j = i + 1; j < all.length; j++) retFolios.push(all[j]!);
      return rc;
    }
    nrFailed += rc;
  }
  return nrFailed;
}

/**
 * Mirrors migrate_pages_batch(). Phase A unmaps every folio (migration entries, deferred TLB flush),
 * one try_to_unmap_flush() covers the batch, the series' batch copy runs, then Phase B moves each pair.
 * Folios still failing with -EAGAIN stay on `from`; permanent failures go to `retFolios`.
 */
function migratePagesBatch(
  ctx: Ctx, from: FolioList, mode: MigrateMode, retFolios: FolioList, splitFolios: FolioList | null, nrPass: number,
): number {
  const { m, stats, reason } = ctx;
  const f = m.folios;
  const nosplit = reason === MR.NUMA_MISPLACED || splitFolios === null;
  const offload = m.hooks.offload;
  const doBatch = offload !== null && offload.doBatch(reason);
  const v6 = m.settings.offloadSemantics === "v6";
  // Unmapped pairs: the batch lists go to the migrator; the single lists are copied by the CPU.
  const { unmapBatch, dstBatch, unmapSingle, dstSingle } = ctx;
  unmapBatch.reset(doBatch ? from.length : 0);
  dstBatch.reset(doBatch ? from.length : 0);
  unmapSingle.reset(doBatch ? 4 : from.length);
  dstSingle.reset(doBatch ? 4 : from.length);
  let nrFailed = 0;
  let rcSaved = 0;
  let retry = 1;
  let thpRetry = 0;
  let nrRetryPages = 0;
  let nrMovableOps = 0;
  let nrRefMismatch = 0;
  m.charge(Cost.MIGRATE_BATCH, 1);
  if (m.tp.batchStart.enabled) {
    let pages = 0;
    for (let i = 0; i < from.length; i++) pages += f.nrPages(from.get(i));
    m.tp.batchStart.emit({ nr_folios: from.length, nr_pages: pages, mode: MIGRATE_MODE_NAMES[mode], nr_pass: nrPass, offload: doBatch });
  }
  m.checker?.batchStart();
  const startSucceeded = stats.nr_succeeded;
  const startFailedPages = stats.nr_failed_pages;

  // ---- Phase A: unmap --------------------------------------------------------------------------
  let stop = false;
  for (let pass = 0; pass < nrPass && retry > 0 && !stop; pass++) {
    retry = 0;
    thpRetry = 0;
    nrRetryPages = 0;
    let keep = 0; // from is compacted in place: folios that stay are moved to the front
    const n = from.length;
    let i = 0;
    for (; i < n; i++) {
      const folio = from.get(i);
      const nrPages = f.nrPages(folio);
      const isLarge = nrPages > 1;
      const isThp = f.isPmdMappable(folio) ? 1 : 0;
      // A partially mapped large folio is split rather than migrated whole.
      if (nrPages > 2 && !nosplit && f.test(folio, PG.deferredSplit)) {
        if (trySplitFolio(m, folio, splitFolios!, mode) === 0) {
          nrFailed++;
          stats.nr_thp_failed += isThp;
          stats.nr_thp_split += isThp;
          stats.nr_split++;
          continue;
        }
      }
      // The owner freed it while isolated: we hold the last reference.
      if (!f.test(folio, PG.movableOps) && f.refcount[folio] === 1) {
        f.clear(folio, PG.active | PG.unevictable);
        migrateFolioDone(m, folio, reason);
        stats.nr_succeeded += nrPages;
        stats.nr_thp_succeeded += isThp;
        continue;
      }
      const rc = migrateFolioUnmap(ctx, folio, mode, retFolios);
      if (rc === 0) {
        // V6 also requires the refcount to be what the move will expect before batching it.
        const batchable = doBatch && !f.test(folio, PG.movableOps) &&
          (!v6 || f.refcount[folio] === folioExpectedRefCount(m, folio) + 1);
        if (batchable) {
          unmapBatch.push(folio);
          dstBatch.push(ctx.dst);
        } else {
          if (doBatch) {
            if (f.test(folio, PG.movableOps)) nrMovableOps++;
            else nrRefMismatch++;
          }
          unmapSingle.push(folio);
          dstSingle.push(ctx.dst);
        }
      } else if (rc === -EAGAIN) {
        retry++;
        thpRetry += isThp;
        nrRetryPages += nrPages;
        from.pfns[keep++] = folio;
      } else if (rc === -ENOMEM) {
        // Low memory: stop unmapping, move what is unmapped, then return -ENOMEM.
        nrFailed++;
        stats.nr_thp_failed += isThp;
        if (isLarge && !nosplit) {
          const ret = trySplitFolio(m, folio, splitFolios!, mode);
          if (ret === 0) {
            stats.nr_thp_split += isThp;
            stats.nr_split++;
            continue;
          } else if (reason === MR.LONGTERM_PIN && ret === -EAGAIN) {
            retry++;
            thpRetry += isThp;
            nrRetryPages += nrPages;
            nrFailed--;
            stats.nr_thp_failed -= isThp;
            from.pfns[keep++] = folio;
            continue;
          }
        }
        stats.nr_failed_pages += nrPages + nrRetryPages;
        stats.nr_thp_failed += thpRetry;
        rcSaved = rc;
        from.pfns[keep++] = folio;
        for (let j = i + 1; j < n; j++) from.pfns[keep++] = from.get(j);
        stop = true;
        break;
      } else {
        // Permanent failure (-EBUSY, ...): migrateFolioUnmap put it on retFolios.
        nrFailed++;
        stats.nr_thp_failed += isThp;
        stats.nr_failed_pages += nrPages;
      }
    }
    from.length = keep;
  }
  if (!stop) {
    nrFailed += retry;
    stats.nr_thp_failed += thpRetry;
    stats.nr_failed_pages += nrRetryPages;
  }

  // Folios an offloading batch leaves to the CPU, counted once per batch.
  if (nrMovableOps > 0) offload!.noteFallback?.("movable_ops", nrMovableOps);
  if (nrRefMismatch > 0) offload!.noteFallback?.("refcount", nrRefMismatch);

  // ---- One TLB flush for the whole batch -------------------------------------------------------
  if (!unmapBatch.empty || !unmapSingle.empty) {
    tryToUnmapFlush(m, m.current);
    m.checker?.afterFlush();

    // ---- The series: copy the whole batch at once, before any move -----------------------------
    let batchCopied = false;
    if (!unmapBatch.empty) batchCopied = migrateOffloadBatchCopy(m, dstBatch, unmapBatch, v6);

    // ---- Phase B: move ---------------------------------------------------------------------------
    retry = 1;
    for (let pass = 0; pass < nrPass && retry > 0; pass++) {
      ctx.retry = 0;
      ctx.thpRetry = 0;
      ctx.nrRetryPages = 0;
      ctx.nrFailed = 0;
      migrateFoliosMove(ctx, unmapBatch, dstBatch, retFolios, batchCopied && !v6);
      migrateFoliosMove(ctx, unmapSingle, dstSingle, retFolios, false);
      retry = ctx.retry;
      nrFailed += ctx.nrFailed;
    }
    nrFailed += ctx.retry;
    stats.nr_thp_failed += ctx.thpRetry;
    stats.nr_failed_pages += ctx.nrRetryPages;
  }
  const rc = rcSaved !== 0 ? rcSaved : nrFailed;
  // Cleanup: pairs still unmapped after the last pass are restored.
  migrateFoliosUndo(ctx, unmapBatch, dstBatch, retFolios);
  migrateFoliosUndo(ctx, unmapSingle, dstSingle, retFolios);
  m.checker?.batchEnd();
  if (m.tp.batchEnd.enabled) m.tp.batchEnd.emit({ rc, nr_succeeded: stats.nr_succeeded - startSucceeded, nr_failed_pages: stats.nr_failed_pages - startFailedPages });
  return rc;
}

/**
 * Mirrors migrate_offload_batch_copy() (the series, mm/migrate_copy_offload.c): hand the whole batch to
 * the registered migrator inside the SRCU read section. V5 returns "all copied" only for rc == 0; V6
 * trusts the per-dst FOLIO_CONTENT_COPIED marks the copier sets, so the return value only informs.
 */
function migrateOffloadBatchCopy(m: Machine, dst: FolioList, src: FolioList, v6: boolean): boolean {
  const hook = m.hooks.offload!;
  const checker = m.checker;
  let copier = "";
  if (checker !== null) {
    for (let i = 0; i < src.length; i++) checker.beforeCopy(dst.get(i), src.get(i), "batch");
    copier = hook.copierName?.() ?? "(offload hook)";
    checker.offloadStart(copier, dst.pfns, src.pfns, src.length);
  }
  m.charge(Cost.OFFLOAD_CALL, 1);
  const rc = hook.batchCopy(dst.pfns, src.pfns, src.length);
  if (checker !== null) checker.offloadEnd(copier, dst.pfns, src.pfns, src.length, rc, v6);
  if (m.tp.batchCopy.enabled) m.tp.batchCopy.emit({ nr_folios: src.length, rc });
  if (v6) return false;
  return rc === 0;
}

/**
 * Mirrors the default static-call target folios_mc_copy() (mm/util.c in the series): a CPU copy of
 * every pair, stopping at the first failure. Under V6 semantics each copied dst is marked.
 */
export function foliosMcCopy(m: Machine, dst: Int32Array, src: Int32Array, count: number): number {
  const v6 = m.settings.offloadSemantics === "v6";
  for (let i = 0; i < count; i++) {
    const rc = folioMcCopy(m, dst[i]!, src[i]!);
    if (rc !== 0) return rc;
    if (v6) m.folios.migrateInfo[dst[i]!]! |= FOLIO_CONTENT_COPIED;
  }
  return 0;
}

/**
 * Mirrors folio_mc_copy() (mm/util.c): copy page by page with machine-check-safe copies; a poisoned
 * source page stops the copy with -EHWPOISON.
 */
export function folioMcCopy(m: Machine, dst: number, src: number): number {
  const nr = 1 << m.folios.order[src]!;
  const poisoned = m.mem.poisoned;
  for (let k = 0; k < nr; k++) {
    if (poisoned[src + k] !== 0) return -EHWPOISON;
  }
  if (m.faults.copyHwpoison.armed && m.faults.copyHwpoison.shouldFail(src)) return -EHWPOISON;
  m.charge(Cost.CPU_COPY_PAGE, nr);
  // One CPU copy path: through the machine's fabric when the timing model has one (sharing node
  // memory and the cross-socket link with DMA and other copies), else charged per byte.
  const cost = m.core.cost;
  if (cost.cpuCopy !== undefined) cost.cpuCopy(m.mem.nodeOfPfn[src]!, m.mem.nodeOfPfn[dst]!, nr * PAGE_SIZE);
  else m.charge(Cost.CPU_COPY_BYTE, nr * PAGE_SIZE);
  m.mem.copyPages(dst, src, nr);
  return 0;
}

/**
 * Mirrors migrate_folio_unmap(): allocate dst, lock src (and dst), take the anon_vma reference and
 * replace every mapping with a migration entry. 0 = unmapped (ctx.dst set); -EAGAIN leaves src on the
 * list; other errors (-ENOMEM before anything was done, -EBUSY) are permanent: src goes to `ret`
 * except for -ENOMEM, which the batch handles.
 */
function migrateFolioUnmap(ctx: Ctx, src: number, mode: MigrateMode, ret: FolioList): number {
  const { m } = ctx;
  const f = m.folios;
  const dst = ctx.getNew(src, ctx.priv);
  if (dst < 0) return -ENOMEM;
  ctx.dst = dst;
  f.migrateInfo[dst] = 0;
  m.charge(Cost.FOLIO_WARM_SET, 1);
  m.charge(Cost.FOLIO_UNMAP, 1);
  let rc = -EAGAIN;
  let locked = false;
  let dstLocked = false;
  let state = 0;
  let anonVma = 0;
  out: {
    if (!folioTrylock(m, src)) {
      if (mode === MIGRATE_ASYNC || !ctx.force) break out;
      if (m.current.memalloc) break out;
      if (mode === MIGRATE_SYNC_LIGHT && !f.test(src, PG.uptodate)) break out;
      folioLock(m, src);
    }
    locked = true;
    if (f.test(src, PG.mlocked)) state |= FOLIO_WAS_MLOCKED;
    if (f.test(src, PG.writeback)) {
      if (mode !== MIGRATE_SYNC) {
        rc = -EBUSY;
        break out;
      }
      if (!ctx.force) break out;
      folioWaitWriteback(m, src);
    }
    if (f.isAnon(src) && !f.test(src, PG.ksm)) {
      // folio_get_anon_vma(): keep the anon_vma alive while the folio is unmapped.
      anonVma = f.mapping[src]!;
      m.anonVmas[anonVma]!.refcount++;
    }
    if (!folioTrylock(m, dst)) break out;
    dstLocked = true;
    if (f.test(src, PG.movableOps)) {
      f.migrateInfo[dst] = MemMap.packMigrateInfo(anonVma, state);
      return 0;
    }
    if (f.mapping[src] === 0) {
      if (f.test(src, PG.private)) break out; // try_to_free_buffers(); -EAGAIN
    } else if (f.mapcount[src]! > 0) {
      tryToMigrate(m, src, ttuBatchFlush(m, mode));
      state |= FOLIO_WAS_MAPPED;
    }
    if (f.mapcount[src] === 0) {
      f.migrateInfo[dst] = MemMap.packMigrateInfo(anonVma, state);
      return 0;
    }
  }
  migrateFolioUndoSrc(m, src, (state & FOLIO_WAS_MAPPED) !== 0, anonVma, locked, rc === -EAGAIN ? null : ret);
  migrateFolioUndoDst(ctx, dst, dstLocked);
  return rc;
}

/**
 * folio_wait_writeback(): writeback completes in virtual time (a scenario ends it). A function of its
 * own so that migrateFolioUnmap() captures nothing in a closure: a captured variable would make it
 * allocate a context object on every call, once per folio.
 */
function folioWaitWriteback(m: Machine, folio: number): void {
  m.sim.runUntil(() => !m.folios.test(folio, PG.writeback), undefined, `folio_wait_writeback(${folio})`);
}

/**
 * Mirrors migrate_folios_move(): try to move every pair once. Pairs that succeed or fail permanently
 * leave the lists; -EAGAIN pairs stay for the next pass.
 */
function migrateFoliosMove(ctx: Ctx, srcs: FolioList, dsts: FolioList, ret: FolioList, alreadyCopied: boolean): void {
  const { m, stats } = ctx;
  const f = m.folios;
  let keep = 0;
  for (let i = 0; i < srcs.length; i++) {
    const src = srcs.get(i);
    const dst = dsts.get(i);
    const nrPages = f.nrPages(src);
    const isThp = f.isPmdMappable(src) && !f.test(src, PG.hugetlb) ? 1 : 0;
    const rc = migrateFolioMove(ctx, src, dst, ret, alreadyCopied);
    if (rc === -EAGAIN) {
      ctx.retry++;
      ctx.thpRetry += isThp;
      ctx.nrRetryPages += nrPages;
      srcs.pfns[keep] = src;
      dsts.pfns[keep] = dst;
      keep++;
    } else if (rc === 0) {
      stats.nr_succeeded += nrPages;
      stats.nr_thp_succeeded += isThp;
    } else {
      ctx.nrFailed++;
      stats.nr_thp_failed += isThp;
      stats.nr_failed_pages += nrPages;
    }
  }
  srcs.length = keep;
  dsts.length = keep;
}

/**
 * Mirrors migrate_folio_move(): move contents and metadata to dst, map dst where src was, release src.
 * -EAGAIN keeps the pair (state word re-recorded); any other error undoes both sides.
 */
function migrateFolioMove(ctx: Ctx, src: number, dst: number, ret: FolioList, alreadyCopied: boolean): number {
  const { m, reason } = ctx;
  const f = m.folios;
  const info = f.migrateInfo[dst]!;
  const state = info & (FOLIO_WAS_MAPPED | FOLIO_WAS_MLOCKED);
  const anonVma = MemMap.migrateInfoAnonVma(info);
  // __migrate_folio_extract() clears the word; V6's copied mark is read from it as it goes.
  f.migrateInfo[dst] = 0;
  // V5 passes the batch's all-or-nothing decision; V6 trusts only the per-folio mark the copier set.
  const copied = alreadyCopied || (m.settings.offloadSemantics === "v6" && (info & FOLIO_CONTENT_COPIED) !== 0);
  m.charge(Cost.FOLIO_MOVE, 1);
  let rc: number;
  if (f.test(src, PG.movableOps)) {
    rc = migrateMovableOpsPage(m, dst, src);
    if (rc === 0 && m.checker) m.checker.folioMoved(src, dst);
  } else {
    rc = moveToNewFolio(ctx, dst, src, copied);
    if (rc === 0) {
      m.lruAdd(dst);
      // Verified before remove_migration_ptes() makes dst reachable: from then on a thread may write it.
      if (m.checker) m.checker.folioMoved(src, dst);
      if (state & FOLIO_WAS_MAPPED) removeMigrationPtes(m, src, dst);
    }
  }
  if (rc === 0) {
    folioUnlock(m, dst);
    m.folioPut(dst); // the allocation reference; dst lives on through its mappings, cache and LRU
    if (anonVma !== 0) putAnonVma(m, anonVma);
    folioUnlock(m, src);
    if (m.tp.folioMoved.enabled) m.tp.folioMoved.emit({ src, dst, nr_pages: f.nrPages(dst) });
    migrateFolioDone(m, src, reason);
    return 0;
  }
  if (rc === -EAGAIN) {
    // Re-record the state (V5 keeps the batch's already_copied decision for the next pass; V6's mark
    // was consumed, so the next pass copies again).
    f.migrateInfo[dst] = MemMap.packMigrateInfo(anonVma, state);
    return rc;
  }
  migrateFolioUndoSrc(m, src, (state & FOLIO_WAS_MAPPED) !== 0, anonVma, true, ret);
  migrateFolioUndoDst(ctx, dst, true);
  return rc;
}

/**
 * Mirrors move_to_new_folio(): dispatch on the folio's mapping. Anonymous folios (not in the swap
 * cache) use migrate_folio(); page-cache and swap-cache folios use filemap_migrate_folio(); both reach
 * __migrate_folio(). On success a page-cache src loses its mapping.
 */
function moveToNewFolio(ctx: Ctx, dst: number, src: number, copied: boolean): number {
  const { m } = ctx;
  const f = m.folios;
  const rc = migrateFolio(ctx, dst, src, copied);
  if (rc === 0 && !f.isAnon(src)) f.mapping[src] = 0;
  return rc;
}

/**
 * Mirrors __migrate_folio(): expected-refcount check, content copy (skipped when the batch copy did
 * it), then the mapping switch under a refcount freeze, private data and flags.
 */
function migrateFolio(ctx: Ctx, dst: number, src: number, copied: boolean): number {
  const { m } = ctx;
  const f = m.folios;
  const expected = folioExpectedRefCount(m, src) + 1;
  if (m.faults.extraRef.armed && m.faults.extraRef.shouldFail(src)) return -EAGAIN;
  if (f.refcount[src] !== expected) return -EAGAIN;
  if (!copied) {
    if (m.checker) m.checker.beforeCopy(dst, src, "cpu");
    const rc = folioMcCopy(m, dst, src);
    if (rc !== 0) return rc;
  }
  folioMigrateMapping(m, dst, src, expected);
  if (f.test(src, PG.private)) {
    f.clear(src, PG.private);
    f.set(dst, PG.private);
  }
  folioMigrateFlags(m, dst, src);
  return 0;
}

/**
 * Mirrors __folio_migrate_mapping(): the point of no return. Anonymous folios just hand over index and
 * anon_vma; cache folios freeze src at the expected count, move the cache entries and references to
 * dst and unfreeze src at expected - nr.
 */
function folioMigrateMapping(m: Machine, dst: number, src: number, expected: number): void {
  const f = m.folios;
  const nr = f.nrPages(src);
  f.index[dst] = f.index[src]!;
  f.mapping[dst] = f.mapping[src]!;
  const flags = f.flags[src]!;
  f.flags[dst]! |= flags & (PG.anon | PG.swapbacked);
  if (flags & PG.anon) {
    if (flags & PG.deferredSplit) f.clear(src, PG.deferredSplit);
    if (!(flags & PG.swapcache)) return;
  }
  // folio_ref_freeze(src, expected) has succeeded (the caller checked the count).
  f.refcount[dst]! += nr;
  if (flags & PG.swapcache) {
    f.set(dst, PG.swapcache);
    f.clear(src, PG.swapcache);
  }
  if (flags & PG.dirty) {
    f.clear(src, PG.dirty);
    f.set(dst, PG.dirty);
  }
  if (!(flags & PG.anon)) {
    const space = m.spaces[f.mapping[src]!]!;
    for (let k = 0; k < nr; k++) space.cache[f.index[src]! + k] = dst;
  }
  f.refcount[src] = expected - nr;
}

/** Mirrors folio_migrate_flags(): carry the state flags to dst and end them on src. */
function folioMigrateFlags(m: Machine, dst: number, src: number): void {
  const f = m.folios;
  f.flags[dst]! |= f.flags[src]! & PG_MIGRATE_FLAGS;
  // mlocked src: dst stays mlocked only if remapped into a VM_LOCKED VMA (done by remove_migration_ptes).
  f.flags[dst]! &= ~(PG.mlocked | PG.unevictable);
  f.flags[src]! &= ~(PG.active | PG.unevictable | PG.mlocked | PG.dirty | PG.swapcache | PG.private);
  const nr = f.nrPages(src);
  for (let k = 0; k < nr; k++) {
    if (f.flags[src + k]! & PG.hwpoison) f.flags[dst + k]! |= PG.hwpoison;
  }
}

/** movable_ops pages (balloon, zsmalloc) move through their driver: a plain copy here. */
function migrateMovableOpsPage(m: Machine, dst: number, src: number): number {
  const rc = folioMcCopy(m, dst, src);
  if (rc !== 0) return -EAGAIN;
  m.folios.set(dst, PG.movableOps);
  return 0;
}

/**
 * Mirrors migrate_folio_done(): the isolated src is finished with (migrated, or freed by its owner):
 * NR_ISOLATED drops and the isolation reference goes (kept for MR_MEMORY_FAILURE, whose caller holds it).
 */
function migrateFolioDone(m: Machine, src: number, reason: number): void {
  // The kernel skips the NR_ISOLATED decrement for MR_DEMOTION because reclaim isolates without
  // counting; every mmemu isolation is counted, so every completion uncounts.
  if (!m.folios.test(src, PG.movableOps)) m.accountIsolated(src, -1);
  if (reason !== MR.MEMORY_FAILURE) m.folioPut(src);
}

/** put_anon_vma() */
function putAnonVma(m: Machine, id: number): void {
  m.anonVmas[id]!.refcount--;
}

/** Mirrors migrate_folio_undo_src(): remap src to itself, drop the anon_vma ref, unlock, maybe move to ret. */
function migrateFolioUndoSrc(m: Machine, src: number, wasMapped: boolean, anonVma: number, locked: boolean, ret: FolioList | null): void {
  if (wasMapped) {
    m.charge(Cost.FOLIO_UNDO, 1);
    removeMigrationPtes(m, src, src);
  }
  if (anonVma !== 0) putAnonVma(m, anonVma);
  if (locked) folioUnlock(m, src);
  if (ret !== null) ret.push(src);
}

/** Mirrors migrate_folio_undo_dst(): unlock and free the unused destination. */
function migrateFolioUndoDst(ctx: Ctx, dst: number, locked: boolean): void {
  const m = ctx.m;
  m.folios.migrateInfo[dst] = 0;
  if (locked) folioUnlock(m, dst);
  if (ctx.putNew !== null) ctx.putNew(dst, ctx.priv);
  else m.folioPut(dst);
}

/** Mirrors migrate_folios_undo(): restore every src still unmapped and free its dst. */
function migrateFoliosUndo(ctx: Ctx, srcs: FolioList, dsts: FolioList, ret: FolioList): void {
  const m = ctx.m;
  const f = m.folios;
  for (let i = 0; i < srcs.length; i++) {
    const src = srcs.get(i);
    const dst = dsts.get(i);
    const info = f.migrateInfo[dst]!;
    migrateFolioUndoSrc(m, src, (info & FOLIO_WAS_MAPPED) !== 0, MemMap.migrateInfoAnonVma(info), true, ret);
    migrateFolioUndoDst(ctx, dst, true);
  }
  srcs.clear();
  dsts.clear();
}

/**
 * Mirrors migrate_hugetlbs() and unmap_and_move_huge_page(): hugetlb folios move one at a time, never
 * batched; a contended lock is only waited for in MIGRATE_SYNC after the first three passes. Non-hugetlb
 * folios are left on `from` in order.
 */
function migrateHugetlbs(ctx: Ctx, from: FolioList, retFolios: FolioList): number {
  const { m, stats } = ctx;
  const f = m.folios;
  let hasHugetlb = false;
  for (let i = 0; i < from.length; i++) if (f.test(from.get(i), PG.hugetlb)) hasHugetlb = true;
  if (!hasHugetlb) return 0;
  let nrFailed = 0;
  let retry = 1;
  let nrRetryPages = 0;
  for (let pass = 0; pass < NR_MAX_MIGRATE_PAGES_RETRY && retry > 0; pass++) {
    retry = 0;
    nrRetryPages = 0;
    let keep = 0;
    for (let i = 0; i < from.length; i++) {
      const folio = from.get(i);
      if (!f.test(folio, PG.hugetlb)) {
        from.pfns[keep++] = folio;
        continue;
      }
      const nrPages = f.nrPages(folio);
      const rc = unmapAndMoveHugePage(ctx, folio, pass > 2, retFolios);
      if (rc === 0) stats.nr_succeeded += nrPages;
      else if (rc === -EAGAIN) {
        retry++;
        nrRetryPages += nrPages;
        from.pfns[keep++] = folio;
      } else if (rc === -ENOMEM) {
        stats.nr_failed_pages += nrPages + nrRetryPages;
        from.pfns[keep++] = folio;
        for (let j = i + 1; j < from.length; j++) from.pfns[keep++] = from.get(j);
        from.length = keep;
        return -ENOMEM;
      } else {
        nrFailed++;
        stats.nr_failed_pages += nrPages;
      }
    }
    from.length = keep;
  }
  nrFailed += retry;
  stats.nr_failed_pages += nrRetryPages;
  return nrFailed;
}

function unmapAndMoveHugePage(ctx: Ctx, src: number, force: boolean, ret: FolioList): number {
  const { m, mode } = ctx;
  const f = m.folios;
  if (f.refcount[src] === 1) {
    // Freed by its owner while isolated.
    putbackHugetlb(m, src);
    return 0;
  }
  const dst = ctx.getNew(src, ctx.priv);
  if (dst < 0) return -ENOMEM;
  let rc = -EAGAIN;
  let wasMapped = false;
  let anonVma = 0;
  m.charge(Cost.FOLIO_WARM_SET, 1);
  m.charge(Cost.FOLIO_UNMAP, 1);
  out: {
    if (!folioTrylock(m, src)) {
      if (!force || mode !== MIGRATE_SYNC) break out;
      folioLock(m, src);
    }
    if (f.isAnon(src)) {
      anonVma = f.mapping[src]!;
      m.anonVmas[anonVma]!.refcount++;
    }
    if (!folioTrylock(m, dst)) {
      folioUnlock(m, src);
      break out;
    }
    if (f.mapcount[src]! > 0) {
      tryToMigrate(m, src, false);
      wasMapped = true;
    }
    if (f.mapcount[src] === 0) {
      rc = migrateFolio(ctx, dst, src, false);
      if (rc === 0 && !f.isAnon(src)) f.mapping[src] = 0;
    }
    // Verified before remove_migration_ptes() makes dst reachable: from then on a thread may write it.
    if (rc === 0 && m.checker) m.checker.folioMoved(src, dst);
    if (wasMapped) removeMigrationPtes(m, src, rc === 0 ? dst : src);
    folioUnlock(m, dst);
    folioUnlock(m, src);
  }
  if (anonVma !== 0) putAnonVma(m, anonVma);
  if (rc === 0) {
    f.set(dst, PG.hugetlbMigratable);
    m.folioPut(dst);
    if (m.tp.folioMoved.enabled) m.tp.folioMoved.emit({ src, dst, nr_pages: f.nrPages(dst) });
    m.accountIsolated(src, -1);
    m.folioPut(src);
    return 0;
  }
  if (rc !== -EAGAIN) ret.push(src);
  if (ctx.putNew !== null) ctx.putNew(dst, ctx.priv);
  else m.folioPut(dst);
  return rc;
}

function putbackHugetlb(m: Machine, folio: number): void {
  m.folios.set(folio, PG.hugetlbMigratable);
  m.accountIsolated(folio, -1);
  m.folioPut(folio);
}

/** Mirrors folio_isolate_hugetlb(): take an in-use hugetlb folio for migration (one extra reference). */
export function folioIsolateHugetlb(m: Machine, folio: number): boolean {
  const f = m.folios;
  if (!f.test(folio, PG.hugetlb) || !f.test(folio, PG.hugetlbMigratable)) return false;
  f.clear(folio, PG.hugetlbMigratable);
  f.refcount[folio]!++;
  m.accountIsolated(folio, +1);
  return true;
}

/**
 * Mirrors isolate_folio_to_list(): isolate an LRU or hugetlb folio onto a migration list. False when it
 * is not isolatable (already isolated, not on the LRU, a zero/device page).
 */
export function isolateFolioToList(m: Machine, folio: number, list: FolioList): boolean {
  const f = m.folios;
  const ok = f.test(folio, PG.hugetlb) ? folioIsolateHugetlb(m, folio) : m.folioIsolateLru(folio);
  if (ok) {
    m.charge(Cost.FOLIO_ISOLATE, 1);
    list.push(folio);
  }
  return ok;
}

/** Mirrors putback_movable_pages(): return every folio left on the list to the LRU or hugetlb pool. */
export function putbackMovablePages(m: Machine, list: FolioList): void {
  const f = m.folios;
  for (let i = 0; i < list.length; i++) {
    const folio = list.get(i);
    m.charge(Cost.FOLIO_PUTBACK, 1);
    if (f.test(folio, PG.hugetlb)) putbackHugetlb(m, folio);
    else m.folioPutbackLru(folio);
  }
  list.clear();
}
