/**
 * Looking one user address up the way move_pages does, and deciding whether a folio is "shared".
 *
 * - Mainline and 6.12: folio_walk_start(vma, addr, FW_ZEROPAGE) (mm/pagewalk.c) plus the checks of
 *   do_pages_stat_array()/__add_folio_for_migration() (mm/migrate.c): only a present entry with a
 *   struct page is found; the zero page and huge zero page are reported as such.
 * - 6.1: follow_page(vma, addr, FOLL_GET | FOLL_DUMP) (mm/gup.c: follow_page_mask, follow_pmd_mask,
 *   follow_page_pte, no_page_table), where FOLL_DUMP turns "no page table / pte_none" in a private
 *   anonymous VMA, the zero page and special PFN entries into -EFAULT.
 * - The sharing tests: page_mapcount() > 1 (6.1), folio_likely_mapped_shared() (6.9-6.14) and
 *   folio_maybe_mapped_shared() (6.15+), include/linux/mm.h.
 *
 * Nothing here allocates: results come back as numbers, side results in {@link walkResult}.
 */
import { EFAULT, ENOENT } from "@mmemu/kernel";
import { PAGE_SIZE, PMD_SIZE, PG, PTE, VM, rmapVmas, type Machine, type MmStruct, type Vma } from "@mmemu/mm-core";
import type { KernelFeatures } from "./version.js";

/** Side results of the last lookup: the VMA ({@link lookupUserPage}) and the exact page the address selects. */
export const walkResult = { vma: null as Vma | null, page: -1 };

/** Mirrors vma_migratable() (mm/mempolicy.c): not VM_IO/VM_PFNMAP (mmemu has no DAX or odd hstates). */
export function vmaMigratable(v: Vma): boolean {
  return (v.flags & (VM.IO | VM.PFNMAP)) === 0;
}

/**
 * vma_is_anonymous(): no vm_ops, i.e. private anonymous memory (shared anonymous has shmem's, a special
 * mapping such as [vdso] or [vvar] special_mapping_vmops).
 */
function vmaIsAnonymous(v: Vma): boolean {
  return v.file === null && v.special === null;
}

/**
 * Mirrors no_page_table() with FOLL_DUMP: when nothing is mapped, a VMA that would be filled with zeroes
 * (anonymous, or without a fault handler: a driver's remap_pfn_range() mapping) is -EFAULT, anything
 * else (files, shmem, the special mappings' special_mapping_fault()) -ENOENT.
 */
function noPageTable(v: Vma): number {
  return vmaIsAnonymous(v) || ((v.flags & VM.PFNMAP) !== 0 && v.special === null) ? -EFAULT : -ENOENT;
}

/**
 * Look `addr` up in VMA `v` (which contains it). Returns the head pfn of the folio found, or -EFAULT
 * (zero page, huge zero page; with FOLL_DUMP also what no_page_table() reports) or -ENOENT (nothing
 * mapped, a non-present entry, a page without struct page, a ZONE_DEVICE page). Sets walkResult.page.
 */
export function followUserPage(m: Machine, features: KernelFeatures, v: Vma, addr: number): number {
  const f = m.folios;
  walkResult.page = -1;
  const dump = features.followPageDump;
  // 6.1 [R]: follow_page() does not return pages of a PROT_NONE mapping.
  const protNone = features.protNoneNotFound && (v.flags & (VM.READ | VM.WRITE | VM.EXEC)) === 0;
  const rel = addr - v.pmdBase;
  // Integer division by truncation: a VMA spans far fewer than 2^31 PMDs or pages.
  const pmdI = (rel / PMD_SIZE) | 0;
  const pb = v.pmdBits[pmdI]!;
  let page: number;
  if (pb !== 0) {
    if ((pb & PTE.PRESENT) === 0) {
      // A PMD migration entry: folio_walk finds nothing; follow_pmd_mask() without FOLL_MIGRATION
      // goes to no_page_table().
      return dump ? noPageTable(v) : -ENOENT;
    }
    const head = v.pmdPfn[pmdI]!;
    if (pb & PTE.SPECIAL || f.test(head, PG.zero)) return -EFAULT; // the huge zero page
    if (protNone) return -ENOENT;
    page = head + (((rel % PMD_SIZE) / PAGE_SIZE) | 0);
  } else {
    if ((v.flags & VM.HUGETLB) !== 0) return dump ? noPageTable(v) : -ENOENT;
    const i = ((addr - v.start) / PAGE_SIZE) | 0;
    const bits = v.pteBits[i]!;
    if (bits === 0) return dump ? noPageTable(v) : -ENOENT;
    if ((bits & PTE.PRESENT) === 0) return -ENOENT; // swap, migration, hwpoison, device-private entries
    const pfn = v.ptePfn[i]!;
    if (bits & PTE.SPECIAL || (v.flags & VM.PFNMAP) !== 0) {
      if (pfn === m.zeroPfn) return -EFAULT;
      // A special PFN mapping has no struct page: folio_walk finds nothing, FOLL_DUMP says -EFAULT.
      return dump ? -EFAULT : -ENOENT;
    }
    if (protNone) return -ENOENT;
    page = pfn;
  }
  const folio = f.folioOf(page);
  const flags = f.flags[folio]!;
  if ((flags & (PG.zero | PG.zoneDevice)) !== 0) return (flags & PG.zero) !== 0 ? -EFAULT : -ENOENT;
  walkResult.page = page;
  return folio;
}

