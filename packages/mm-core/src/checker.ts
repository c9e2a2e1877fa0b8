/**
 * The invariant checker (enabled in tests and in `mmemu run --check`): the invariants of
 * kernel-migration.md §4, checked while real workloads run. Per-copy and per-move checks run from the
 * migration path's observer hooks; `checkAll()` audits the whole machine (memmap against page tables,
 * LRU, locks, migration entries) and `checkQuiescent()` what must hold when no migration is running.
 *
 * Data integrity: the source's page digests are recorded when its copy starts; when the move finishes
 * the destination must hold exactly those contents and the source must not have changed since (a
 * change means a write reached the source after the copy — through a stale TLB entry — and was lost).
 *
 * Driver checks (the offload copy of a batch): when the copier returns, every destination it claims
 * (all pairs for a return of 0 before V6; each FOLIO_CONTENT_COPIED mark under V6) must already hold
 * its source's data, and no source may have changed — checked at the return, so an early completion
 * is caught whatever the timing. From the copy's start a device may write only the batch's
 * destinations, and from its return none of the batch's pages until they are mapped for DMA again
 * (a late write). The return value must be 0 or a negative errno. Auditors added by other layers
 * (dmaengine's leak checks) run at each return. Every message names the copier, the batch and the
 * pair, channel or engine.
 *
 * State is kept in per-pfn typed arrays allocated once, so the checks allocate nothing per folio.
 */
import { FOLIO_CONTENT_COPIED, PG } from "./folio.js";
import type { Machine, MigrationObserver } from "./machine.js";
import { PTE, VM } from "./mm-types.js";
import { PAGE_SIZE, type DmaObserver } from "./physmem.js";

export class InvariantViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvariantViolation";
  }
}

export interface CheckerOptions {
  /** Throw at the first violation (default) or only collect them in `violations`. */
  readonly throwOnViolation?: boolean;
}

/**
 * A check another layer runs at every offload copy: `offloadStart()` when the batch is handed to the
 * copier, `offloadEnd()` when it returns, giving the rules broken in between (each naming its
 * channel, engine or module; the checker adds the copier and the batch).
 */
export interface BatchAuditor {
  offloadStart(): void;
  offloadEnd(): readonly string[];
}

/** MAX_ERRNO: a kernel error return is in [-4095, -1]. */
const MAX_ERRNO = 4095;

// Device-access state of a page (dmaState).
const DMA_FREE = 0;
/** A source of the batch copy in progress: a device may read it, never write it. */
const DMA_SRC = 1;
/** A destination of the batch copy in progress: the device writes it. */
const DMA_DST = 2;
/** Part of a batch whose copy returned: no device may write it until it is mapped for DMA again. */
const DMA_RETURNED = 3;

// Source copy record (copyRec, head pfn).
const REC_NONE = 0;
const REC_DIGESTS = 1;
/** Digests recorded and a driver rule about this pair already reported (no second report at the move). */
const REC_REPORTED = 2;

export class InvariantChecker implements MigrationObserver, DmaObserver {
  readonly violations: string[] = [];
  /** Copies checked and moves verified (so tests can assert the checker actually ran). */
  copiesChecked = 0;
  movesVerified = 0;
  /** Offload copies whose claimed destinations were verified at return. */
  offloadsVerified = 0;
  /** migrate_pages_batch() calls seen. */
  batchNo = 0;
  private readonly throwOnViolation: boolean;
  /** Per pfn: the page's digest when its copy started (valid where copyRec of its head is set). */
  private readonly srcDigest: Uint32Array;
  /** Per head pfn of a source: REC_*. */
  private readonly copyRec: Uint8Array;
  /** Per pfn: DMA_* (device-access rules), and the batch that set it. */
  private readonly dmaState: Uint8Array;
  private readonly dmaBatch: Int32Array;
  private readonly auditors: BatchAuditor[] = [];

  constructor(
    private readonly m: Machine,
    opts: CheckerOptions = {},
  ) {
    this.throwOnViolation = opts.throwOnViolation ?? true;
    const n = m.mem.totalPages;
    this.srcDigest = new Uint32Array(n);
    this.copyRec = new Uint8Array(n);
    this.dmaState = new Uint8Array(n);
    this.dmaBatch = new Int32Array(n);
    m.checker = this;
    m.mem.dmaObserver = this;
  }

  /** Stop observing. */
  detach(): void {
    if (this.m.checker === this) this.m.checker = null;
    if (this.m.mem.dmaObserver === this) this.m.mem.dmaObserver = null;
  }

