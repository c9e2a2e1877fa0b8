import { EBUSY, EINVAL, EIO, ENODEV, EOPNOTSUPP, errnoName, isErrno, type Tracepoint } from "@mmemu/kernel";
import { FOLIO_CONTENT_COPIED, foliosMcCopy, HPAGE_PUD_NR, PG, type Machine, type OffloadHook } from "@mmemu/mm-core";
import { modulePut, tryModuleGet, type Module } from "./module.js";
import { kernelLog, type KernelLog } from "./printk.js";
import { MIGRATE_OFFLOAD_REASONS_ALLOWED, MIGRATE_OFFLOAD_V5_REASONS } from "./reason-mask.js";
import { SrcuStruct } from "./srcu.js";

/**
 * The copy-offload registration core of the "Accelerate page migration with batch copying and
 * hardware offload" series: mm/migrate_copy_offload.c and include/linux/migrate_copy_offload.h (V5),
 * with the V4 (migrate_offload_start/stop, should_batch) and V6 (reason masks, per-folio
 * FOLIO_CONTENT_COPIED marks) variants selectable per machine.
 *
 * The kernel's pieces map one to one: the static key `migrate_offload_enabled` is {@link
 * MigrateCopyOffload.enabled}; the static call `migrate_offload_copy` is the current copy target
 * (the active migrator's callback, or the default CPU copier folios_mc_copy()); `migrator_mutex`
 * needs no model because registration never sleeps while holding it; `migrate_offload_srcu` is an
 * {@link SrcuStruct} whose readers are batch copies in flight, which may sleep for a whole DMA
 * transfer in virtual time.
 *
 * Building a machine with CONFIG_MIGRATION_COPY_OFFLOAD=y means calling {@link migrateOffloadInit}
 * (a migrator driver does it when it loads, as its Kconfig "select" would). Without it, every entry
 * point is the header's stub and returns -EOPNOTSUPP, and migrate_pages_batch() never batches.
 */

/** Mirrors MIGRATOR_NAME_LEN: the name array's size, NUL included. */
export const MIGRATOR_NAME_LEN = 32;

/**
 * Mirrors the offload_copy callback: copy `folioCnt` folios, `src[i]` into `dst[i]` (head pfns,
 * position-paired, equal sizes). Runs synchronously in the migrating task and may sleep in virtual
 * time. Returns 0 when every folio was copied, or -errno (the core then copies on the CPU: every
 * pair under V4/V5; under V6 each dst the callback did not mark with FOLIO_CONTENT_COPIED). It must
 * not touch folio flags, locks, references, mappings or the lists themselves.
 */
export type OffloadCopyFn = (dst: Int32Array, src: Int32Array, folioCnt: number) => number;

/** Mirrors struct migrator. */
export interface Migrator {
  /** Up to MIGRATOR_NAME_LEN - 1 characters (the kernel's char array keeps a NUL). */
  readonly name: string;
  /** The batch copier; a migrator without one is incomplete (-EINVAL). */
  readonly offloadCopy: OffloadCopyFn | null;
  /** The module providing the code, pinned while registered. Required in V5; V4 and V6 accept null (built-in). */
  readonly owner: Module | null;
  /** V4 only: which migration reasons to batch; absent means none (migrate_should_batch_default()). */
  readonly shouldBatch?: ((reason: number) => boolean) | null;
}

/** Which posting of the series the machine follows. */
export type OffloadSeries = "v4" | "v5" | "v6";
const SERIES: readonly OffloadSeries[] = ["v4", "v5", "v6"];

/** Counters of the offload core (one record, every counter listed up front). */
export interface MigrateOffloadStats {
  /** Successful registrations. */
  registered: number;
  /** Failed registration attempts (any errno). */
  registerFailures: number;
  /** Completed unregistrations (module reference dropped). */
  unregistered: number;
  /** migrate_offload_batch_copy() calls. */
  batchCalls: number;
  /** Folios handed to a copier. */
  foliosOffered: number;
  /** Calls that returned non-zero. */
  batchErrors: number;
  /** V6: destinations the copier marked FOLIO_CONTENT_COPIED. */
  foliosMarked: number;
  /** Batches in which the CPU copied some folio the batch offered to offload. */
  fallbackBatches: number;
  /**
   * Folios the CPU copied instead of the copier, by cause: the copier's errno name ("ENODEV",
   * "ETIMEDOUT", ...; "EBADRET" for a return outside the contract), "unmarked" (V6: returned 0 but
   * left the destination unmarked), and the core's by-design exclusions "movable_ops" and
   * "refcount" (V6's pre-check). Counted once per batch.
   */
  fallbackFolios: Record<string, number>;
}