/**
 * Look `addr` up in `mm` as do_pages_stat_array() does: -EFAULT without a VMA, else
 * {@link followUserPage}. The VMA's migratability is not checked (stat mode never does).
 */
export function lookupUserPage(m: Machine, features: KernelFeatures, mm: MmStruct, addr: number): number {
  const v = mm.findVma(addr);
  walkResult.vma = v;
  walkResult.page = -1;
  if (v === null) return -EFAULT;
  return followUserPage(m, features, v, addr);
}

// ---- sharing ---------------------------------------------------------------------------------------

/** Results of {@link scanLargeMappings} (module scratch: no allocation). */
const scan = { pmdMaps: 0, pageMaps: 0, firstMm: -1, mms: 0 };

/**
 * Walk every mapping of a large folio through rmap: count PMD mappings (the entire mapcount), the
 * mappings of page `page`, and the distinct mms (up to two).
 */
function scanLargeMappings(m: Machine, folio: number, page: number): void {
  const f = m.folios;
  const nr = 1 << f.order[folio]!;
  const index = f.index[folio]!;
  scan.pmdMaps = 0;
  scan.pageMaps = 0;
  scan.firstMm = -1;
  scan.mms = 0;
  const vmas = rmapVmas(m, folio);
  for (let vi = 0; vi < vmas.length; vi++) {
    const v = vmas[vi]!;
    const first = index - v.pgoff;
    let mapsHere = false;
    if (f.isPmdMappable(folio)) {
      const a = v.start + first * PAGE_SIZE;
      if (a >= v.start && a + PMD_SIZE <= v.end && a % PMD_SIZE === 0) {
        const p = Math.floor((a - v.pmdBase) / PMD_SIZE);
        if (v.pmdBits[p]! & PTE.PRESENT && v.pmdPfn[p] === folio) {
          scan.pmdMaps++;
          scan.pageMaps++;
          mapsHere = true;
        }
      }
    }
    const kStart = Math.max(0, -first);
    const kEnd = Math.min(nr, v.pages - first);
    for (let k = kStart; k < kEnd; k++) {
      const i = first + k;
      if (v.pteBits[i]! & PTE.PRESENT && v.ptePfn[i] === folio + k) {
        mapsHere = true;
        if (folio + k === page) scan.pageMaps++;
      }
    }
    if (mapsHere) {
      if (scan.firstMm === -1) {
        scan.firstMm = v.mm.id;
        scan.mms = 1;
      } else if (v.mm.id !== scan.firstMm) scan.mms = 2;
    }
  }
}

/**
 * Whether move_pages without MPOL_MF_MOVE_ALL must refuse the folio (-EACCES), by the kernel's test.
 * `page` is the page the address selected (page_mapcount() looks at it on 6.1).
 */
export function folioSharedForMove(m: Machine, features: KernelFeatures, folio: number, page: number): boolean {
  const f = m.folios;
  const mapcount = f.mapcount[folio]!;
  // Small folios and hugetlb: the total number of page-table mappings, in every version.
  if (f.order[folio] === 0 || f.test(folio, PG.hugetlb)) return mapcount > 1;
  if (mapcount <= 1 && features.sharedTest !== "page_mapcount") return false;
  switch (features.sharedTest) {
    case "page_mapcount":
      // The subpage's own mappings plus the PMD mappings of the whole folio.
      scanLargeMappings(m, folio, page);
      return scan.pageMaps > 1;
    case "folio_likely_mapped_shared":
      scanLargeMappings(m, folio, folio);
      if (scan.pmdMaps > 0 || mapcount > f.nrPages(folio)) return true;
      return scan.pageMaps - scan.pmdMaps > 1; // guess from the first subpage's own mapcount
    case "folio_maybe_mapped_shared":
      scanLargeMappings(m, folio, folio);
      return scan.mms > 1;
  }
}