  /** Run `a` at every offload copy from now on (dmaengine's leak and protocol checks). */
  addAuditor(a: BatchAuditor): void {
    if (!this.auditors.includes(a)) this.auditors.push(a);
  }

  private fail(msg: string, kind: new (msg: string) => Error = InvariantViolation): void {
    this.violations.push(msg);
    if (this.throwOnViolation) throw new kind(msg);
  }

  report(msg: string, kind?: new (msg: string) => Error): void {
    this.fail(msg, kind);
  }

  batchStart(): void {
    this.batchNo++;
  }

  batchEnd(): void {}

  /** Invariant 8: after try_to_unmap_flush() no batched flush is pending. */
  afterFlush(): void {
    if (this.m.current.tlbUbc.flushRequired) this.fail("try_to_unmap_flush() left a flush pending");
  }

  /** Invariants 2, 4, 8, 11: what must hold when a content copy (CPU or batch) starts. */
  beforeCopy(dst: number, src: number, how: "cpu" | "batch"): void {
    const m = this.m;
    const f = m.folios;
    this.copiesChecked++;
    const nr = f.nrPages(src);
    if (f.mapcount[src] !== 0) this.fail(`${how} copy of folio ${src} while it is still mapped (mapcount ${f.mapcount[src]})`);
    if (!f.test(src, PG.locked)) this.fail(`${how} copy of folio ${src} without its lock`);
    if (!f.test(dst, PG.locked)) this.fail(`${how} copy into folio ${dst} without its lock`);
    if (f.mapcount[dst] !== 0) this.fail(`${how} copy into folio ${dst} that is already mapped`);
    if (f.nrPages(dst) !== nr) this.fail(`${how} copy between folios of different sizes (${nr} vs ${f.nrPages(dst)} pages)`);
    if (m.current.tlbUbc.flushRequired) this.fail(`${how} copy of folio ${src} before try_to_unmap_flush(): CPUs may still write through stale TLB entries`);
    const cpus = m.tlbs.cpusCaching(src, nr);
    if (cpus.length > 0) this.fail(`${how} copy of folio ${src} while CPU(s) ${cpus.join(",")} still cache a translation to it`);
    for (let k = 0; k < nr; k++) this.srcDigest[src + k] = m.mem.digest(src + k);
    this.copyRec[src] = REC_DIGESTS;
  }

  /** The batch goes to the copier: sources become read-only and destinations writable for devices. */
  offloadStart(_copier: string, dst: Int32Array, src: Int32Array, count: number): void {
    const f = this.m.folios;
    const b = this.batchNo;
    for (let i = 0; i < count; i++) {
      const s = src[i]!;
      const d = dst[i]!;
      const nr = f.nrPages(s);
      this.dmaState.fill(DMA_SRC, s, s + nr);
      this.dmaBatch.fill(b, s, s + nr);
      this.dmaState.fill(DMA_DST, d, d + nr);
      this.dmaBatch.fill(b, d, d + nr);
    }
    for (const a of this.auditors) a.offloadStart();
  }

  /**
   * The copier returned: check the return value, that no source changed (a migrator writing to its
   * source is named as such), that every claimed destination already holds its source's data, and
   * the auditors' rules. From here on no device may write the batch's pages.
   */
  offloadEnd(copier: string, dst: Int32Array, src: Int32Array, count: number, rc: number, v6: boolean): void {
    const m = this.m;
    const f = m.folios;
    const b = this.batchNo;
    const who = `migrator ${copier}, batch ${b}`;
    if (typeof rc !== "number" || !Number.isInteger(rc) || rc > 0 || rc < -MAX_ERRNO) {
      this.fail(`${who}: offload_copy returned ${String(rc)}; the contract is 0 (all copied) or a negative errno (-1..-${MAX_ERRNO})`);
    }
    const info = f.migrateInfo;
    const claimAll = !v6 && rc === 0;
    for (let i = 0; i < count; i++) {
      const s = src[i]!;
      const d = dst[i]!;
      const nr = f.nrPages(s);
      this.dmaState.fill(DMA_RETURNED, s, s + nr);
      this.dmaState.fill(DMA_RETURNED, d, d + nr);
      if (this.copyRec[s] !== REC_DIGESTS) continue;
      const pair = `pair ${i} (src folio ${s} -> dst folio ${d})`;
      let bad = -1;
      for (let k = 0; k < nr; k++) {
        if (m.mem.digest(s + k) !== this.srcDigest[s + k]) {
          bad = k;
          break;
        }
      }
      if (bad >= 0) {
        this.copyRec[s] = REC_REPORTED;
        this.fail(`${who}, ${pair}: the migrator wrote to source folio ${s} (page ${bad} changed during offload_copy); offload_copy must only read its sources`);
        continue;
      }
      const claimed = claimAll || (v6 && (info[d]! & FOLIO_CONTENT_COPIED) !== 0);
      if (!claimed) continue;
      for (let k = 0; k < nr; k++) {
        if (m.mem.digest(d + k) !== this.srcDigest[s + k]) {
          this.copyRec[s] = REC_REPORTED;
          const claim = v6 ? "marked FOLIO_CONTENT_COPIED" : "claimed copied (offload_copy returned 0)";
          this.fail(`${who}, ${pair}: ${claim}, but page ${k} of the destination does not hold the source's data when offload_copy returned (early completion: a copy is done only once its destination is written)`);
          break;
        }
      }
    }
    this.offloadsVerified++;
    for (const a of this.auditors) for (const msg of a.offloadEnd()) this.fail(`${who}: ${msg}`);
  }