/** Fallback causes that are the design, not a copier failure: strict mode accepts them. */
export const MIGRATE_OFFLOAD_DESIGN_FALLBACKS: readonly string[] = Object.freeze(["movable_ops", "refcount"]);
const BY_DESIGN_FALLBACKS = MIGRATE_OFFLOAD_DESIGN_FALLBACKS;
/** Strict-mode failures kept in full (later ones are counted only). */
const STRICT_KEEP = 20;

/** The per-machine state of mm/migrate_copy_offload.c; installed as the machine's offload hook. */
export class MigrateCopyOffload implements OffloadHook {
  readonly m: Machine;
  /** Which series' rules apply; change with {@link migrateOffloadSetSeries}. */
  series: OffloadSeries;
  /** The static key migrate_offload_enabled. */
  enabled = false;
  /** active_migrator. */
  active: Migrator | null = null;
  /** V6 active_reason_mask. */
  reasonMask = 0;
  readonly srcu: SrcuStruct;
  readonly log: KernelLog;
  readonly stats: MigrateOffloadStats = {
    registered: 0, registerFailures: 0, unregistered: 0, batchCalls: 0, foliosOffered: 0, batchErrors: 0, foliosMarked: 0,
    fallbackBatches: 0, fallbackFolios: {},
  };
  /**
   * Strict offload (`--strict-offload`, a scenario's `machine.strict_offload`): a batch the copier
   * should have copied but left to the CPU is recorded in {@link strictFailures}, and the command
   * fails the run. Nothing is thrown inside the migration, so the machine stays consistent.
   */
  strict = false;
  /** The first strict-mode failures, one line each; {@link strictFailureCount} counts all. */
  readonly strictFailures: string[] = [];
  strictFailureCount = 0;
  /** The owner module's refcount before registration, to check the unregistration balances it. */
  private ownerRefsBefore = 0;
  /** The batch being counted for fallbacks (stats.fallbackBatches counts each batch once). */
  private fallbackBatchSeen = -1;
  readonly tpRegister: Tracepoint<{ name: string; ret: number; reason_mask: number }>;
  readonly tpUnregister: Tracepoint<{ name: string; ret: number }>;
  readonly tpCopyStart: Tracepoint<{ migrator: string; nr_folios: number }>;
  readonly tpCopyEnd: Tracepoint<{ migrator: string; nr_folios: number; rc: number; marked: number; ns: number }>;
  /**
   * Exceptions thrown by a migrator's offload_copy (an oops in its module), oldest first. The batch
   * they interrupted fell back to the CPU copy, so the machine stays consistent; whoever runs the
   * machine reports them (with the migrator's own stack frames) and stops.
   */
  readonly oopses: Array<{ readonly migrator: string; readonly error: unknown }> = [];
  /** The static call's current target and its name for traces. */
  private copyFn: OffloadCopyFn;
  private copyName: string;
  private readonly defaultCopy: OffloadCopyFn;
  /** V4's second static call, migrate_should_batch. */
  private shouldBatchFn: (reason: number) => boolean = shouldBatchDefault;

  constructor(m: Machine, series: OffloadSeries) {
    this.m = m;
    this.series = series;
    this.srcu = new SrcuStruct(m.sim, "migrate_offload_srcu");
    this.log = kernelLog(m.core);
    this.defaultCopy = (dst, src, n) => foliosMcCopy(m, dst, src, n);
    this.copyFn = this.defaultCopy;
    this.copyName = this.defaultName();
    const t = m.core.trace;
    this.tpRegister = t.define("migrate_offload_register");
    this.tpUnregister = t.define("migrate_offload_unregister");
    this.tpCopyStart = t.define("migrate_offload_copy_start");
    this.tpCopyEnd = t.define("migrate_offload_copy_end");
  }

  private defaultName(): string {
    return this.series === "v6" ? "migrate_folios_mc_copy" : "folios_mc_copy";
  }

