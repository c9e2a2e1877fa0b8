/**
 * The page cache: looking up and creating the folio at a file offset. Mirrors filemap_get_folio(FGP_CREAT)
 * of mm/filemap.c, shmem_get_folio() of mm/shmem.c and the hugetlbfs page cache.
 */
import { alignDown } from "./align.js";
import { PG } from "./folio.js";
import type { Machine } from "./machine.js";
import { allocPagesMpol, hugetlbAllocMpol } from "./mempolicy.js";
import type { AddressSpace } from "./mm-types.js";
import { PMD_ORDER } from "./physmem.js";

/**
 * Mirrors filemap_get_folio(FGP_CREAT)/shmem_get_folio()/hugetlb's page cache: the cached folio for
 * pgoff, reading it in if absent. A disk file's page reads in a pattern derived from (file, offset),
 * so its contents are recognisable; shmem pages start zeroed.
 */
export function filemapGetFolio(m: Machine, space: AddressSpace, pgoff: number, hugetlb: boolean): number {
  const cached = space.cache[pgoff]!;
  if (cached >= 0) return cached;
  const f = m.folios;
  // shmem_alloc_folio() follows the file's shared policy, else the task's; a page-cache page the task's.
  const pol = space.sharedPolicyAt(pgoff) ?? m.current.mempolicy;
  let order = hugetlb ? PMD_ORDER : space.kind === "shmem" ? m.memory.shmemOrder : 0;
  let start = alignDown(pgoff, 1 << order);
  while (order > 0 && (start + (1 << order) > space.sizePages || !cacheRangeEmpty(space, start, 1 << order))) {
    if (hugetlb) return -1;
    order--;
    start = alignDown(pgoff, 1 << order);
  }
  let folio = -1;
  if (hugetlb) {
    folio = hugetlbAllocMpol(m, pol, start >> PMD_ORDER);
  } else {
    folio = allocPagesMpol(m, pol, start >> order, order);
    while (folio < 0 && order > 0) {
      order--;
      start = alignDown(pgoff, 1 << order);
      folio = allocPagesMpol(m, pol, start >> order, order);
    }
  }
  if (folio < 0) return -1;
  const nr = 1 << order;
  if (space.kind === "file") for (let k = 0; k < nr; k++) m.mem.fillPages(folio + k, 1, filePattern(space.id, start + k));
  else m.mem.zeroPages(folio, nr);
  f.flags[folio]! |= PG.uptodate | (space.kind === "shmem" ? PG.swapbacked : 0) | (hugetlb ? PG.hugetlbMigratable : 0);
  f.mapping[folio] = space.id;
  f.index[folio] = start;
  // The allocation reference becomes the page cache's; a large folio holds one per page.
  f.refcount[folio] = nr;
  for (let k = 0; k < nr; k++) space.cache[start + k] = folio;
  space.nrpages += nr;
  if (!hugetlb) m.lruAdd(folio);
  return folio;
}

/** A recognisable pattern for page `pgoff` of file `id`. */
export function filePattern(id: number, pgoff: number): number {
  return (Math.imul(id, 0x9e3779b1) ^ Math.imul(pgoff + 1, 0x85ebca6b)) >>> 0 || 1;
}

function cacheRangeEmpty(space: AddressSpace, start: number, nr: number): boolean {
  for (let k = start; k < start + nr; k++) if (space.cache[k]! >= 0) return false;
  return true;
}
