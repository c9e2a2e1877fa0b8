/**
 * Page faults and page-table manipulation: mirrors mm/memory.c (handle_mm_fault, do_anonymous_page,
 * do_wp_page, do_read_fault/do_cow_fault/do_shared_fault, set_pte_range, zap_pte_range,
 * copy_page_range) and do_huge_pmd_anonymous_page() of mm/huge_memory.c.
 */
import { Cost } from "@mmemu/kernel";
import { alignDown } from "./align.js";
import { filemapGetFolio } from "./filemap.js";
import { PG } from "./folio.js";
import { splitHugePmd, thpVmaAllowableOrders } from "./huge-memory.js";
import { doAnonymousReadFault, dropHugeZeroPmd, isHugeZeroPmd } from "./huge-zero.js";
import { hugetlbAnonFault, hugetlbWpFault, isPrivateHugetlb } from "./hugetlb-fault.js";
import type { Machine } from "./machine.js";
import { devicePrivateFault } from "./memremap.js";
import { PTE, VM, VM_FAULT, type MmStruct, type Vma } from "./mm-types.js";
import { HPAGE_PMD_NR, PAGE_SIZE, PMD_ORDER, PMD_SIZE } from "./physmem.js";
import { vmaAllocFolio } from "./mempolicy.js";
import { anonVmaPrepare } from "./rmap.js";
import { specialMappingFault } from "./special-mapping.js";
import { expandStack } from "./stack.js";
import { tlbFlushMmRange } from "./tlb.js";

/** Zap PTEs/PMDs in [s, e) of a VMA (zap_pte_range): drop mapcounts and references. */
export function zapPageRange(m: Machine, v: Vma, s: number, e: number): void {
  const f = m.folios;
  for (let pmdI = (s - v.pmdBase) >> 21; pmdI <= (e - 1 - v.pmdBase) >> 21; pmdI++) {
    const bits = v.pmdBits[pmdI]!;
    if (bits === 0) continue;
    const base = v.pmdBase + pmdI * PMD_SIZE;
    if (base < s || base + PMD_SIZE > e) splitHugePmd(m, v, pmdI);
    else {
      if (bits & PTE.PRESENT && !isHugeZeroPmd(bits)) unmapFolioRef(m, v.pmdPfn[pmdI]!, 1);
      v.pmdBits[pmdI] = 0;
      v.pmdPfn[pmdI] = -1;
    }
  }
  for (let a = s; a < e; a += PAGE_SIZE) {
    const i = (a - v.start) / PAGE_SIZE;
    const bits = v.pteBits[i]!;
    if (bits === 0) continue;
    if (bits & PTE.PRESENT && !(bits & PTE.SPECIAL)) {
      const folio = f.folioOf(v.ptePfn[i]!);
      unmapFolioRef(m, folio, 1);
      if (f.isLarge(folio) && f.mapcount[folio]! > 0) f.set(folio, PG.deferredSplit);
    } else if (bits & PTE.SWAP) {
      m.swap.free(v.ptePfn[i]!);
    }
    v.pteBits[i] = 0;
    v.ptePfn[i] = -1;
  }
}

/** Remove `n` mappings of a folio: mapcount and references drop (folio_remove_rmap + folio_put). */
function unmapFolioRef(m: Machine, folio: number, n: number): void {
  const f = m.folios;
  f.mapcount[folio]! -= n;
  if (f.mapcount[folio] === 0 && f.test(folio, PG.mlocked)) f.clear(folio, PG.mlocked | PG.unevictable);
  m.folioPut(folio, n);
}

/**
 * Mirrors handle_mm_fault(): make the page at `addr` accessible for a read or write. Returns 0 or a
 * VM_FAULT code. `populate` faults skip pages that are already present with enough permission.
 */
export function handleMmFault(m: Machine, mm: MmStruct, addr: number, write: boolean, populate = false): number {
  let v = mm.findVma(addr);
  if (v === null) {
    // Below a stack: the fault path grows it (expand_stack), other holes are a SIGSEGV.
    const grown = expandStack(m, mm, addr);
    if (typeof grown === "number") return VM_FAULT.SIGSEGV;
    v = grown;
  }
  return handleVmaFault(m, mm, v, addr, write, populate);
}

/**
 * Mirrors handle_mm_fault() on the VMA its caller found (lock_vma_under_rcu() or find_vma() in the
 * arch fault handler, __get_user_pages() for population): `v` must be the VMA holding `addr` now.
 */