  /**
   * The eligibility test migrate_pages_batch() makes once per call: V4 migrate_should_batch(),
   * V5 migrate_offload_do_batch(), V6 migrate_should_offload(). movable_ops and hugetlb folios are
   * kept off the batch by the core itself.
   */
  doBatch(reason: number): boolean {
    if (!this.enabled) return false;
    switch (this.series) {
      case "v4":
        return this.shouldBatchFn(reason);
      case "v5":
        return (MIGRATE_OFFLOAD_V5_REASONS & (1 << reason)) !== 0;
      case "v6":
        return (this.reasonMask & (1 << reason)) !== 0;
    }
  }

  /**
   * Mirrors migrate_offload_batch_copy(): the static call inside an SRCU read-side section, so that
   * unregistration waits for this copy before the driver's module can go.
   */
  batchCopy(dst: Int32Array, src: Int32Array, count: number): number {
    const m = this.m;
    const fn = this.copyFn;
    const name = this.copyName;
    const owner = this.active?.owner ?? null;
    const start = m.sim.now;
    this.stats.batchCalls++;
    this.stats.foliosOffered += count;
    if (this.tpCopyStart.enabled) this.tpCopyStart.emit({ migrator: name, nr_folios: count });
    const checker = m.checker;
    const snap = checker !== null ? snapshotContract(m, dst, src, count) : null;
    const refs = owner !== null ? owner.refcnt : 0;
    const idx = this.srcu.readLock();
    let rc: number;
    try {
      rc = fn(dst, src, count);
    } catch (e) {
      if (e instanceof OffloadContractViolation) throw e;
      // The kernel would oops in the module; here the batch is failed back to the core (every mark
      // cleared, so each folio is copied by the CPU) and the exception kept for the caller.
      this.oopses.push({ migrator: name, error: e });
      this.log.prErr(`migrate_offload: ${name}: offload_copy threw ${e instanceof Error ? e.name : typeof e}; batch of ${count} falls back to the CPU`);
      for (let i = 0; i < count; i++) m.folios.migrateInfo[dst[i]!]! &= ~FOLIO_CONTENT_COPIED;
      rc = -EIO;
    } finally {
      this.srcu.readUnlock(idx);
    }
    if (checker !== null) {
      checkContract(m, name, snap!, dst, src, count);
      if (owner !== null && owner.refcnt !== refs) {
        checker.report(`migrator ${name}, batch ${checker.batchNo}: module ${owner.name}'s refcount went from ${refs} to ${owner.refcnt} during offload_copy (try_module_get()/module_put() not balanced)`);
      }
    }
    if (rc !== 0) this.stats.batchErrors++;
    const info = m.folios.migrateInfo;
    let marked = 0;
    if (this.series === "v6") {
      for (let i = 0; i < count; i++) if ((info[dst[i]!]! & FOLIO_CONTENT_COPIED) !== 0) marked++;
      this.stats.foliosMarked += marked;
      if (marked < count) this.noteFallback(rc !== 0 ? rcCause(rc) : "unmarked", count - marked);
    } else {
      // V4/V5 decide per batch from the return value alone; a mark left by a copier written for V6
      // must not make the move phase skip a copy the core did not agree to.
      for (let i = 0; i < count; i++) info[dst[i]!]! &= ~FOLIO_CONTENT_COPIED;
      if (rc !== 0) this.noteFallback(rcCause(rc), count);
    }
    if (this.tpCopyEnd.enabled) this.tpCopyEnd.emit({ migrator: name, nr_folios: count, rc, marked, ns: m.sim.now - start });
    return rc;
  }

  /** The copier's name for messages (the active migrator, or the default CPU copier). */
  copierName(): string {
    return this.copyName;
  }

  /**
   * Count `nrFolios` of the current batch as copied by the CPU instead, under `cause`. In strict mode
   * a cause other than the core's by-design exclusions is recorded as a failure of the run.
   */
  noteFallback(cause: string, nrFolios: number): void {
    if (nrFolios <= 0) return;
    const st = this.stats;
    // The core notes its exclusions before the copy call and the copier's failures after it.
    const batch = st.batchCalls + (BY_DESIGN_FALLBACKS.includes(cause) ? 1 : 0);
    if (this.fallbackBatchSeen !== batch) {
      this.fallbackBatchSeen = batch;
      st.fallbackBatches++;
    }
    st.fallbackFolios[cause] = (st.fallbackFolios[cause] ?? 0) + nrFolios;
    if (!this.strict || BY_DESIGN_FALLBACKS.includes(cause)) return;
    this.strictFailureCount++;
    if (this.strictFailures.length < STRICT_KEEP) {
      this.strictFailures.push(`strict offload: offload call ${st.batchCalls} (migrator ${this.copyName}) left ${nrFolios} folio(s) to the CPU copy (${cause})`);
    }
  }