  /** Device-side writes: only to destinations of the copy in progress, or to pages mapped for DMA since. */
  deviceWrite(dev: string, phys: number, len: number): void {
    if (len <= 0) return;
    const first = Math.floor(phys / PAGE_SIZE);
    const last = Math.floor((phys + len - 1) / PAGE_SIZE);
    const st = this.dmaState;
    for (let p = first; p <= last; p++) {
      const s = st[p]!;
      if (s === DMA_SRC) {
        this.fail(`engine ${dev}: device write to pfn ${p} (source folio ${this.m.folios.folioOf(p)}) of batch ${this.dmaBatch[p]}'s offload copy in progress; a copy engine may only write destinations`);
        return;
      }
      if (s === DMA_RETURNED) {
        st[p] = DMA_FREE;
        this.fail(`engine ${dev}: device write to pfn ${p} (folio ${this.m.folios.folioOf(p)}) after batch ${this.dmaBatch[p]}'s offload copy returned (a late write: the copy was reported done, or terminated, while the engine still ran)`);
        return;
      }
    }
  }

  dmaMapped(first: number, last: number): void {
    const st = this.dmaState;
    for (let p = first; p <= last; p++) if (st[p] === DMA_RETURNED) st[p] = DMA_FREE;
  }

  /** Invariants 3, 10, 11: after a move, dst holds src's contents and src was not written since the copy. */
  folioMoved(src: number, dst: number): void {
    const m = this.m;
    const f = m.folios;
    const rec = this.copyRec[src];
    this.copyRec[src] = REC_NONE;
    if (rec === REC_NONE) {
      this.fail(`folio ${src} moved to ${dst} without a checked copy`);
      return;
    }
    this.movesVerified++;
    if (rec === REC_REPORTED) return;
    const nr = f.nrPages(src);
    for (let k = 0; k < nr; k++) {
      if (m.mem.digest(src + k) !== this.srcDigest[src + k]) {
        this.fail(`data lost: page ${k} of folio ${src} was written after its copy started (through a stale translation?)`);
        return;
      }
      if (m.mem.digest(dst + k) !== this.srcDigest[src + k]) {
        this.fail(`data corrupted: page ${k} of destination folio ${dst} differs from source folio ${src}`);
        return;
      }
    }
    if (f.mapcount[src] !== 0) this.fail(`source folio ${src} still mapped after its move`);
  }

  folioFreed(folio: number): void {
    this.copyRec[folio] = REC_NONE;
  }

