/**
 * What /proc/PID/numa_maps and /proc/PID/pagemap show: mirrors show_numa_map() and gather_stats(), and
 * the pagemap walk, of fs/proc/task_mmu.c. numa_maps:
 * One line per VMA: its start, its policy (the VMA's, else the task's), " file=" for file mappings,
 * " huge" for hugetlb, then, if any page is present, the counts (anon, dirty, mapped, mapmax,
 * swapcache, active, writeback), the pages per node and the page size. Only present normal pages count:
 * the zero page, migration and swap entries, and PFN mappings do not.
 */
import { PG } from "./folio.js";
import type { Machine, Task } from "./machine.js";
import { mpolToStr } from "./mempolicy.js";
import { PTE, VM, type MmStruct, type Vma } from "./mm-types.js";
import { HPAGE_PMD_NR, PAGE_SIZE } from "./physmem.js";

interface NumaStats {
  pages: number;
  anon: number;
  dirty: number;
  mapmax: number;
  swapcache: number;
  active: number;
  writeback: number;
  node: Map<number, number>;
}

function gatherStats(m: Machine, md: NumaStats, folio: number, pteDirty: boolean, nr: number, mapcount: number): void {
  const f = m.folios;
  md.pages += nr;
  if (pteDirty || f.test(folio, PG.dirty)) md.dirty += nr;
  if (f.test(folio, PG.swapcache)) md.swapcache += nr;
  if (f.test(folio, PG.active) || f.test(folio, PG.unevictable)) md.active += nr;
  if (f.test(folio, PG.writeback)) md.writeback += nr;
  if (f.isAnon(folio)) md.anon += nr;
  if (mapcount > md.mapmax) md.mapmax = mapcount;
  const nid = m.mem.nodeOfPfn[folio]!;
  md.node.set(nid, (md.node.get(nid) ?? 0) + nr);
}

/**
 * The present normal mappings of a VMA as the smaps and numa_maps walks see them: each PMD-mapped folio
 * once, each PTE-mapped page on its own, with its dirty bit and per-page mapcount (exact for small
 * folios and PMD mappings; a PTE-mapped large folio's spread over its pages). The zero page, device
 * pages, special PTEs and PFN mappings are skipped; `onSwap` sees each swap PTE.
 */
function walkPresent(m: Machine, v: Vma, fn: (folio: number, dirty: boolean, pmd: boolean, mapcount: number) => void, onSwap?: () => void): void {
  const f = m.folios;
  if ((v.flags & VM.PFNMAP) !== 0) return;
  for (let p = 0; p < v.pmdBits.length; p++) {
    const pb = v.pmdBits[p]!;
    if ((pb & PTE.PRESENT) === 0) continue;
    const folio = v.pmdPfn[p]!;
    if (f.test(folio, PG.zero)) continue;
    fn(folio, (pb & PTE.DIRTY) !== 0, true, f.mapcount[folio]!);
  }
  for (let i = 0; i < v.pteBits.length; i++) {
    const bits = v.pteBits[i]!;
    if (bits & PTE.SWAP) onSwap?.();
    if ((bits & PTE.PRESENT) === 0 || bits & PTE.SPECIAL) continue;
    const folio = f.folioOf(v.ptePfn[i]!);
    if (f.test(folio, PG.zero | PG.zoneDevice)) continue;
    const nr = f.nrPages(folio);
    fn(folio, (bits & PTE.DIRTY) !== 0, false, nr === 1 ? f.mapcount[folio]! : Math.max(1, Math.round(f.mapcount[folio]! / nr)));
  }
}