export function handleVmaFault(m: Machine, mm: MmStruct, v: Vma, addr: number, write: boolean, populate = false): number {
  if ((v.flags & (VM.READ | VM.WRITE | VM.EXEC)) === 0) return VM_FAULT.SIGSEGV;
  if (write && (v.flags & VM.WRITE) === 0) return VM_FAULT.SIGSEGV;
  if (!populate) m.charge(Cost.PAGE_FAULT, 1);
  const pmdI = (addr - v.pmdBase) >> 21;
  const pb = v.pmdBits[pmdI]!;
  if (pb !== 0) {
    if (pb & PTE.MIGRATION) {
      m.memory.faultWaitPfn = v.pmdPfn[pmdI]!;
      return VM_FAULT.MIGRATION_WAIT;
    }
    if (!write || pb & PTE.WRITE) return 0;
    if (isHugeZeroPmd(pb)) {
      dropHugeZeroPmd(m, v, pmdI);
      return handleMmFault(m, mm, addr, write, populate);
    }
    if ((v.flags & VM.HUGETLB) !== 0) return hugetlbWpFault(m, v, pmdI);
    // Write to a read-only PMD: split to PTEs and handle the COW on the 4 KiB page.
    splitHugePmd(m, v, pmdI);
  }
  const i = (addr - v.start) / PAGE_SIZE | 0;
  const bits = v.pteBits[i]!;
  if (bits & PTE.MIGRATION) {
    m.memory.faultWaitPfn = v.ptePfn[i]!;
    return VM_FAULT.MIGRATION_WAIT;
  }
  if (bits & PTE.HWPOISON) return VM_FAULT.HWPOISON;
  if (bits & PTE.DEVICE_PRIVATE) return devicePrivateFault(m, v, i);
  if (bits & PTE.SWAP) {
    const r = m.swap.swapIn(v, i);
    if (r < 0) return VM_FAULT.OOM;
    return write ? handleMmFault(m, mm, addr, write, populate) : 0;
  }
  if (bits & PTE.PRESENT) {
    if (!write || bits & PTE.WRITE) {
      if (write) v.pteBits[i]! |= PTE.DIRTY | PTE.YOUNG;
      return 0;
    }
    return doWpPage(m, v, i);
  }
  if (v.special !== null) return specialMappingFault(m, v, addr);
  if (isPrivateHugetlb(v) && v.file !== null && v.file.name === "anon_hugepage") return hugetlbAnonFault(m, v, addr);
  if (v.file !== null) return doFileFault(m, v, addr, write);
  return doAnonymousPage(m, v, addr, write);
}

/** Mirrors do_anonymous_page() and do_huge_pmd_anonymous_page(). */
function doAnonymousPage(m: Machine, v: Vma, addr: number, write: boolean): number {
  if (anonVmaPrepare(m, v) < 0) return VM_FAULT.OOM;
  // Read fault: the huge zero page or the zero page, whatever mTHP orders are enabled.
  if (!write) return doAnonymousReadFault(m, v, addr, (thpVmaAllowableOrders(m, v) & (1 << PMD_ORDER)) !== 0);
  const orders = thpVmaAllowableOrders(m, v);
  // Orders are tried from the largest allowed down to 0 (a VMA without mTHP goes straight to 0).
  for (let order = orders === 0 ? 0 : 31 - Math.clz32(orders); order >= 0; order--) {
    if (order > 0 && (orders & (1 << order)) === 0) continue;
    const size = PAGE_SIZE << order;
    const start = alignDown(addr, size);
    if (start < v.start || start + size > v.end) continue;
    if (order > 0 && !ptesNone(v, start, size)) continue;
    const folio = vmaAllocFolio(m, v, start, order);
    if (folio < 0) {
      if (order === 0) return VM_FAULT.OOM;
      continue;
    }
    m.mem.zeroPages(folio, 1 << order);
    newAnonFolio(m, v, folio, start);
    mapFolio(m, v, folio, start, order, (v.flags & VM.WRITE) !== 0, true);
    return 0;
  }
  return VM_FAULT.OOM;
}

function ptesNone(v: Vma, start: number, size: number): boolean {
  const first = (start - v.start) / PAGE_SIZE;
  for (let i = first; i < first + size / PAGE_SIZE; i++) if (v.pteBits[i] !== 0) return false;
  for (let p = (start - v.pmdBase) >> 21; p <= (start + size - 1 - v.pmdBase) >> 21; p++) if (v.pmdBits[p] !== 0) return false;
  return true;
}

