/**
 * Faults on private hugetlb mappings: mirrors hugetlb_no_page() for a MAP_PRIVATE | MAP_ANONYMOUS |
 * MAP_HUGETLB mapping (a fresh anonymous hugetlb folio from the pool, hugetlb_add_new_anon_rmap(),
 * folio_set_hugetlb_migratable()) and hugetlb_wp() (a write to a read-only huge PMD after fork: reuse an
 * exclusive folio, else copy the whole huge page) from mm/hugetlb.c. Shared hugetlb mappings keep going
 * through the page cache (MemoryManager.filemapGetFolio).
 */
import { PG } from "./folio.js";
import type { Machine } from "./machine.js";
import { getVmaPolicy, hugetlbAllocMpol, vmaInterleaveIndex } from "./mempolicy.js";
import { PTE, VM, type Vma } from "./mm-types.js";
import { PMD_ORDER, PMD_SIZE } from "./physmem.js";
import { VM_FAULT } from "./mm-types.js";
import { tlbFlushMmRange } from "./tlb.js";

const NR = 1 << PMD_ORDER;

/** Whether a VMA is a private hugetlb mapping whose pages are anonymous (not page-cache) folios. */
export function isPrivateHugetlb(v: Vma): boolean {
  return (v.flags & (VM.HUGETLB | VM.SHARED)) === VM.HUGETLB;
}

/** alloc_hugetlb_folio(): from the pool of the node the VMA's policy picks, then the others it allows. */
function allocHugetlbAnywhere(m: Machine, v: Vma, addr: number): number {
  const pol = getVmaPolicy(v, m.current, v.linearPageIndex(addr));
  return hugetlbAllocMpol(m, pol, vmaInterleaveIndex(v, addr, PMD_ORDER));
}

/** Make `folio` a new anonymous hugetlb folio of `v` mapped by the PMD at `start`. */
function mapNewAnonHugetlb(m: Machine, v: Vma, folio: number, start: number): void {
  const f = m.folios;
  m.memory.prepareAnonVma(v);
  f.flags[folio]! |= PG.anon | PG.uptodate | PG.dirty | PG.hugetlbMigratable;
  f.mapping[folio] = v.anonVma!.id;
  f.index[folio] = v.linearPageIndex(start);
  for (let p = folio; p < folio + NR; p++) f.flags[p]! |= PG.anonExclusive;
  // The allocation reference becomes the mapping's (mapFolio takes one per mapping).
  f.refcount[folio]!--;
  m.memory.mapFolio(v, folio, start, PMD_ORDER, (v.flags & VM.WRITE) !== 0, true);
}

/** hugetlb_no_page() for a private mapping: a zeroed anonymous huge page, or SIGBUS when the pool is dry. */
export function hugetlbAnonFault(m: Machine, v: Vma, addr: number): number {
  const start = addr - (addr % PMD_SIZE);
  const folio = allocHugetlbAnywhere(m, v, start);
  if (folio < 0) return VM_FAULT.SIGBUS;
  m.mem.zeroPages(folio, NR);
  mapNewAnonHugetlb(m, v, folio, start);
  return 0;
}

/**
 * hugetlb_wp(): a write to a read-only huge PMD of a private mapping. An exclusive anonymous folio is
 * made writable in place; otherwise the huge page is copied into a new one (SIGBUS when the pool is
 * dry) and the old mapping dropped.
 */
export function hugetlbWpFault(m: Machine, v: Vma, pmdI: number): number {
  const f = m.folios;
  const old = v.pmdPfn[pmdI]!;
  const bits = v.pmdBits[pmdI]!;
  const start = v.pmdBase + pmdI * PMD_SIZE;
  if ((v.flags & VM.SHARED) !== 0 || (f.isAnon(old) && f.mapcount[old] === 1 && !f.test(old, PG.ksm))) {
    v.pmdBits[pmdI] = bits | PTE.WRITE | PTE.DIRTY | PTE.YOUNG;
    if (f.isAnon(old)) for (let p = old; p < old + NR; p++) f.flags[p]! |= PG.anonExclusive;
    return 0;
  }
  const folio = allocHugetlbAnywhere(m, v, start);
  if (folio < 0) return VM_FAULT.SIGBUS;
  m.mem.copyPages(folio, old, NR);
  v.pmdBits[pmdI] = 0;
  v.pmdPfn[pmdI] = -1;
  f.mapcount[old]!--;
  m.folioPut(old);
  tlbFlushMmRange(m, v.mm, start, start + PMD_SIZE);
  mapNewAnonHugetlb(m, v, folio, start);
  return 0;
}
