/**
 * Reverse mapping and TLB flushing for migration. Mirrors mm/rmap.c (rmap_walk_anon/rmap_walk_file,
 * try_to_migrate/try_to_migrate_one, set_tlb_ubc_flush_pending, try_to_unmap_flush,
 * flush_tlb_batched_pending), mm/migrate.c (remove_migration_ptes/remove_migration_pte) and
 * arch/x86/mm/tlb.c (arch_tlbbatch_should_defer, arch_tlbbatch_flush).
 *
 * Walks are plain loops over the folio's anon_vma or i_mmap VMAs, computing each page's address from
 * folio->index and vm_pgoff, so the per-folio path allocates nothing.
 */
import { Cost, TRACE_CTX_IRQ_IDLE } from "@mmemu/kernel";
import { PG } from "./folio.js";
import type { Machine, Task } from "./machine.js";
import { PTE, VM, type MmStruct, type Vma } from "./mm-types.js";
import { PAGE_SIZE, PMD_SIZE } from "./physmem.js";
import { ksmRmapFirst, ksmRmapVmas } from "./ksm.js";
import { x86PteHex } from "./trace.js";

const NO_VMAS: Vma[] = [];

/** The VMAs that may map a folio: its anon_vma's chain or its file's i_mmap. */
export function rmapVmas(m: Machine, folio: number): Vma[] {
  const f = m.folios;
  const id = f.mapping[folio]!;
  if (id === 0) return NO_VMAS;
  if (f.test(folio, PG.ksm)) return ksmRmapVmas(m, folio);
  if (f.isAnon(folio)) return m.anonVmas[id]?.vmas ?? NO_VMAS;
  return m.spaces[id]?.immap ?? NO_VMAS;
}

/**
 * Mirrors arch_tlbbatch_should_defer() on x86: defer only if another CPU may cache the mm
 * (cpumask_any_but(mm_cpumask(mm), cpu) < nr_cpu_ids), i.e. the mask holds a CPU besides this one.
 */
function shouldDeferFlush(mm: MmStruct, task: Task): boolean {
  return mm.cpumaskWeight > (mm.cpumask[task.cpu] !== 0 ? 1 : 0);
}

/** Mirrors set_tlb_ubc_flush_pending(): remember to flush the mm's CPUs before anyone copies. */
function setTlbUbcFlushPending(mm: MmStruct, task: Task, dirty: boolean): void {
  const ubc = task.tlbUbc;
  // cpumask_or(): a word at a time (a CPU's byte in the batch becomes non-zero iff it is in either);
  // skipped when the batch already holds this mm's mask as it is now (the same mm, folio after folio).
  if (ubc.orMm !== mm || ubc.orWeight !== mm.cpumaskWeight) {
    const to = ubc.cpumaskWords;
    const from = mm.cpumaskWords;
    const n = Math.min(to.length, from.length);
    for (let w = 0; w < n; w++) to[w]! |= from[w]!;
    ubc.orMm = mm;
    ubc.orWeight = mm.cpumaskWeight;
  }
  ubc.flushRequired = true;
  if (dirty) ubc.writable = true;
  mm.tlbFlushBatched = true;
}

/** An immediate flush of one range on every CPU of the mm (flush_tlb_mm_range), with its cost. */
function flushNow(m: Machine, mm: MmStruct, start: number, end: number, task: Task): void {
  let remote = 0;
  const mask = mm.cpumask;
  for (let cpu = 0; cpu < mask.length; cpu++) {
    if (mask[cpu] === 0) continue;
    m.tlbs.flushRange(cpu, mm.id, start / PAGE_SIZE, end / PAGE_SIZE);
    if (cpu !== task.cpu) remote++;
  }
  if (remote > 0) {
    m.charge(Cost.TLB_FLUSH_IPI, 1);
    m.charge(Cost.TLB_FLUSH_IPI_CPU, remote);
  } else m.charge(Cost.TLB_FLUSH_LOCAL, 1);
  // flush_tlb_mm_range(): a PMD or a whole range is logged as a full flush, one page as pages:1.
  if (m.tp.tlbFlush.enabled) traceFlush(m, mask, task, end - start > PAGE_SIZE ? -1 : 1, "TLB_LOCAL_MM_SHOOTDOWN");
}

/**
 * The tlb_flush events of one flush, in the order x86 logs them: the sender's `remote ipi send` when
 * other CPUs are in the mask, then its own local flush, then each target's `remote shootdown` in its
 * IPI handler (the targets are idle or in user mode when the IPI lands: logged as idle).
 */
