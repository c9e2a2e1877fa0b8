/**
 * Zero-page mappings of anonymous read faults: mirrors the read-fault branches of do_anonymous_page()
 * (mm/memory.c: the shared zero page, whatever mTHP orders are enabled) and
 * do_huge_pmd_anonymous_page() (mm/huge_memory.c: the huge zero page, when a PMD THP fits), the huge
 * zero folio itself (mm_get_huge_zero_folio: allocated on first use, never freed), the split of a huge
 * zero PMD into zero-page PTEs (__split_huge_zero_page_pmd) and a write fault on it
 * (do_huge_zero_wp_pmd: the PMD is dropped and the write fault allocates afresh).
 *
 * A huge zero PMD is PRESENT | SPECIAL: it takes no reference or mapcount, like the zero page's PTEs.
 */
import { PG } from "./folio.js";
import type { Machine } from "./machine.js";
import { PTE, type Vma } from "./mm-types.js";
import { PAGE_SIZE, PMD_ORDER, PMD_SIZE } from "./physmem.js";
import { tlbFlushMmRange } from "./tlb.js";

const hugeZero = new WeakMap<Machine, number>();

/** The huge zero folio (head pfn), allocated and zeroed on first use; -1 if no node can supply one. */
export function hugeZeroFolio(m: Machine): number {
  let pfn = hugeZero.get(m);
  if (pfn !== undefined) return pfn;
  pfn = -1;
  for (const n of m.mem.nodes) {
    pfn = m.alloc.alloc(n.id, PMD_ORDER);
    if (pfn >= 0) break;
  }
  if (pfn < 0) return -1;
  const f = m.folios;
  m.mem.zeroPages(pfn, 1 << PMD_ORDER);
  f.flags[pfn] = PG.zero | PG.allocated | PG.uptodate | PG.head;
  f.order[pfn] = PMD_ORDER;
  f.refcount[pfn] = 1;
  f.flags.fill(PG.allocated | PG.tail, pfn + 1, pfn + (1 << PMD_ORDER));
  hugeZero.set(m, pfn);
  return pfn;
}

/** Whether a PMD slot maps the huge zero folio. */
export function isHugeZeroPmd(bits: number): boolean {
  return (bits & (PTE.PRESENT | PTE.SPECIAL)) === (PTE.PRESENT | PTE.SPECIAL);
}

/**
 * A read fault on an untouched anonymous page: map the huge zero page when `pmdThp` (a PMD THP is
 * allowed here) and the aligned 2 MiB around addr is inside the VMA and empty; else the zero page at
 * this one PTE. Returns 0.
 */
export function doAnonymousReadFault(m: Machine, v: Vma, addr: number, pmdThp: boolean): number {
  const page = addr - (addr % PAGE_SIZE);
  if (pmdThp) {
    const start = addr - (addr % PMD_SIZE);
    if (start >= v.start && start + PMD_SIZE <= v.end && rangeNone(v, start)) {
      const hz = hugeZeroFolio(m);
      if (hz >= 0) {
        const pmdI = (start - v.pmdBase) / PMD_SIZE;
        v.pmdPfn[pmdI] = hz;
        v.pmdBits[pmdI] = PTE.PRESENT | PTE.SPECIAL;
        return 0;
      }
    }
  }
  const i = (page - v.start) / PAGE_SIZE;
  v.ptePfn[i] = m.zeroPfn;
  v.pteBits[i] = PTE.PRESENT | PTE.SPECIAL;
  return 0;
}

function rangeNone(v: Vma, start: number): boolean {
  const first = (start - v.start) / PAGE_SIZE;
  for (let i = first; i < first + PMD_SIZE / PAGE_SIZE; i++) if (v.pteBits[i] !== 0) return false;
  return v.pmdBits[(start - v.pmdBase) / PMD_SIZE] === 0;
}

/** Mirrors __split_huge_zero_page_pmd(): every PTE of the range maps the small zero page. */
export function splitHugeZeroPmd(m: Machine, v: Vma, pmdI: number): void {
  const base = v.pmdBase + pmdI * PMD_SIZE;
  const first = (base - v.start) / PAGE_SIZE;
  for (let k = 0; k < PMD_SIZE / PAGE_SIZE; k++) {
    const slot = first + k;
    if (slot < 0 || slot >= v.pteBits.length) continue;
    v.ptePfn[slot] = m.zeroPfn;
    v.pteBits[slot] = PTE.PRESENT | PTE.SPECIAL;
  }
  v.pmdBits[pmdI] = 0;
  v.pmdPfn[pmdI] = -1;
}

/**
 * A write fault on a huge zero PMD (do_huge_zero_wp_pmd): drop the PMD so the retried fault allocates a
 * THP (or a smaller folio when none is available).
 */
export function dropHugeZeroPmd(m: Machine, v: Vma, pmdI: number): void {
  const base = v.pmdBase + pmdI * PMD_SIZE;
  v.pmdBits[pmdI] = 0;
  v.pmdPfn[pmdI] = -1;
  tlbFlushMmRange(m, v.mm, base, base + PMD_SIZE);
}