  /** Fallback counts by cause as one line ("ENODEV 512, unmarked 3"), "none" without any. */
  fallbackSummary(): string {
    const e = Object.entries(this.stats.fallbackFolios).sort((a, b) => b[1] - a[1]);
    return e.length === 0 ? "none" : e.map(([k, v]) => `${k} ${v}`).join(", ");
  }

  /** @internal the owner's refcount before registration (for the unregister balance check). */
  setOwnerRefsBefore(n: number): void {
    this.ownerRefsBefore = n;
  }

  /** @internal */
  ownerRefsBeforeRegister(): number {
    return this.ownerRefsBefore;
  }

  /** @internal static_call_update() for both register and unregister. */
  install(mig: Migrator | null): void {
    this.copyFn = mig !== null ? mig.offloadCopy! : this.defaultCopy;
    this.copyName = mig !== null ? mig.name : this.defaultName();
    this.shouldBatchFn = mig?.shouldBatch ?? shouldBatchDefault;
  }
}

/** The fallback cause for a copier's return: its errno name, or EBADRET outside the contract. */
function rcCause(rc: number): string {
  return Number.isInteger(rc) && isErrno(rc) ? errnoName(rc) : "EBADRET";
}

/** Mirrors migrate_should_batch_default() (V4): batch nothing unless the driver says otherwise. */
function shouldBatchDefault(_reason: number): boolean {
  return false;
}

const states = new WeakMap<Machine, MigrateCopyOffload>();

/**
 * Build the machine with CONFIG_MIGRATION_COPY_OFFLOAD=y: create the offload core and install it as
 * the static-call slot migrate_pages_batch() uses (`m.hooks.offload`). Idempotent; a later call may
 * not change the series (use {@link migrateOffloadSetSeries}). Sets `m.settings.offloadSemantics`.
 */
export function migrateOffloadInit(m: Machine, opts: { readonly series?: OffloadSeries } = {}): MigrateCopyOffload {
  let st = states.get(m);
  if (st !== undefined) return st;
  const series = opts.series ?? "v5";
  if (!SERIES.includes(series)) throw new RangeError(`migrate offload: series must be one of ${SERIES.join(", ")}, got ${JSON.stringify(series)}`);
  if (m.hooks.offload !== null) throw new Error("migrate offload: the machine's offload hook is already taken by something else");
  st = new MigrateCopyOffload(m, series);
  states.set(m, st);
  m.hooks.offload = st;
  m.settings.offloadSemantics = series === "v6" ? "v6" : "v5";
  return st;
}

/** The machine's offload core, or null when it was built without CONFIG_MIGRATION_COPY_OFFLOAD. */
export function migrateOffloadOf(m: Machine): MigrateCopyOffload | null {
  return states.get(m) ?? null;
}

/**
 * Switch between the series' rules (V4: should_batch; V5: fixed reasons, all-or-nothing; V6: reason
 * mask, per-folio marks, re-copy on retry). Only while no migrator is registered (-EBUSY), because
 * the two sides of the API must agree. Also sets `m.settings.offloadSemantics` for the move phase.
 */
export function migrateOffloadSetSeries(m: Machine, series: OffloadSeries): number {
  const st = states.get(m);
  if (st === undefined) return -EOPNOTSUPP;
  if (!SERIES.includes(series)) return -EINVAL;
  if (st.active !== null) return -EBUSY;
  st.series = series;
  st.install(null);
  m.settings.offloadSemantics = series === "v6" ? "v6" : "v5";
  return 0;
}

function validName(name: unknown): boolean {
  return typeof name === "string" && name.length < MIGRATOR_NAME_LEN;
}