function traceFlush(m: Machine, mask: Uint8Array, task: Task, pages: number, local: "TLB_LOCAL_SHOOTDOWN" | "TLB_LOCAL_MM_SHOOTDOWN"): void {
  const tp = m.tp.tlbFlush;
  let remote = 0;
  for (let cpu = 0; cpu < mask.length; cpu++) if (mask[cpu] !== 0 && cpu !== task.cpu) remote++;
  if (remote > 0) tp.emit({ reason: "TLB_REMOTE_SEND_IPI", pages, cpus: remote });
  tp.emit({ reason: local, pages, cpus: 1 });
  const bus = m.core.trace;
  for (let cpu = 0; cpu < mask.length; cpu++) {
    if (mask[cpu] === 0 || cpu === task.cpu) continue;
    const prev = bus.enterContext(cpu, TRACE_CTX_IRQ_IDLE);
    tp.emit({ reason: "TLB_REMOTE_SHOOTDOWN", pages, cpus: 1 });
    bus.exitContext(prev);
  }
}

/**
 * Mirrors try_to_unmap_flush(): if the task batched any PTE clears, flush every CPU that may cache
 * them (x86: IPIs to the CPUs in the batch mask, or a local flush when only this CPU is in it).
 */
export function tryToUnmapFlush(m: Machine, task: Task): void {
  const ubc = task.tlbUbc;
  if (!ubc.flushRequired) return;
  if (m.tp.tlbFlush.enabled) traceFlush(m, ubc.cpumask, task, -1, "TLB_LOCAL_SHOOTDOWN");
  let remote = 0;
  for (let cpu = 0; cpu < ubc.cpumask.length; cpu++) {
    if (ubc.cpumask[cpu] === 0) continue;
    m.tlbs.flushAll(cpu);
    if (cpu !== task.cpu) remote++;
    ubc.cpumask[cpu] = 0;
  }
  ubc.orMm = null;
  if (remote > 0) {
    m.charge(Cost.TLB_FLUSH_IPI, 1);
    m.charge(Cost.TLB_FLUSH_IPI_CPU, remote);
  } else m.charge(Cost.TLB_FLUSH_LOCAL, 1);
  ubc.flushRequired = false;
  ubc.writable = false;
}

/**
 * Mirrors try_to_migrate(folio, flags): replace every mapping of the (locked) folio with a migration
 * entry. With `batchFlush` (TTU_BATCH_FLUSH) PTE clears are flushed later by try_to_unmap_flush() when
 * other CPUs may cache the mm; PMD mappings are always flushed at once. An exclusive anonymous page
 * that may be pinned cannot be shared (folio_try_share_anon_rmap_pte fails): the walk stops with the
 * folio still mapped, which the caller turns into -EAGAIN.
 */
