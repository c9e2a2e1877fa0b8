/**
 * Getting user pages: population of a range (populate_vma_page_range, __mm_populate) and FOLL_PIN pins
 * (pin_user_pages, unpin_user_page). Mirrors mm/gup.c.
 */
import { EAGAIN, EFAULT, EINVAL, ENOMEM } from "@mmemu/kernel";
import { alignDown } from "./align.js";
import type { Machine } from "./machine.js";
import { handleMmFault, handleVmaFault } from "./memory.js";
import { PTE, VM, VM_FAULT, type MmStruct } from "./mm-types.js";
import { PAGE_SIZE, PMD_SIZE } from "./physmem.js";
import { translate } from "./uaccess.js";

/** Fault in every page of [addr, addr+len) (__mm_populate / populate_vma_page_range). */
export function populateVmaPageRange(m: Machine, mm: MmStruct, addr: number, len: number, write: boolean): number {
  const end = addr + len;
  let a = alignDown(addr, PAGE_SIZE);
  while (a < end) {
    const v = mm.findVma(a);
    if (v === null) return -ENOMEM;
    // The VMA just found is the fault's: handle_mm_fault() is not asked to look it up again.
    const r = handleVmaFault(m, mm, v, a, write && (v.flags & VM.WRITE) !== 0, true);
    if (r < 0 && r !== VM_FAULT.MIGRATION_WAIT) return r === VM_FAULT.OOM ? -ENOMEM : -EFAULT;
    // Skip over whatever the fault mapped in one go (a large folio).
    const pmdI = (a - v.pmdBase) >> 21;
    if (v.pmdBits[pmdI]! & PTE.PRESENT) a = v.pmdBase + (pmdI + 1) * PMD_SIZE;
    else a += PAGE_SIZE;
  }
  return 0;
}

/**
 * Mirrors __get_user_pages() for one page: fault it in and take a reference on its folio (FOLL_GET), or
 * also a pin (FOLL_PIN). Returns the head pfn or -errno.
 */
function getUserFolio(m: Machine, mm: MmStruct, addr: number, write: boolean, pin: boolean): number {
  const r = handleMmFault(m, mm, addr, write);
  if (r === VM_FAULT.MIGRATION_WAIT) return -EAGAIN;
  if (r < 0) return -EFAULT;
  const pfn = translate(mm, addr);
  if (pfn < 0 || pfn === m.zeroPfn) return -EFAULT;
  const folio = m.folios.folioOf(pfn);
  m.folios.refcount[folio]!++;
  if (pin) m.folios.pincount[folio]!++;
  return folio;
}

/**
 * pin_user_pages(FOLL_PIN | FOLL_WRITE?): fault in and pin the folio at addr. Each pin holds one
 * extra reference, so migration's expected-refcount check fails while it is held, and an exclusive
 * anonymous page cannot even be unmapped. Returns the head pfn or -errno.
 */
export function pinUserPage(m: Machine, mm: MmStruct, addr: number, write: boolean): number {
  return getUserFolio(m, mm, addr, write, true);
}

/**
 * get_user_pages(FOLL_GET): a plain reference (vmsplice, a kernel user). Unlike a pin it does not stop
 * the unmap, only the move (the refcount check fails). Returns the head pfn or -errno; put_page() drops it.
 */
export function getUserPage(m: Machine, mm: MmStruct, addr: number, write: boolean): number {
  return getUserFolio(m, mm, addr, write, false);
}

/** unpin_user_page() */
export function unpinUserPage(m: Machine, folio: number): number {
  const f = m.folios;
  if (f.pincount[folio]! <= 0) return -EINVAL;
  f.pincount[folio]!--;
  m.folioPut(folio);
  return 0;
}