  /**
   * Audit the whole machine: every present PTE/PMD maps an allocated folio; each folio's mapcount equals
   * the mappings found; refcount covers mappings, caches and pins; migration entries point at locked
   * folios; the LRU flag matches LRU membership. Returns the violations found (and throws if set to).
   */
  checkAll(): string[] {
    const m = this.m;
    const f = m.folios;
    const found: string[] = [];
    const counted = new Map<number, number>();
    const note = (msg: string) => found.push(msg);
    for (const mm of m.mms) {
      if (!mm) continue;
      for (const v of mm.vmas) {
        for (let p = 0; p < v.pmdBits.length; p++) {
          const bits = v.pmdBits[p]!;
          if (bits === 0) continue;
          const pfn = v.pmdPfn[p]!;
          if (bits & PTE.PRESENT) {
            if (bits & PTE.SPECIAL) continue; // the huge zero page: no reference, no mapcount
            if (!f.test(pfn, PG.allocated)) note(`mm ${mm.id}: PMD maps free frame ${pfn}`);
            counted.set(pfn, (counted.get(pfn) ?? 0) + 1);
          } else if (bits & PTE.MIGRATION && !f.test(pfn, PG.locked)) note(`mm ${mm.id}: PMD migration entry to unlocked folio ${pfn}`);
        }
        for (let i = 0; i < v.pteBits.length; i++) {
          const bits = v.pteBits[i]!;
          if (bits === 0) continue;
          const pfn = v.ptePfn[i]!;
          const addr = (v.start + i * PAGE_SIZE).toString(16);
          if (bits & PTE.PRESENT) {
            if (bits & PTE.SPECIAL) {
              // vm_normal_page() is NULL for these: the zero pages and raw PFN mappings (VM_PFNMAP).
              const zero = pfn === m.zeroPfn || f.test(f.folioOf(pfn), PG.zero);
              if (!zero && (v.flags & VM.PFNMAP) === 0) note(`mm ${mm.id} 0x${addr}: special PTE to ${pfn} outside a VM_PFNMAP mapping and not a zero page`);
              continue;
            }
            if (!f.test(pfn, PG.allocated)) {
              note(`mm ${mm.id} 0x${addr}: PTE maps free frame ${pfn}`);
              continue;
            }
            const folio = f.folioOf(pfn);
            counted.set(folio, (counted.get(folio) ?? 0) + 1);
          } else if (bits & PTE.MIGRATION) {
            const folio = f.folioOf(pfn);
            if (!f.test(folio, PG.locked)) note(`mm ${mm.id} 0x${addr}: migration entry to unlocked folio ${folio}`);
          }
        }
      }
    }
    for (let pfn = 0; pfn < m.mem.totalPages; pfn++) {
      const flags = f.flags[pfn]!;
      if ((flags & PG.allocated) === 0 || (flags & PG.tail) !== 0 || (flags & PG.zero) !== 0) continue;
      const maps = counted.get(pfn) ?? 0;
      if (f.mapcount[pfn] !== maps) note(`folio ${pfn}: mapcount ${f.mapcount[pfn]} but ${maps} mappings found`);
      let minRefs = maps + f.pincount[pfn]!;
      if (!(flags & PG.anon) && f.mapping[pfn] !== 0) minRefs += f.nrPages(pfn);
      if (f.refcount[pfn]! < minRefs) note(`folio ${pfn}: refcount ${f.refcount[pfn]} below the ${minRefs} its mappings, cache and pins hold`);
      if (f.refcount[pfn]! <= 0) note(`folio ${pfn}: allocated with refcount ${f.refcount[pfn]}`);
    }
    for (const node of m.mem.nodes) {
      let pages = 0;
      for (const folio of m.lruFolios(node.id)) {
        if (!f.test(folio, PG.lru)) note(`folio ${folio} on node ${node.id}'s LRU without PG_lru`);
        pages += f.nrPages(folio);
      }
      if (pages !== m.lruSize[node.id]) note(`node ${node.id}: LRU size ${m.lruSize[node.id]} but ${pages} pages listed`);
    }
    for (const msg of found) this.fail(msg);
    return found;
  }

  /** What must hold between migrations: no folio locked, no migration entry, nothing isolated, no flush pending. */
  checkQuiescent(): string[] {
    const m = this.m;
    const f = m.folios;
    const found: string[] = [];
    for (let pfn = 0; pfn < m.mem.totalPages; pfn++) if (f.flags[pfn]! & PG.locked) found.push(`folio ${pfn} is still locked`);
    for (const node of m.mem.nodes) {
      if (m.nrIsolatedAnon[node.id] !== 0 || m.nrIsolatedFile[node.id] !== 0) {
        found.push(`node ${node.id}: NR_ISOLATED_ANON ${m.nrIsolatedAnon[node.id]}, NR_ISOLATED_FILE ${m.nrIsolatedFile[node.id]} (expected 0)`);
      }
    }
    for (const t of m.tasks) if (t && t.tlbUbc.flushRequired) found.push(`task ${t.pid} has a TLB flush pending`);
    for (const mm of m.mms) {
      if (!mm) continue;
      for (const v of mm.vmas) {
        for (let i = 0; i < v.pteBits.length; i++) if (v.pteBits[i]! & PTE.MIGRATION) found.push(`mm ${mm.id}: migration entry left at 0x${(v.start + i * PAGE_SIZE).toString(16)}`);
        for (let p = 0; p < v.pmdBits.length; p++) if (v.pmdBits[p]! & PTE.MIGRATION) found.push(`mm ${mm.id}: PMD migration entry left`);
      }
    }
    for (const msg of found) this.fail(msg);
    return [...found, ...this.checkAll()];
  }
}