/**
 * Mirrors migrate_offload_register() (V5 and V6; V4's migrate_offload_start()). -EINVAL for a missing
 * migrator or copy callback, a name that does not fit MIGRATOR_NAME_LEN, or (V5) a missing owner;
 * -EBUSY while another migrator is active; -ENODEV when the owner module cannot be pinned. On success
 * the static call points at the migrator's copier, the key is enabled and "migrate_offload: enabled
 * by <name>" is logged. `reasonMask` is V6's initial mask (ignored by V4/V5).
 */
export function migrateOffloadRegister(m: Machine, mig: Migrator | null, reasonMask = MIGRATE_OFFLOAD_REASONS_ALLOWED): number {
  const st = states.get(m);
  if (st === undefined) return -EOPNOTSUPP;
  if (mig === null || typeof mig.offloadCopy !== "function" || (st.series === "v5" && mig.owner === null) || !validName(mig.name)) {
    st.stats.registerFailures++;
    return -EINVAL;
  }
  const mask = reasonMask & MIGRATE_OFFLOAD_REASONS_ALLOWED;
  let ret = 0;
  const refsBefore = mig.owner?.refcnt ?? 0;
  if (st.active !== null) ret = -EBUSY;
  else if (!tryModuleGet(mig.owner)) ret = -ENODEV;
  if (ret === 0) {
    if (st.series === "v6") st.reasonMask = mask;
    st.install(mig);
    st.active = mig;
    st.enabled = true;
    st.setOwnerRefsBefore(refsBefore);
    st.stats.registered++;
    st.log.prInfo(st.series === "v6" ? `migrate_offload: enabled by ${mig.name} (reason_mask=0x${mask.toString(16)})` : `migrate_offload: enabled by ${mig.name}`);
  } else {
    st.stats.registerFailures++;
    st.log.prErr(`migrate_offload: ${mig.name}: failed to register (${ret})`);
  }
  if (st.tpRegister.enabled) st.tpRegister.emit({ name: mig.name, ret, reason_mask: st.series === "v6" ? mask : 0 });
  return ret;
}

/**
 * Mirrors migrate_offload_unregister() (V4: migrate_offload_stop()). -EINVAL unless `mig` is the
 * active migrator. Disables the key first (new migrate_pages_batch() calls stop batching), points the
 * static call back at the default CPU copier, then waits for copies in flight (synchronize_srcu())
 * before dropping the owner's module reference and logging "migrate_offload: disabled by <name>".
 *
 * From a task it sleeps in virtual time until in-flight copies end, as the kernel does. From an event
 * (an emulated thread's callback) it cannot sleep: the key and static call switch at once, and the
 * rest — module_put, the log line, then `done(0)` — happens when the grace period ends. `done` also
 * runs (as an event) on the task path, so callers can use one style for both.
 */
export function migrateOffloadUnregister(m: Machine, mig: Migrator | null, done?: (rc: number) => void): number {
  const st = states.get(m);
  if (st === undefined) return -EOPNOTSUPP;
  if (mig === null || st.active !== mig) {
    if (st.tpUnregister.enabled) st.tpUnregister.emit({ name: mig?.name ?? "(null)", ret: -EINVAL });
    return -EINVAL;
  }
  st.enabled = false;
  st.reasonMask = 0;
  st.install(null);
  st.active = null;
  const refsBefore = st.ownerRefsBeforeRegister();
  const finish = (): void => {
    modulePut(mig.owner);
    const checker = m.checker;
    if (checker !== null && mig.owner !== null && mig.owner.refcnt !== refsBefore) {
      checker.report(`migrator ${mig.name}: module ${mig.owner.name}'s refcount is ${mig.owner.refcnt} after migrate_offload_unregister(), ${refsBefore} before migrate_offload_register() (a module reference taken while registered was never put)`);
    }
    st.stats.unregistered++;
    st.log.prInfo(`migrate_offload: disabled by ${mig.name}`);
    if (st.tpUnregister.enabled) st.tpUnregister.emit({ name: mig.name, ret: 0 });
  };
  if (m.sim.inEvent && st.srcu.readers > 0) {
    st.srcu.callSrcu(() => {
      finish();
      done?.(0);
    });
    return 0;
  }
  st.srcu.synchronize();
  finish();
  if (done !== undefined) m.sim.schedule(0, () => done(0));
  return 0;
}

