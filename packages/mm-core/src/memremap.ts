/**
 * ZONE_DEVICE memory as migration sees it: mirrors a device-coherent page mapped present in a user page
 * table (MEMORY_DEVICE_COHERENT, folio_is_zone_device()) and a device-private entry (a non-present PTE
 * naming a MEMORY_DEVICE_PRIVATE page after migrate_vma moved the data to the device, include/linux/
 * swapops.h make_*_device_private_entry), with the CPU fault that brings a device-private page back to
 * system RAM (do_swap_page -> pgmap->ops->migrate_to_ram). mm/memremap.c, mm/migrate_device.c.
 */
import { PG } from "./folio.js";
import type { Machine } from "./machine.js";
import { PTE, VM, type MmStruct, type Vma } from "./mm-types.js";
import { PAGE_SIZE, PMD_SIZE } from "./physmem.js";
import { VM_FAULT } from "./mm-types.js";
import { tlbFlushMmRange } from "./tlb.js";

/** A fresh ZONE_DEVICE page on node `nid` owned by the anonymous VMA v at addr (refcount 1, not on the LRU). */
function deviceFolio(m: Machine, v: Vma, addr: number, nid: number): number {
  const f = m.folios;
  const folio = m.folioAlloc(nid, 0, true);
  if (folio < 0) return -1;
  m.memory.prepareAnonVma(v);
  f.flags[folio]! |= PG.zoneDevice | PG.anon | PG.uptodate | PG.dirty | PG.anonExclusive;
  f.mapping[folio] = v.anonVma!.id;
  f.index[folio] = v.linearPageIndex(addr);
  return folio;
}

/** Drop whatever maps the page at index i of v (a PMD mapping is split first; present page or swap entry). */
function dropPte(m: Machine, v: Vma, page: number, i: number): void {
  const f = m.folios;
  const pmdI = Math.floor((page - v.pmdBase) / PMD_SIZE);
  if (v.pmdBits[pmdI] !== 0) m.memory.splitHugePmd(v, pmdI);
  const bits = v.pteBits[i]!;
  if (bits & PTE.PRESENT && !(bits & PTE.SPECIAL)) {
    const old = f.folioOf(v.ptePfn[i]!);
    f.mapcount[old]!--;
    m.folioPut(old);
  } else if (bits & PTE.SWAP) m.swap.free(v.ptePfn[i]!);
  v.pteBits[i] = 0;
  v.ptePfn[i] = -1;
}

/**
 * migrate_vma_pages() for one page of a private anonymous mapping: the contents move to a new device
 * page on node `nid`, and the PTE names it with `bits` (built from the VMA's write permission). Returns
 * the device pfn, or -1.
 */
function moveToDevicePage(m: Machine, mm: MmStruct, addr: number, nid: number, bits: (writable: boolean) => number): number {
  const v = mm.findVma(addr);
  if (v === null || v.file !== null) return -1;
  const page = addr - (addr % PAGE_SIZE);
  const i = (page - v.start) / PAGE_SIZE;
  const folio = deviceFolio(m, v, page, nid);
  if (folio < 0) return -1;
  const src = m.memory.translate(mm, page);
  if (src >= 0) m.mem.copyPages(folio, src, 1);
  else m.mem.zeroPages(folio, 1);
  dropPte(m, v, page, i);
  v.ptePfn[i] = folio;
  v.pteBits[i] = bits((v.flags & VM.WRITE) !== 0);
  m.folios.mapcount[folio] = 1;
  tlbFlushMmRange(m, mm, page, page + PAGE_SIZE);
  return folio;
}

/**
 * Map a device-coherent page (memory on node `nid` that the CPU can access) at the page `addr` of a
 * private anonymous mapping of `mm`, replacing what was there and keeping its contents. Returns the
 * device page's pfn, or -1.
 */
export function mapDeviceCoherentPage(m: Machine, mm: MmStruct, addr: number, nid: number): number {
  return moveToDevicePage(m, mm, addr, nid, (w) => PTE.PRESENT | PTE.YOUNG | PTE.DIRTY | (w ? PTE.WRITE : 0));
}

/**
 * migrate_vma to device-private memory for one page: the contents move to a device page on node `nid`
 * and the PTE becomes a non-present device-private entry naming it. Returns the device pfn, or -1.
 */
export function makeDevicePrivateEntry(m: Machine, mm: MmStruct, addr: number, nid: number): number {
  return moveToDevicePage(m, mm, addr, nid, (w) => PTE.DEVICE_PRIVATE | (w ? PTE.MIG_WRITE : 0));
}

/**
 * A CPU access meets a device-private entry: the page migrates back to system RAM on the faulting CPU's
 * node (migrate_to_ram) and the access is retried. Returns 0 or VM_FAULT.OOM.
 */
export function devicePrivateFault(m: Machine, v: Vma, i: number): number {
  const f = m.folios;
  const dev = v.ptePfn[i]!;
  const writable = (v.pteBits[i]! & PTE.MIG_WRITE) !== 0;
  const folio = m.folioAlloc(m.mem.cpuToNode(m.current.cpu), 0, false);
  if (folio < 0) return VM_FAULT.OOM;
  m.mem.copyPages(folio, dev, 1);
  f.flags[folio]! |= PG.anon | PG.swapbacked | PG.uptodate | PG.dirty | PG.anonExclusive;
  f.mapping[folio] = f.mapping[dev]!;
  f.index[folio] = f.index[dev]!;
  f.mapcount[folio] = 1;
  v.ptePfn[i] = folio;
  v.pteBits[i] = PTE.PRESENT | PTE.YOUNG | PTE.DIRTY | (writable ? PTE.WRITE : 0);
  m.lruAdd(folio);
  f.mapcount[dev] = 0;
  m.folioPut(dev);
  return 0;
}