export function tryToMigrate(m: Machine, folio: number, batchFlush: boolean): void {
  const f = m.folios;
  const vmas = rmapVmas(m, folio);
  const nr = 1 << f.order[folio]!;
  const index = f.index[folio]!;
  const task = m.current;
  const ksm = f.test(folio, PG.ksm);
  for (let vi = 0; vi < vmas.length; vi++) {
    if (f.mapcount[folio] === 0) return;
    const v = vmas[vi]!;
    // Page number of the head within the VMA (may be out of range); a KSM folio's is per mapping.
    const first = ksm ? ksmRmapFirst(m, vmas, vi) : index - v.pgoff;
    // PMD mapping of a PMD-sized folio.
    if (f.isPmdMappable(folio)) {
      const pmdI = pmdSlotOf(v, first);
      if (pmdI >= 0) {
        const addr = v.pmdBase + pmdI * PMD_SIZE;
        const bits = v.pmdBits[pmdI]!;
        if (bits & PTE.PRESENT && v.pmdPfn[pmdI] === folio) {
          // set_pmd_migration_entry()
          if (f.isAnon(folio) && (f.flags[folio]! & PG.anonExclusive) !== 0 && f.pincount[folio]! > 0) return;
          const kind = bits & PTE.WRITE ? PTE.MIG_WRITE : (f.flags[folio]! & PG.anonExclusive) !== 0 ? PTE.MIG_READ_EXCL : 0;
          if (f.isAnon(folio)) for (let k = folio; k < folio + nr; k++) f.flags[k]! &= ~PG.anonExclusive;
          if (bits & PTE.DIRTY) f.flags[folio]! |= PG.dirty;
          v.pmdBits[pmdI] = PTE.MIGRATION | kind | (bits & (PTE.YOUNG | PTE.DIRTY | PTE.SOFT_DIRTY | PTE.UFFD_WP));
          f.mapcount[folio]!--;
          f.refcount[folio]!--;
          m.charge(Cost.PMD_UNMAP, 1);
          flushNow(m, v.mm, addr, addr + PMD_SIZE, task);
          if (m.tp.setMigrationPmd.enabled) m.tp.setMigrationPmd.emit({ addr, pmd: x86PteHex(v.pmdBits[pmdI]!, folio, true), pfn: folio });
          continue;
        }
      }
    }
    const kStart = Math.max(0, -first);
    const kEnd = Math.min(nr, v.pages - first);
    if (kStart >= kEnd) continue;
    const deferOk = batchFlush && shouldDeferFlush(v.mm, task);
    let unmapped = 0;
    // set_tlb_ubc_flush_pending() is idempotent over one mm: its cpumask OR is done once for the
    // PTEs this VMA deferred (a large folio's many PTEs), with the dirtiness of any of them.
    let deferredDirty = false;
    let k = kStart;
    for (; k < kEnd; k++) {
      const i = first + k;
      const bits = v.pteBits[i]!;
      if ((bits & PTE.PRESENT) === 0 || v.ptePfn[i] !== folio + k) continue;
      const page = folio + k;
      const exclusive = (f.flags[page]! & PG.anonExclusive) !== 0;
      // folio_try_share_anon_rmap_pte(): refuse while the folio may be DMA-pinned.
      if (exclusive && f.pincount[folio]! > 0) break;
      const kind = bits & PTE.WRITE ? PTE.MIG_WRITE : exclusive ? PTE.MIG_READ_EXCL : 0;
      if (exclusive) f.flags[page]! &= ~PG.anonExclusive;
      if (bits & PTE.DIRTY) f.flags[folio]! |= PG.dirty;
      v.pteBits[i] = PTE.MIGRATION | kind | (bits & (PTE.YOUNG | PTE.DIRTY | PTE.SOFT_DIRTY | PTE.UFFD_WP));
      f.mapcount[folio]!--;
      f.refcount[folio]!--;
      unmapped++;
      if (deferOk) deferredDirty ||= (bits & PTE.DIRTY) !== 0;
      else flushNow(m, v.mm, v.start + i * PAGE_SIZE, v.start + (i + 1) * PAGE_SIZE, task);
      if (m.tp.setMigrationPte.enabled) m.tp.setMigrationPte.emit({ addr: v.start + i * PAGE_SIZE, pte: x86PteHex(v.pteBits[i]!, page), order: 0, pfn: page });
    }
    if (deferOk && unmapped > 0) setTlbUbcFlushPending(v.mm, task, deferredDirty);
    m.charge(Cost.PTE_UNMAP, unmapped);
    if (k < kEnd) return; // stopped at a pinned page
  }
}

/**
 * Mirrors remove_migration_ptes(src, dst): every migration entry that points into `src` becomes a
 * present mapping of the corresponding page of `dst` (dst === src undoes a failed migration). Each
 * restored entry takes a reference and a mapcount on dst; mlocked VMAs mlock dst.
 */
