/** A walk over the present mappings of a range: mirrors walk_page_range() of mm/pagewalk.c. */
import { isHugeZeroPmd } from "./huge-zero.js";
import type { Machine } from "./machine.js";
import { PTE, type MmStruct, type Vma } from "./mm-types.js";
import { PAGE_SIZE } from "./physmem.js";

/** Visit each distinct folio mapped (present) in [addr, end). */
export function forEachMapped(m: Machine, mm: MmStruct, addr: number, end: number, fn: (folio: number, vma: Vma, addr: number) => void): void {
  let last = -1;
  for (const v of mm.vmas) {
    if (v.end <= addr || v.start >= end) continue;
    const s = Math.max(v.start, addr);
    const e = Math.min(v.end, end);
    for (let a = s; a < e; a += PAGE_SIZE) {
      const pmdI = (a - v.pmdBase) >> 21;
      let pfn = -1;
      if (v.pmdBits[pmdI]! & PTE.PRESENT) {
        if (!isHugeZeroPmd(v.pmdBits[pmdI]!)) pfn = v.pmdPfn[pmdI]!;
      } else {
        const i = (a - v.start) / PAGE_SIZE;
        if (v.pteBits[i]! & PTE.PRESENT && !(v.pteBits[i]! & PTE.SPECIAL)) pfn = v.ptePfn[i]!;
      }
      if (pfn < 0) continue;
      const folio = m.folios.folioOf(pfn);
      if (folio !== last) fn(folio, v, a);
      last = folio;
    }
  }
}
