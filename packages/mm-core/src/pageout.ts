/**
 * MADV_PAGEOUT: mirrors madvise_cold_or_pageout_pte_range() + reclaim_pages() (mm/madvise.c,
 * mm/vmscan.c) for anonymous memory: every folio mapped in the range that only this mapping uses is
 * written to swap and freed; shared folios are left alone, as the kernel does.
 */
import type { Machine } from "./machine.js";
import type { MmStruct } from "./mm-types.js";
import { alignUp } from "./align.js";
import { PAGE_SIZE } from "./physmem.js";

/** Page out the folios of [addr, addr+len); returns the number of base pages reclaimed. */
export function madvisePageout(m: Machine, mm: MmStruct, addr: number, len: number): number {
  const f = m.folios;
  const folios: number[] = [];
  m.memory.forEachMapped(mm, addr, addr + alignUp(len, PAGE_SIZE), (folio) => {
    if (f.isAnon(folio) && f.mapcount[folio]! <= 1) folios.push(folio);
  });
  let reclaimed = 0;
  for (const folio of folios) {
    const nr = f.nrPages(folio);
    if (m.swap.pageOut(folio) === 0) reclaimed += nr;
  }
  return reclaimed;
}
