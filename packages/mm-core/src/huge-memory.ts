/**
 * PMD-mapped transparent huge pages: which orders a VMA may use and splitting a PMD mapping into PTEs.
 * Mirrors thp_vma_allowable_orders() and __split_huge_pmd() of mm/huge_memory.c.
 */
import { isHugeZeroPmd, splitHugeZeroPmd } from "./huge-zero.js";
import type { Machine } from "./machine.js";
import { PTE, VM, type Vma } from "./mm-types.js";
import { HPAGE_PMD_NR, PAGE_SIZE, PMD_ORDER, PMD_SIZE } from "./physmem.js";

/** THP/mTHP policy per folio order for anonymous memory (the sysfs hugepages-<size>kB/enabled files). */
export type ThpPolicy = "always" | "madvise" | "never";

/**
 * Mirrors __split_huge_pmd(): turn a PMD mapping (or PMD migration entry) into HPAGE_PMD_NR PTEs of the
 * same folio. The folio's mapcount goes from 1 (PMD) to HPAGE_PMD_NR (PTEs), with references to match.
 */
export function splitHugePmd(m: Machine, v: Vma, pmdI: number): void {
  const bits = v.pmdBits[pmdI]!;
  if (bits === 0) return;
  if (isHugeZeroPmd(bits)) return splitHugeZeroPmd(m, v, pmdI);
  const pfn = v.pmdPfn[pmdI]!;
  const base = v.pmdBase + pmdI * PMD_SIZE;
  const first = (base - v.start) / PAGE_SIZE;
  const f = m.folios;
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    const slot = first + i;
    if (slot < 0 || slot >= v.pteBits.length) continue;
    v.ptePfn[slot] = pfn + i;
    v.pteBits[slot] = bits;
  }
  v.pmdBits[pmdI] = 0;
  v.pmdPfn[pmdI] = -1;
  if (bits & PTE.PRESENT) {
    f.mapcount[pfn]! += HPAGE_PMD_NR - 1;
    f.refcount[pfn]! += HPAGE_PMD_NR - 1;
  }
}

/** Bitmask of anonymous folio orders the VMA may use (thp_vma_allowable_orders). */
export function thpVmaAllowableOrders(m: Machine, v: Vma): number {
  if ((v.flags & VM.NOHUGEPAGE) !== 0) return 0;
  const thp = m.memory.anonThp;
  const madvised = (v.flags & VM.HUGEPAGE) !== 0;
  let mask = 0;
  for (let o = 1; o <= PMD_ORDER; o++) {
    const p = thp[o]!;
    if (p === "always" || (p === "madvise" && madvised)) mask |= 1 << o;
  }
  return mask;
}