/** folio_add_new_anon_rmap() + folio_add_lru_vma(): a fresh anonymous folio at `start` of v. */
function newAnonFolio(m: Machine, v: Vma, folio: number, start: number): void {
  const f = m.folios;
  f.flags[folio]! |= PG.anon | PG.swapbacked | PG.uptodate | PG.dirty;
  f.mapping[folio] = v.anonVma!.id;
  f.index[folio] = v.linearPageIndex(start);
  const nr = f.nrPages(folio);
  for (let p = folio; p < folio + nr; p++) f.flags[p]! |= PG.anonExclusive;
  // The allocation reference becomes the first mapping's.
  f.refcount[folio]!--;
  if ((v.flags & VM.LOCKED) !== 0) f.set(folio, PG.mlocked | PG.unevictable);
  m.lruAdd(folio);
}

/**
 * Map a whole folio at `start` of v: one PMD for a PMD-sized folio in an aligned slot, else one PTE
 * per page (set_pte_range / set_pmd_at). Takes one reference and one mapcount per entry.
 */
export function mapFolio(m: Machine, v: Vma, folio: number, start: number, order: number, writable: boolean, dirty: boolean): void {
  const f = m.folios;
  const bits = PTE.PRESENT | PTE.YOUNG | (writable ? PTE.WRITE : 0) | (dirty ? PTE.DIRTY : 0);
  if (order === PMD_ORDER && start % PMD_SIZE === 0 && !f.test(folio, PG.hugetlb | PG.zero) || (f.test(folio, PG.hugetlb) && order === PMD_ORDER)) {
    const pmdI = (start - v.pmdBase) >> 21;
    v.pmdPfn[pmdI] = folio;
    v.pmdBits[pmdI] = bits;
    f.mapcount[folio]!++;
    f.refcount[folio]!++;
    return;
  }
  const first = (start - v.start) / PAGE_SIZE;
  const nr = 1 << order;
  for (let k = 0; k < nr; k++) {
    v.ptePfn[first + k] = folio + k;
    v.pteBits[first + k] = bits;
  }
  f.mapcount[folio]! += nr;
  f.refcount[folio]! += nr;
}

/** Mirrors do_wp_page(): write to a present read-only PTE in a writable VMA. */
function doWpPage(m: Machine, v: Vma, i: number): number {
  const f = m.folios;
  const pfn = v.ptePfn[i]!;
  const bits = v.pteBits[i]!;
  const shared = (v.flags & VM.SHARED) !== 0;
  if (shared) {
    v.pteBits[i] = bits | PTE.WRITE | PTE.DIRTY | PTE.YOUNG;
    if (!(bits & PTE.SPECIAL)) f.set(f.folioOf(pfn), PG.dirty);
    return 0;
  }
  const folio = bits & PTE.SPECIAL ? -1 : f.folioOf(pfn);
  // wp_can_reuse_anon_folio(): an exclusive anonymous page is reused in place.
  if (folio >= 0 && f.isAnon(folio) && (f.flags[pfn]! & PG.anonExclusive) !== 0) {
    v.pteBits[i] = bits | PTE.WRITE | PTE.DIRTY | PTE.YOUNG;
    return 0;
  }
  if (folio >= 0 && f.isAnon(folio) && !f.isLarge(folio) && f.refcount[folio] === 1 && f.mapcount[folio] === 1 && !f.test(folio, PG.swapcache | PG.ksm)) {
    f.flags[pfn]! |= PG.anonExclusive;
    v.pteBits[i] = bits | PTE.WRITE | PTE.DIRTY | PTE.YOUNG;
    return 0;
  }
  // Copy on write into a new order-0 anonymous folio (wp_page_copy).
  if (anonVmaPrepare(m, v) < 0) return VM_FAULT.OOM;
  const nf = vmaAllocFolio(m, v, v.start + i * PAGE_SIZE, 0);
  if (nf < 0) return VM_FAULT.OOM;
  if (folio >= 0) m.mem.copyPages(nf, pfn, 1);
  else m.mem.zeroPages(nf, 1);
  const addr = v.start + i * PAGE_SIZE;
  newAnonFolio(m, v, nf, addr);
  if (folio >= 0) unmapFolioRef(m, folio, 1);
  v.ptePfn[i] = nf;
  v.pteBits[i] = PTE.PRESENT | PTE.WRITE | PTE.DIRTY | PTE.YOUNG;
  f.mapcount[nf]!++;
  f.refcount[nf]!++;
  tlbFlushMmRange(m, v.mm, addr, addr + PAGE_SIZE);
  return 0;
}