export function removeMigrationPtes(m: Machine, src: number, dst: number): void {
  const f = m.folios;
  const vmas = rmapVmas(m, dst);
  const nr = 1 << f.order[src]!;
  const index = f.index[dst]!;
  const anon = f.isAnon(dst);
  const ksm = f.test(dst, PG.ksm);
  for (let vi = 0; vi < vmas.length; vi++) {
    const v = vmas[vi]!;
    const first = ksm ? ksmRmapFirst(m, vmas, vi) : index - v.pgoff;
    if (f.isPmdMappable(src)) {
      const pmdI = pmdSlotOf(v, first);
      if (pmdI >= 0) {
        const addr = v.pmdBase + pmdI * PMD_SIZE;
        const bits = v.pmdBits[pmdI]!;
        if (bits & PTE.MIGRATION && v.pmdPfn[pmdI] === src) {
          // remove_migration_pmd()
          v.pmdPfn[pmdI] = dst;
          v.pmdBits[pmdI] = restoredBits(bits, f.test(dst, PG.dirty));
          if (anon && bits & (PTE.MIG_WRITE | PTE.MIG_READ_EXCL)) for (let k = dst; k < dst + nr; k++) f.flags[k]! |= PG.anonExclusive;
          f.mapcount[dst]!++;
          f.refcount[dst]!++;
          if (v.flags & VM.LOCKED) f.flags[dst]! |= PG.mlocked | PG.unevictable;
          m.charge(Cost.PMD_REMAP, 1);
          if (m.tp.removeMigrationPmd.enabled) m.tp.removeMigrationPmd.emit({ addr, pmd: x86PteHex(v.pmdBits[pmdI]!, dst, true), pfn: dst });
          continue;
        }
      }
    }
    const kStart = Math.max(0, -first);
    const kEnd = Math.min(nr, v.pages - first);
    let restored = 0;
    for (let k = kStart; k < kEnd; k++) {
      const i = first + k;
      const bits = v.pteBits[i]!;
      if ((bits & PTE.MIGRATION) === 0 || v.ptePfn[i] !== src + k) continue;
      v.ptePfn[i] = dst + k;
      v.pteBits[i] = restoredBits(bits, f.test(dst, PG.dirty));
      if (anon && bits & (PTE.MIG_WRITE | PTE.MIG_READ_EXCL)) f.flags[dst + k]! |= PG.anonExclusive;
      restored++;
      if (m.tp.removeMigrationPte.enabled) m.tp.removeMigrationPte.emit({ addr: v.start + i * PAGE_SIZE, pte: x86PteHex(v.pteBits[i]!, dst + k), order: 0, pfn: dst + k });
    }
    if (restored > 0) {
      f.mapcount[dst]! += restored;
      f.refcount[dst]! += restored;
      if (v.flags & VM.LOCKED) f.flags[dst]! |= PG.mlocked | PG.unevictable;
      m.charge(Cost.PTE_REMAP, restored);
    }
  }
}

/**
 * The PMD slot that maps a PMD-sized folio whose head is page `first` of the VMA, or -1 when that 2 MiB
 * range is not PMD-aligned inside the VMA (then only PTEs can map it).
 */
function pmdSlotOf(v: Vma, first: number): number {
  const addr = v.start + first * PAGE_SIZE;
  if (addr < v.start || addr + PMD_SIZE > v.end || addr % PMD_SIZE !== 0) return -1;
  return (addr - v.pmdBase) >> 21;
}

/** The present bits rebuilt from a migration entry (old unless young; dirty only if the folio is). */
function restoredBits(entry: number, folioDirty: boolean): number {
  let b = PTE.PRESENT | (entry & (PTE.YOUNG | PTE.SOFT_DIRTY | PTE.UFFD_WP));
  if (entry & PTE.DIRTY && folioDirty) b |= PTE.DIRTY;
  if (entry & PTE.MIG_WRITE) b |= PTE.WRITE;
  return b;
}

/** Number of distinct mms mapping the folio (what folio_maybe_mapped_shared() approximates). */
export function folioMapcountByMm(m: Machine, folio: number): number {
  const f = m.folios;
  const nr = 1 << f.order[folio]!;
  const seen = new Set<number>();
  const vmas = rmapVmas(m, folio);
  const ksm = f.test(folio, PG.ksm);
  for (let vi = 0; vi < vmas.length; vi++) {
    const v = vmas[vi]!;
    const first = ksm ? ksmRmapFirst(m, vmas, vi) : f.index[folio]! - v.pgoff;
    for (let k = Math.max(0, -first); k < Math.min(nr, v.pages - first); k++) {
      const addr = v.start + (first + k) * PAGE_SIZE;
      const pmdI = (addr - v.pmdBase) >> 21;
      if ((v.pmdBits[pmdI]! & PTE.PRESENT && v.pmdPfn[pmdI] === folio) || (v.pteBits[first + k]! & PTE.PRESENT && v.ptePfn[first + k] === folio + k)) {
        seen.add(v.mm.id);
        break;
      }
    }
  }
  return seen.size;
}

/** anon_vma_prepare(): give the VMA an anon_vma on its first anonymous fault. */
export function anonVmaPrepare(m: Machine, v: Vma): number {
  if (v.anonVma !== null) return 0;
  const av = m.createAnonVma(null);
  v.anonVma = av;
  v.anonVmaChain.push(av);
  av.vmas.push(v);
  av.refcount++;
  return 0;
}