/** Mirrors migrate_offload_start() of V4: migrate_offload_register() under its V4 name. */
export function migrateOffloadStart(m: Machine, mig: Migrator | null): number {
  return migrateOffloadRegister(m, mig);
}

/** Mirrors migrate_offload_stop() of V4. */
export function migrateOffloadStop(m: Machine, mig: Migrator | null): number {
  return migrateOffloadUnregister(m, mig);
}

/**
 * Mirrors migrate_offload_set_reason_mask() (V6): change which reasons the active migrator gets.
 * -EINVAL unless `mig` is active; -EOPNOTSUPP before V6 (the mask does not exist there).
 */
export function migrateOffloadSetReasonMask(m: Machine, mig: Migrator | null, mask: number): number {
  const st = states.get(m);
  if (st === undefined || st.series !== "v6") return -EOPNOTSUPP;
  if (mig === null || st.active !== mig) return -EINVAL;
  st.reasonMask = mask & MIGRATE_OFFLOAD_REASONS_ALLOWED;
  return 0;
}

/** Mirrors migrate_offload_do_batch() (V5) / migrate_should_offload() (V6) / migrate_should_batch() (V4). */
export function migrateShouldOffload(m: Machine, reason: number): boolean {
  return states.get(m)?.doBatch(reason) ?? false;
}

/** Mirrors migrate_offload_batch_copy(): -EOPNOTSUPP without the offload core. */
export function migrateOffloadBatchCopy(m: Machine, dst: Int32Array, src: Int32Array, count: number): number {
  const st = states.get(m);
  return st === undefined ? -EOPNOTSUPP : st.batchCopy(dst, src, count);
}

/**
 * The batch limit as a runtime knob, as the series' testing patch makes NR_MAX_BATCHED_MIGRATION
 * (512 base pages in mainline, HPAGE_PUD_NR = 262 144 in the testing patch). Returns 0 or -EINVAL
 * outside 1..HPAGE_PUD_NR.
 */
export function migrateSetNrMaxBatchedMigration(m: Machine, pages: number): number {
  if (!Number.isInteger(pages) || pages < 1 || pages > HPAGE_PUD_NR) return -EINVAL;
  m.settings.nrMaxBatchedMigration = pages;
  return 0;
}

// ---- the callback contract (invariant 14), checked when an invariant checker is attached ---------

/** Flag bits a copier may see change under it: PG_waiters is set by tasks faulting on a migration entry. */
const CONTRACT_FLAG_MASK = ~PG.waiters;

interface ContractSnapshot {
  readonly words: Int32Array;
}

function snapshotContract(m: Machine, dst: Int32Array, src: Int32Array, n: number): ContractSnapshot {
  const f = m.folios;
  const words = new Int32Array(n * 8);
  for (let i = 0; i < n; i++) {
    const s = src[i]!;
    const d = dst[i]!;
    const o = i * 8;
    words[o] = s;
    words[o + 1] = d;
    words[o + 2] = f.flags[s]! & CONTRACT_FLAG_MASK;
    words[o + 3] = f.flags[d]! & CONTRACT_FLAG_MASK;
    words[o + 4] = f.refcount[s]!;
    words[o + 5] = f.refcount[d]!;
    words[o + 6] = f.mapcount[s]! ^ (f.mapcount[d]! << 16);
    words[o + 7] = f.migrateInfo[d]! & ~FOLIO_CONTENT_COPIED;
  }
  return { words };
}

/** What a checker set to throw raises when a copy callback touched what the offload contract forbids. */
export class OffloadContractViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OffloadContractViolation";
  }
}

function checkContract(m: Machine, name: string, snap: ContractSnapshot, dst: Int32Array, src: Int32Array, n: number): void {
  const after = snapshotContract(m, dst, src, n).words;
  const before = snap.words;
  const what = ["src list", "dst list", "src flags", "dst flags", "src refcount", "dst refcount", "mapcounts", "dst migrate_info"];
  for (let k = 0; k < before.length; k++) {
    if (before[k] !== after[k]) {
      const i = Math.floor(k / 8);
      m.checker!.report(`migrator ${name}, batch ${m.checker!.batchNo}, pair ${i} (src folio ${before[i * 8]} -> dst folio ${before[i * 8 + 1]}): changed the ${what[k % 8]}; offload_copy must only copy contents`, OffloadContractViolation);
      return;
    }
  }
}
