/**
 * Splitting a large folio into order-0 folios, as migration does when a large folio cannot be moved
 * whole or is partially mapped. Mirrors split_folio_to_list()/__folio_split() in mm/huge_memory.c and
 * try_split_folio() in mm/migrate.c: a PMD mapping is first split into PTEs, the refcount must be
 * exactly what the mappings, the page cache and the caller's isolation account for, and every piece
 * keeps its own mapcount, references, page-cache slot and the caller's isolation reference.
 */
import { Cost, EAGAIN, EBUSY } from "@mmemu/kernel";
import { PG } from "./folio.js";
import type { FolioList } from "./folio-list.js";
import type { Machine } from "./machine.js";
import { PTE } from "./mm-types.js";
import { PAGE_SIZE } from "./physmem.js";
import { rmapVmas } from "./rmap.js";
import { folioExpectedRefCount, folioLock, folioTrylock, folioUnlock, MIGRATE_ASYNC, type MigrateMode } from "./migrate-util.js";

/** Flags each piece inherits from the head. */
const INHERITED = PG.anon | PG.swapbacked | PG.dirty | PG.uptodate | PG.mlocked | PG.unevictable | PG.referenced | PG.active | PG.workingset | PG.swapcache | PG.young | PG.allocated;

/**
 * Split an isolated large folio (holding the caller's one isolation reference) into order-0 folios and
 * append them all to `list`. Returns 0, -EAGAIN (lock contended in async mode, or unexpected
 * references), or -EBUSY (hugetlb or movable_ops, which cannot be split).
 */
export function trySplitFolio(m: Machine, folio: number, list: FolioList, mode: MigrateMode): number {
  const f = m.folios;
  if (!f.isLarge(folio) || f.test(folio, PG.hugetlb | PG.movableOps)) return -EBUSY;
  if (mode === MIGRATE_ASYNC) {
    if (!folioTrylock(m, folio)) return -EAGAIN;
  } else folioLock(m, folio);
  const rc = splitLockedFolio(m, folio, list);
  // Every piece was unlocked by the split except the head, which the lock was taken on.
  folioUnlock(m, folio);
  return rc;
}

function splitLockedFolio(m: Machine, folio: number, list: FolioList): number {
  const f = m.folios;
  const nr = f.nrPages(folio);
  // can_split_folio(): only the mappings, the cache and our isolation reference may hold it.
  if (f.refcount[folio] !== folioExpectedRefCount(m, folio) + 1) return -EAGAIN;
  m.charge(Cost.FOLIO_SPLIT, 1);
  // Split PMD mappings into PTEs and count each page's mappings.
  const perPage = new Int32Array(nr);
  for (const v of rmapVmas(m, folio)) {
    const first = f.index[folio]! - v.pgoff;
    if (f.isPmdMappable(folio)) {
      const addr = v.start + first * PAGE_SIZE;
      if (addr >= v.start && addr < v.end) {
        const pmdI = (addr - v.pmdBase) >> 21;
        if (v.pmdBits[pmdI] !== 0 && v.pmdPfn[pmdI] === folio) m.memory.splitHugePmd(v, pmdI);
      }
    }
    for (let k = Math.max(0, -first); k < Math.min(nr, v.pages - first); k++) {
      const bits = v.pteBits[first + k]!;
      if (bits & PTE.PRESENT && v.ptePfn[first + k] === folio + k) perPage[k]!++;
    }
  }
  const headFlags = f.flags[folio]! & INHERITED;
  const mapping = f.mapping[folio]!;
  const index = f.index[folio]!;
  const file = !f.isAnon(folio) && mapping !== 0;
  const space = file ? m.spaces[mapping]! : null;
  for (let k = 0; k < nr; k++) {
    const p = folio + k;
    const perPageFlags = f.flags[p]! & (PG.anonExclusive | PG.hwpoison);
    f.flags[p] = headFlags | perPageFlags | (k === 0 ? PG.locked : 0);
    f.order[p] = 0;
    f.mapping[p] = mapping;
    f.index[p] = index + k;
    f.mapcount[p] = perPage[k]!;
    f.refcount[p] = perPage[k]! + 1 + (file ? 1 : 0);
    f.migrateInfo[p] = 0;
    f.pincount[p] = 0;
    if (space) space.cache[index + k] = p;
    list.push(p);
  }
  return 0;
}
