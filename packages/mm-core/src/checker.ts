/**
 * The invariant checker (enabled in tests and in `mmemu run --check`): the invariants of
 * kernel-migration.md §4, checked while real workloads run. Per-copy and per-move checks run from the
 * migration path's observer hooks; `checkAll()` audits the whole machine (memmap against page tables,
 * LRU, locks, migration entries) and `checkQuiescent()` what must hold when no migration is running.
 *
 * Data integrity: the source's page digests are recorded when its copy starts; when the move finishes
 * the destination must hold exactly those contents and the source must not have changed since (a
 * change means a write reached the source after the copy — through a stale TLB entry — and was lost).
 */
import { PG } from "./folio.js";
import type { Machine, MigrationObserver } from "./machine.js";
import { PTE, VM } from "./mm-types.js";
import { PAGE_SIZE } from "./physmem.js";

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

export class InvariantChecker implements MigrationObserver {
  readonly violations: string[] = [];
  /** Copies checked and moves verified (so tests can assert the checker actually ran). */
  copiesChecked = 0;
  movesVerified = 0;
  private readonly throwOnViolation: boolean;
  /** src head pfn -> digests of its pages at copy time. */
  private readonly copied = new Map<number, Uint32Array>();

  constructor(
    private readonly m: Machine,
    opts: CheckerOptions = {},
  ) {
    this.throwOnViolation = opts.throwOnViolation ?? true;
    m.checker = this;
  }

  /** Stop observing. */
  detach(): void {
    if (this.m.checker === this) this.m.checker = null;
  }

  private fail(msg: string): void {
    this.violations.push(msg);
    if (this.throwOnViolation) throw new InvariantViolation(msg);
  }

  batchStart(): void {}

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
    const d = new Uint32Array(nr);
    for (let k = 0; k < nr; k++) d[k] = m.mem.digest(src + k);
    this.copied.set(src, d);
  }

  /** Invariants 3, 10, 11: after a move, dst holds src's contents and src was not written since the copy. */
  folioMoved(src: number, dst: number): void {
    const m = this.m;
    const f = m.folios;
    const d = this.copied.get(src);
    this.copied.delete(src);
    if (d === undefined) {
      this.fail(`folio ${src} moved to ${dst} without a checked copy`);
      return;
    }
    this.movesVerified++;
    for (let k = 0; k < d.length; k++) {
      if (m.mem.digest(src + k) !== d[k]) {
        this.fail(`data lost: page ${k} of folio ${src} was written after its copy started (through a stale translation?)`);
        return;
      }
      if (m.mem.digest(dst + k) !== d[k]) {
        this.fail(`data corrupted: page ${k} of destination folio ${dst} differs from source folio ${src}`);
        return;
      }
    }
    if (f.mapcount[src] !== 0) this.fail(`source folio ${src} still mapped after its move`);
  }

  folioFreed(folio: number): void {
    this.copied.delete(folio);
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
