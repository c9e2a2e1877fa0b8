/** mlock()/mlock2()/munlock(): mirrors mm/mlock.c (mlock_fixup, mlock_folio, munlock_folio). */
import { alignUp } from "./align.js";
import { PG } from "./folio.js";
import { populateVmaPageRange } from "./gup.js";
import type { Machine } from "./machine.js";
import { VM, type MmStruct } from "./mm-types.js";
import { forEachMapped } from "./pagewalk.js";
import { PAGE_SIZE } from "./physmem.js";
import { splitVmasForRange } from "./vma.js";

/**
 * Mirrors mlock()/mlock2()/munlock(): mark VMAs VM_LOCKED, fault pages in (not with MLOCK_ONFAULT) and
 * set PG_mlocked on what is mapped.
 */
export function mlockRange(m: Machine, mm: MmStruct, addr: number, len: number, lock: boolean, onFault = false): number {
  const vmas = splitVmasForRange(m, mm, addr, len);
  if (typeof vmas === "number") return vmas;
  const end = addr + alignUp(len, PAGE_SIZE);
  for (const v of vmas) {
    if (lock) v.flags |= VM.LOCKED;
    else v.flags &= ~VM.LOCKED;
  }
  if (lock && !onFault) {
    // populate_vma_page_range(): FOLL_WRITE for private writable mappings, so they get real pages.
    const r = populateVmaPageRange(m, mm, addr, end - addr, true);
    if (r < 0) return r;
  }
  const f = m.folios;
  forEachMapped(m, mm, addr, end, (folio) => {
    if (lock) {
      if (!f.test(folio, PG.mlocked)) {
        f.set(folio, PG.mlocked | PG.unevictable);
        mm.lockedVm += f.nrPages(folio);
      }
    } else if (f.test(folio, PG.mlocked)) {
      f.clear(folio, PG.mlocked | PG.unevictable);
      mm.lockedVm -= f.nrPages(folio);
    }
  });
  return 0;
}
