/**
 * Kernel-provided mappings of every process: mirrors _install_special_mapping() and
 * special_mapping_fault() of mm/mmap.c (mm/vma.c on 6.12) with the x86-64 vDSO's vm_special_mappings of
 * arch/x86/entry/vdso/vma.c (map_vdso(), vdso_fault(), vvar_fault()) as in 6.1 and 6.12 (6.13 split the
 * clock pages off into [vvar_vclock]).
 *
 * - [vvar]: VM_READ | VM_IO | VM_PFNMAP | VM_DONTDUMP. vvar_fault() inserts the kernel's vvar data page
 *   as a raw PFN (vmf_insert_pfn: a special PTE, no struct page for vm_normal_page()); the pvclock,
 *   hvclock and time-namespace pages fault with SIGBUS on a machine without a paravirtual clock, Hyper-V
 *   or a time namespace. vma_migratable() is false for it.
 * - [vdso]: VM_READ | VM_EXEC (VM_MAYWRITE, so ptrace can poke breakpoints). vdso_fault() maps the page
 *   of the vDSO image in the kernel's data: a normal PTE to a PageReserved page that is on no LRU, so
 *   move_pages finds it and then cannot isolate it, and the mempolicy walk skips it.
 */
import { PG } from "./folio.js";
import type { Machine } from "./machine.js";
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_EXEC, PROT_READ, PTE, VM, VM_FAULT, type MmStruct, type SpecialMapping, type Vma } from "./mm-types.js";
import { PAGE_SIZE } from "./physmem.js";

/** x86-64 vvar area: vvar page, pvclock page, hvclock page, time-namespace page (vdso-layout.lds.S). */
export const VVAR_PAGES = 4;
/** Pages of the x86-64 vdso64 image (its size is build dependent; 2 pages on the usual configs). */
export const VDSO_TEXT_PAGES = 2;

/** The frames of the kernel's vDSO image and vvar data page: reserved at boot, one set per machine. */
interface VdsoImage {
  readonly vdso: SpecialMapping;
  readonly vvar: SpecialMapping;
}
const images = new WeakMap<Machine, VdsoImage>();

/** A frame of the kernel image: reserved, held by the kernel forever (PageReserved, refcount 1). */
function reserveKernelFrame(m: Machine, nid: number): number {
  const pfn = m.alloc.alloc(nid, 0);
  if (pfn < 0) throw new Error(`node ${nid} has no frame left for the kernel's vDSO image`);
  m.mem.zeroPages(pfn, 1);
  m.folios.flags[pfn] = PG.reserved | PG.allocated | PG.uptodate;
  m.folios.refcount[pfn] = 1;
  return pfn;
}

/** The vDSO image and vvar page of the machine, placed with the kernel image on the first node with memory. */
function vdsoImage(m: Machine): VdsoImage {
  let img = images.get(m);
  if (img !== undefined) return img;
  const nid = m.mem.nodes.find((n) => n.nrPages > 0)!.id;
  const text = new Int32Array(VDSO_TEXT_PAGES);
  for (let k = 0; k < text.length; k++) text[k] = reserveKernelFrame(m, nid);
  // Only the vvar data page exists; the pvclock/hvclock/timens slots fault with SIGBUS.
  const vvar = new Int32Array(VVAR_PAGES).fill(-1);
  vvar[0] = reserveKernelFrame(m, nid);
  img = { vdso: { name: "[vdso]", pfns: text, rawPfn: false }, vvar: { name: "[vvar]", pfns: vvar, rawPfn: true } };
  images.set(m, img);
  return img;
}

/**
 * Mirrors _install_special_mapping(): a VMA of `sm.pfns.length` pages with `vmFlags | VM_DONTEXPAND` whose
 * faults go to {@link specialMappingFault}. The area comes from get_unmapped_area() (the mmap path), then
 * takes the special mapping's flags and ops. Returns the address or -errno.
 */
function installSpecialMapping(m: Machine, mm: MmStruct, sm: SpecialMapping, vmFlags: number, hint?: number): number {
  const len = sm.pfns.length * PAGE_SIZE;
  const addr = m.memory.mmap(mm, { len, prot: PROT_READ | PROT_EXEC, flags: MAP_PRIVATE | MAP_ANONYMOUS, ...(hint !== undefined ? { addr: hint } : {}) });
  if (addr < 0) return addr;
  const v = mm.findVma(addr)!;
  v.flags = vmFlags | VM.DONTEXPAND;
  v.pgoff = 0;
  v.special = sm;
  return addr;
}

/**
 * Mirrors map_vdso(): [vvar] directly below [vdso] in one free area. Returns the vdso address (the
 * AT_SYSINFO_EHDR value) and the vvar address, or -errno.
 */
export function mapVdso(m: Machine, mm: MmStruct): { vdso: number; vvar: number } | number {
  const img = vdsoImage(m);
  const vvarLen = img.vvar.pfns.length * PAGE_SIZE;
  // Reserve the whole area first so the two land next to each other, as map_vdso() does.
  const area = m.memory.mmap(mm, { len: vvarLen + img.vdso.pfns.length * PAGE_SIZE, prot: PROT_READ, flags: MAP_PRIVATE | MAP_ANONYMOUS });
  if (area < 0) return area;
  m.memory.munmap(mm, area, vvarLen + img.vdso.pfns.length * PAGE_SIZE);
  const vvar = installSpecialMapping(m, mm, img.vvar, VM.READ | VM.IO | VM.PFNMAP, area);
  if (vvar < 0) return vvar;
  const vdso = installSpecialMapping(m, mm, img.vdso, VM.READ | VM.EXEC, area + vvarLen);
  if (vdso < 0) return vdso;
  return { vdso, vvar };
}

/**
 * Mirrors special_mapping_fault() -> vdso_fault()/vvar_fault(): map the kernel frame of the faulting page.
 * The vDSO page gets a normal PTE with a reference and a mapcount (set_pte_range); the vvar page a special
 * one (vmf_insert_pfn). Returns 0 or VM_FAULT.SIGBUS.
 */
export function specialMappingFault(m: Machine, v: Vma, addr: number): number {
  const sm = v.special!;
  const i = ((addr - v.start) / PAGE_SIZE) | 0;
  const pgoff = v.pgoff + i;
  const pfn = pgoff >= 0 && pgoff < sm.pfns.length ? sm.pfns[pgoff]! : -1;
  if (pfn < 0) return VM_FAULT.SIGBUS;
  v.ptePfn[i] = pfn;
  if (sm.rawPfn) {
    v.pteBits[i] = PTE.PRESENT | PTE.SPECIAL | PTE.YOUNG;
    return 0;
  }
  v.pteBits[i] = PTE.PRESENT | PTE.YOUNG;
  m.folios.mapcount[pfn]!++;
  m.folios.refcount[pfn]!++;
  return 0;
}
