/**
 * A swap device for anonymous pages, enough for madvise(MADV_PAGEOUT) and swap-in faults: mirrors the
 * effect of mm/vmscan.c reclaim of an anonymous folio (swap entries in the PTEs, contents saved) and of
 * do_swap_page(). Slots keep the page's real bytes; the swap path is never hot.
 */
import { EAGAIN, EBUSY, EINVAL } from "@mmemu/kernel";
import { PG } from "./folio.js";
import type { Machine } from "./machine.js";
import { PTE, type Vma } from "./mm-types.js";
import { PAGE_SIZE } from "./physmem.js";
import { vmaAllocFolio } from "./mempolicy.js";
import { rmapVmas } from "./rmap.js";

export class SwapDevice {
  private readonly slots = new Map<number, { data: Uint8Array; users: number }>();
  private nextSlot = 1;

  constructor(private readonly m: Machine) {}

  /** Slots in use. */
  get used(): number {
    return this.slots.size;
  }

  /**
   * Reclaim one anonymous folio to swap (shrink_folio_list for a clean, unpinned, unlocked folio):
   * every PTE becomes a swap entry, contents go to swap slots, the folio is freed. Returns 0, or
   * -EBUSY if it is locked, pinned, PMD-mapped or not anonymous, -EAGAIN if extra references remain.
   */
  pageOut(folio: number): number {
    const m = this.m;
    const f = m.folios;
    if (!f.isAnon(folio) || f.test(folio, PG.hugetlb | PG.ksm)) return -EINVAL;
    if (f.test(folio, PG.locked | PG.mlocked | PG.writeback) || f.pincount[folio]! > 0) return -EBUSY;
    const nr = f.nrPages(folio);
    // Only PTE mappings are replaced; a PMD mapping would first be split (not modelled: refuse).
    const sites: Array<[Vma, number]> = [];
    for (const v of rmapVmas(m, folio)) {
      for (let k = 0; k < nr; k++) {
        const addr = v.start + (f.index[folio]! + k - v.pgoff) * PAGE_SIZE;
        if (addr < v.start || addr >= v.end) continue;
        const pmdI = (addr - v.pmdBase) >> 21;
        if (v.pmdBits[pmdI]! !== 0 && v.pmdPfn[pmdI] === folio) return -EBUSY;
        const i = (addr - v.start) / PAGE_SIZE;
        if (v.pteBits[i]! & PTE.PRESENT && v.ptePfn[i] === folio + k) sites.push([v, i]);
      }
    }
    if (f.refcount[folio] !== sites.length || sites.length !== f.mapcount[folio]) return -EAGAIN;
    const slotOf: number[] = [];
    for (let k = 0; k < nr; k++) {
      const slot = this.nextSlot++;
      this.slots.set(slot, { data: m.mem.read((folio + k) * PAGE_SIZE, PAGE_SIZE), users: 0 });
      slotOf.push(slot);
    }
    for (const [v, i] of sites) {
      const k = v.ptePfn[i]! - folio;
      v.ptePfn[i] = slotOf[k]!;
      v.pteBits[i] = PTE.SWAP | (v.pteBits[i]! & PTE.SOFT_DIRTY);
      this.slots.get(slotOf[k]!)!.users++;
    }
    for (const v of new Set(sites.map(([v]) => v))) {
      for (let cpu = 0; cpu < m.nrCpus; cpu++) if (v.mm.cpumask[cpu]) m.tlbs.flushMm(cpu, v.mm.id);
    }
    for (const s of slotOf) if (this.slots.get(s)!.users === 0) this.slots.delete(s);
    f.mapcount[folio] = 0;
    if (f.test(folio, PG.lru)) m.lruDel(folio);
    m.folioPut(folio, sites.length);
    return 0;
  }

  /** do_swap_page(): read slot back into a new order-0 folio mapped at PTE index i of v. */
  swapIn(v: Vma, i: number): number {
    const m = this.m;
    const slot = v.ptePfn[i]!;
    const s = this.slots.get(slot);
    if (s === undefined) return -EINVAL;
    m.memory.prepareAnonVma(v);
    const folio = vmaAllocFolio(m, v, v.start + i * PAGE_SIZE, 0);
    if (folio < 0) return -1;
    m.mem.write(folio * PAGE_SIZE, s.data);
    const f = m.folios;
    f.flags[folio]! |= PG.anon | PG.swapbacked | PG.uptodate | PG.dirty;
    f.mapping[folio] = v.anonVma!.id;
    f.index[folio] = v.linearPageIndex(v.start + i * PAGE_SIZE);
    if (s.users === 1) f.flags[folio]! |= PG.anonExclusive;
    f.refcount[folio] = 1;
    f.mapcount[folio] = 1;
    v.ptePfn[i] = folio;
    v.pteBits[i] = PTE.PRESENT | PTE.YOUNG | (s.users === 1 && v.flags & 2 ? PTE.WRITE : 0);
    m.lruAdd(folio);
    this.free(slot);
    return 0;
  }

  /** swap_duplicate() at fork. */
  dup(slot: number): void {
    const s = this.slots.get(slot);
    if (s) s.users++;
  }

  /** swap_free() */
  free(slot: number): void {
    const s = this.slots.get(slot);
    if (s && --s.users <= 0) this.slots.delete(slot);
  }
}