/** The numa_maps line of one VMA (without the newline). */
export function showNumaMap(m: Machine, v: Vma, task: Task): string {
  const hugetlb = (v.flags & VM.HUGETLB) !== 0;
  const md: NumaStats = { pages: 0, anon: 0, dirty: 0, mapmax: 0, swapcache: 0, active: 0, writeback: 0, node: new Map() };
  const pol = v.file?.sharedPolicyAt(v.pgoff) ?? v.policy ?? task.mempolicy;
  let line = `${v.start.toString(16).padStart(8, "0")} ${mpolToStr(pol)}`;
  // Unlinked objects (shared anonymous memory, anonymous hugetlb, memfd) print their path with
  // " (deleted)"; seq_file_path() escapes newline, tab, '=' and space as octal.
  if (v.file !== null) {
    const name = v.file.name;
    const unlinked = v.file.kind === "shmem" && (name === "dev/zero" || name === "anon_hugepage" || name.startsWith("memfd:"));
    line += ` file=${`/${name}${unlinked ? " (deleted)" : ""}`.replace(/[\n\t= ]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`)}`;
  } else if (v.mm.startStack !== 0 && v.start <= v.mm.startStack && v.end >= v.mm.startStack) {
    line += " stack"; // vma_is_initial_stack()
  }
  if (hugetlb) line += " huge";
  // A hugetlb page counts once (its "page" is 2 MiB); a PMD-mapped THP as its 512 pages.
  walkPresent(m, v, (folio, dirty, pmd, mapcount) => {
    // can_gather_numa_stats() skips PageReserved pages (the vDSO); smaps still counts them in Rss.
    if (!m.folios.test(folio, PG.reserved)) gatherStats(m, md, folio, dirty, pmd ? (hugetlb ? 1 : HPAGE_PMD_NR) : 1, mapcount);
  });
  if (md.pages === 0) return line;
  if (md.anon) line += ` anon=${md.anon}`;
  if (md.dirty) line += ` dirty=${md.dirty}`;
  if (md.pages !== md.anon && md.pages !== md.dirty) line += ` mapped=${md.pages}`;
  if (md.mapmax > 1) line += ` mapmax=${md.mapmax}`;
  if (md.swapcache) line += ` swapcache=${md.swapcache}`;
  if (md.active < md.pages && !hugetlb) line += ` active=${md.active}`;
  if (md.writeback) line += ` writeback=${md.writeback}`;
  for (const nid of [...md.node.keys()].sort((a, b) => a - b)) line += ` N${nid}=${md.node.get(nid)}`;
  line += ` kernelpagesize_kB=${hugetlb ? 2048 : PAGE_SIZE / 1024}`;
  return line;
}

/** /proc/PID/numa_maps of an address space as `task` sees it (its policy shows for VMAs without one). */
export function showNumaMaps(m: Machine, mm: MmStruct, task: Task): string[] {
  return mm.vmas.map((v) => showNumaMap(m, v, task));
}

/** /proc/PID/pagemap bits (Documentation/admin-guide/mm/pagemap.rst). */
export const PM_PFRAME_MASK = 2n ** 55n - 1n;
export const PM_SOFT_DIRTY = 1n << 55n;
export const PM_MMAP_EXCLUSIVE = 1n << 56n;
export const PM_UFFD_WP = 1n << 57n;
export const PM_FILE = 1n << 61n;
export const PM_SWAP = 1n << 62n;
export const PM_PRESENT = 1n << 63n;
/** MAX_SWAPFILES_SHIFT: a swap entry's offset sits above the 5 type bits. */
const MAX_SWAPFILES_SHIFT = 5n;

/**
 * Mirrors pte_to_pagemap_entry(), pagemap_pmd_range() and pagemap_hugetlb_range(): the 64-bit pagemap
 * entry of the page at `addr`. The PFN (or swap type/offset) is shown only to a reader with
 * CAP_SYS_ADMIN (`showPfn`); migration entries are swap entries. Every mmemu VMA carries VM_SOFTDIRTY
 * (new VMAs do, and there is no clear_refs), so every address inside one reports soft-dirty; outside a
 * VMA the entry is 0.
 */
export function pagemapEntry(m: Machine, mm: MmStruct, addr: number, showPfn: boolean): bigint {
  const v = mm.findVma(addr);
  if (v === null) return 0n;
  const f = m.folios;
  let flags = PM_SOFT_DIRTY;
  let frame = 0n;
  let page = -1;
  const pmdI = (addr - v.pmdBase) >> 21;
  const pb = v.pmdBits[pmdI]!;
  const i = Math.floor((addr - v.start) / PAGE_SIZE);
  const bits = pb !== 0 ? pb : v.pteBits[i]!;
  if (bits & PTE.PRESENT) {
    flags |= PM_PRESENT;
    const pfn = pb !== 0 ? v.pmdPfn[pmdI]! + Math.floor((addr - (v.pmdBase + pmdI * (1 << 21))) / PAGE_SIZE) : v.ptePfn[i]!;
    frame = BigInt(pfn);
    if (!(bits & PTE.SPECIAL) && !f.test(f.folioOf(pfn), PG.zero)) page = pfn;
    if (bits & PTE.UFFD_WP) flags |= PM_UFFD_WP;
  } else if (bits & (PTE.SWAP | PTE.MIGRATION)) {
    flags |= PM_SWAP;
    // A swap entry shows (type 0, slot). A migration entry is a swap type of its own whose number
    // depends on the kernel configuration; mmemu shows its frame as 0 rather than guess one.
    frame = bits & PTE.MIGRATION ? 0n : BigInt(v.ptePfn[i]!) << MAX_SWAPFILES_SHIFT;
    if (bits & PTE.UFFD_WP) flags |= PM_UFFD_WP;
    if (bits & PTE.MIGRATION) page = pb !== 0 ? v.pmdPfn[pmdI]! : v.ptePfn[i]!;
  }
  if (page >= 0) {
    const folio = f.folioOf(page);
    if (!f.isAnon(folio)) flags |= PM_FILE;
    // page_mapcount(page) == 1: exact for small folios and PMD mappings; a PTE-mapped large folio's share.
    const nr = f.nrPages(folio);
    const mapcount = nr === 1 || pb !== 0 ? f.mapcount[folio]! : Math.round(f.mapcount[folio]! / nr);
    if ((flags & PM_PRESENT) !== 0n && mapcount === 1) flags |= PM_MMAP_EXCLUSIVE;
  } else if (v.file !== null && (flags & PM_PRESENT) !== 0n) flags |= PM_FILE;
  return flags | (showPfn ? frame & PM_PFRAME_MASK : 0n);
}

/** The /proc/PID/smaps fields mmemu can count, in kB, for one VMA. */
export interface SmapsFields {
  Size: number;
  KernelPageSize: number;
  MMUPageSize: number;
  Rss: number;
  Pss: number;
  Shared_Clean: number;
  Shared_Dirty: number;
  Private_Clean: number;
  Private_Dirty: number;
  Anonymous: number;
  AnonHugePages: number;
  Shared_Hugetlb: number;
  Private_Hugetlb: number;
  Swap: number;
  Locked: number;
}

/**
 * Mirrors smap_gather_stats() / smaps_account() of fs/proc/task_mmu.c for the fields above: each present
 * page counts in Rss, in Shared_* when mapped more than once (Pss gets size / mapcount) and in Private_*
 * otherwise, dirty when the PTE or the folio is; anonymous pages in Anonymous, PMD-mapped THPs also in
 * AnonHugePages; hugetlb pages only in *_Hugetlb; swap entries in Swap; Locked is the Pss of a VM_LOCKED
 * VMA. Per-page mapcounts of PTE-mapped large folios are their folio's spread over its pages.
 */
export function smapsFields(m: Machine, v: Vma): SmapsFields {
  const f = m.folios;
  const hugetlb = (v.flags & VM.HUGETLB) !== 0;
  const out: SmapsFields = {
    Size: (v.end - v.start) / 1024, KernelPageSize: hugetlb ? 2048 : 4, MMUPageSize: hugetlb ? 2048 : 4, Rss: 0, Pss: 0,
    Shared_Clean: 0, Shared_Dirty: 0, Private_Clean: 0, Private_Dirty: 0, Anonymous: 0, AnonHugePages: 0,
    Shared_Hugetlb: 0, Private_Hugetlb: 0, Swap: 0, Locked: 0,
  };
  let pss = 0;
  const account = (folio: number, kb: number, mapcount: number, dirty: boolean, pmd: boolean) => {
    if (hugetlb) {
      if (mapcount >= 2) out.Shared_Hugetlb += kb;
      else out.Private_Hugetlb += kb;
      return;
    }
    out.Rss += kb;
    if (f.isAnon(folio)) {
      out.Anonymous += kb;
      if (pmd) out.AnonHugePages += kb;
    }
    if (mapcount >= 2) {
      pss += kb / mapcount;
      if (dirty) out.Shared_Dirty += kb;
      else out.Shared_Clean += kb;
    } else {
      pss += kb;
      if (dirty) out.Private_Dirty += kb;
      else out.Private_Clean += kb;
    }
  };
  walkPresent(
    m, v,
    (folio, dirty, pmd, mapcount) => account(folio, pmd ? 2048 : 4, mapcount, dirty || f.test(folio, PG.dirty), pmd),
    () => (out.Swap += 4),
  );
  out.Pss = Math.floor(pss);
  if (v.flags & VM.LOCKED) out.Locked = out.Pss;
  return out;
}

/** The smaps field lines as show_smap() prints them: the name padded to 16 columns, the value to 8, " kB". */
export function smapsLines(fields: SmapsFields): string[] {
  return Object.entries(fields).map(([k, val]) => `${`${k}:`.padEnd(16)}${String(val).padStart(8)} kB`);
}
