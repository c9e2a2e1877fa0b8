/**
 * Migration enums and the small folio helpers migration is built from: modes
 * (include/linux/migrate_mode.h), reasons (enum migrate_reason, include/linux/migrate.h), folio locks
 * (folio_trylock/folio_lock/folio_unlock in mm/filemap.c) and folio_expected_ref_count()
 * (include/linux/mm.h).
 */
import { WaitQueue } from "@mmemu/kernel";
import { PG } from "./folio.js";
import type { Machine } from "./machine.js";

export const MIGRATE_ASYNC = 0;
export const MIGRATE_SYNC_LIGHT = 1;
export const MIGRATE_SYNC = 2;
export type MigrateMode = typeof MIGRATE_ASYNC | typeof MIGRATE_SYNC_LIGHT | typeof MIGRATE_SYNC;
export const MIGRATE_MODE_NAMES = ["MIGRATE_ASYNC", "MIGRATE_SYNC_LIGHT", "MIGRATE_SYNC"] as const;

/** enum migrate_reason, in kernel order. */
export const MR = {
  COMPACTION: 0,
  MEMORY_FAILURE: 1,
  MEMORY_HOTPLUG: 2,
  SYSCALL: 3,
  MEMPOLICY_MBIND: 4,
  NUMA_MISPLACED: 5,
  CONTIG_RANGE: 6,
  LONGTERM_PIN: 7,
  DEMOTION: 8,
  DAMON: 9,
} as const;
export const MR_TYPES = 10;
/** migrate_reason_names[] as printed by the tracepoints. */
export const MIGRATE_REASON_NAMES = [
  "compaction", "memory_failure", "memory_hotplug", "syscall_or_cpuset", "mempolicy_mbind",
  "numa_misplaced", "contig_range", "longterm_pin", "demotion", "damon",
] as const;

/** Limits from mm/migrate.c. */
export const NR_MAX_MIGRATE_PAGES_RETRY = 10;
export const NR_MAX_MIGRATE_ASYNC_RETRY = 3;
export const NR_MAX_MIGRATE_SYNC_RETRY = NR_MAX_MIGRATE_PAGES_RETRY - NR_MAX_MIGRATE_ASYNC_RETRY;

/** Mirrors folio_trylock(); the folio_trylock fault point models contention by another locker. */
export function folioTrylock(m: Machine, folio: number): boolean {
  const f = m.folios;
  if ((f.flags[folio]! & PG.locked) !== 0) return false;
  if (m.faults.folioTrylock.armed && m.faults.folioTrylock.shouldFail(folio)) return false;
  f.flags[folio]! |= PG.locked;
  return true;
}

/**
 * Mirrors folio_lock(): sleep in virtual time until the lock is free. A lock that nothing will ever
 * release is a deadlock and stops the run with a DeadlockError naming the folio.
 */
export function folioLock(m: Machine, folio: number): void {
  const f = m.folios;
  if ((f.flags[folio]! & PG.locked) !== 0) {
    m.sim.runUntil(() => (f.flags[folio]! & PG.locked) === 0, undefined, `folio_lock(${folio})`);
  }
  f.flags[folio]! |= PG.locked;
}

/** Mirrors folio_unlock(): release and wake tasks waiting on the folio (PG_waiters). */
export function folioUnlock(m: Machine, folio: number): void {
  const f = m.folios;
  if ((f.flags[folio]! & PG.locked) === 0) throw new Error(`folio_unlock: folio ${folio} is not locked`);
  f.flags[folio]! &= ~PG.locked;
  if ((f.flags[folio]! & PG.waiters) !== 0) {
    f.flags[folio]! &= ~PG.waiters;
    const wq = m.folioWaiters.get(folio);
    if (wq) {
      m.folioWaiters.delete(folio);
      wq.wakeUpAll();
    }
  }
}

/** Queue `wake` to run when the folio is next unlocked (folio_wait_bit_common for callback waiters). */
export function folioWaitUnlock(m: Machine, folio: number, wake: () => void): void {
  let wq = m.folioWaiters.get(folio);
  if (wq === undefined) {
    wq = new WaitQueue(m.sim);
    m.folioWaiters.set(folio, wq);
  }
  wq.add(wake);
  m.folios.flags[folio]! |= PG.waiters;
}

/**
 * Mirrors folio_expected_ref_count(): the references a folio's mappings, page/swap cache and private
 * data account for (the caller adds its own).
 */
export function folioExpectedRefCount(m: Machine, folio: number): number {
  const f = m.folios;
  const flags = f.flags[folio]!;
  const nr = 1 << f.order[folio]!;
  let ref = 0;
  if ((flags & PG.anon) !== 0) {
    if ((flags & PG.swapcache) !== 0) ref += nr;
  } else {
    if (f.mapping[folio] !== 0) ref += nr;
    if ((flags & PG.swapcache) !== 0) ref += nr;
    if ((flags & PG.private) !== 0) ref += 1;
  }
  return ref + f.mapcount[folio]!;
}