/** Mirrors do_read_fault/do_shared_fault/do_cow_fault over filemap_fault (and hugetlb_fault). */
function doFileFault(m: Machine, v: Vma, addr: number, write: boolean): number {
  const space = v.file!;
  const hugetlb = (v.flags & VM.HUGETLB) !== 0;
  const pgoff = v.linearPageIndex(addr);
  if (pgoff >= space.sizePages) return VM_FAULT.SIGBUS;
  const folio = filemapGetFolio(m, space, pgoff, hugetlb);
  if (folio < 0) return hugetlb ? VM_FAULT.SIGBUS : VM_FAULT.OOM;
  const f = m.folios;
  const shared = (v.flags & VM.SHARED) !== 0;
  if (!shared && write) {
    // do_cow_fault: private write to a file page copies it into an anonymous page.
    if (hugetlb) return VM_FAULT.SIGBUS;
    if (anonVmaPrepare(m, v) < 0) return VM_FAULT.OOM;
    const nf = vmaAllocFolio(m, v, addr, 0);
    if (nf < 0) return VM_FAULT.OOM;
    m.mem.copyPages(nf, folio + (pgoff - f.index[folio]!), 1);
    newAnonFolio(m, v, nf, addr);
    mapFolio(m, v, nf, addr, 0, true, true);
    return 0;
  }
  const order = f.order[folio]!;
  const nr = 1 << order;
  const headAddr = addr - (pgoff - f.index[folio]!) * PAGE_SIZE;
  const writable = shared && (v.flags & VM.WRITE) !== 0 && write;
  if (order > 0 && headAddr >= v.start && headAddr + nr * PAGE_SIZE <= v.end && ptesNone(v, headAddr, nr * PAGE_SIZE)) {
    mapFolio(m, v, folio, headAddr, order, writable, write);
  } else {
    const i = (addr - v.start) / PAGE_SIZE;
    v.ptePfn[i] = folio + (pgoff - f.index[folio]!);
    v.pteBits[i] = PTE.PRESENT | PTE.YOUNG | (writable ? PTE.WRITE | PTE.DIRTY : 0);
    f.mapcount[folio]!++;
    f.refcount[folio]!++;
  }
  if (write) f.set(folio, PG.dirty);
  if ((v.flags & VM.LOCKED) !== 0 && !f.test(folio, PG.mlocked)) f.set(folio, PG.mlocked | PG.unevictable);
  return 0;
}

/** Mirrors copy_page_range() at fork for one VMA pair. */
export function copyPageRange(m: Machine, src: Vma, dst: Vma): void {
  const f = m.folios;
  const cow = (src.flags & VM.SHARED) === 0;
  for (let p = 0; p < src.pmdBits.length; p++) {
    const bits = src.pmdBits[p]!;
    if (bits === 0) continue;
    if (bits & PTE.PRESENT && !isHugeZeroPmd(bits)) {
      const folio = src.pmdPfn[p]!;
      if (cow && f.isAnon(folio)) {
        src.pmdBits[p] = bits & ~PTE.WRITE;
        for (let k = folio; k < folio + HPAGE_PMD_NR; k++) f.flags[k]! &= ~PG.anonExclusive;
      }
      f.mapcount[folio]!++;
      f.refcount[folio]!++;
    } else if (bits & PTE.MIGRATION && bits & PTE.MIG_WRITE && cow) {
      src.pmdBits[p] = bits & ~PTE.MIG_WRITE; // a writable migration entry becomes readable
    }
    dst.pmdPfn[p] = src.pmdPfn[p]!;
    dst.pmdBits[p] = src.pmdBits[p]!;
  }
  for (let i = 0; i < src.pteBits.length; i++) {
    let bits = src.pteBits[i]!;
    if (bits === 0) continue;
    const pfn = src.ptePfn[i]!;
    if (bits & PTE.PRESENT && !(bits & PTE.SPECIAL)) {
      const folio = f.folioOf(pfn);
      if (cow && f.isAnon(folio)) {
        bits &= ~PTE.WRITE;
        f.flags[pfn]! &= ~PG.anonExclusive;
        src.pteBits[i] = bits;
      }
      f.mapcount[folio]!++;
      f.refcount[folio]!++;
    } else if (bits & PTE.MIGRATION && cow) {
      bits &= ~(PTE.MIG_WRITE | PTE.MIG_READ_EXCL);
      src.pteBits[i] = bits;
    } else if (bits & PTE.SWAP) {
      m.swap.dup(pfn);
    }
    dst.ptePfn[i] = pfn;
    dst.pteBits[i] = bits;
  }
  if (cow) tlbFlushMmRange(m, src.mm, src.start, src.end);
}
