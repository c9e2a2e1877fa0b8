/**
 * Driver mappings without struct pages: mirrors remap_pfn_range() (mm/memory.c) as a driver's mmap
 * handler uses it — a VM_IO | VM_PFNMAP | VM_DONTEXPAND mapping whose PTEs are special entries naming
 * raw frames. vm_normal_page() returns nothing for them, so GUP, folio_walk and migration never see a
 * folio; move_pages reports -EFAULT (VMA not migratable) or, in stat mode, -ENOENT.
 */
import type { Machine } from "./machine.js";
import { MAP_ANONYMOUS, MAP_SHARED, PROT_WRITE, PTE, VM, type MmStruct } from "./mm-types.js";

/**
 * mmap of a device that calls remap_pfn_range() over `len` bytes of frames reserved on node `nid` (device
 * memory, e.g. a BAR). Returns the user address, or -errno from mmap / -1 when the node has no frames.
 */
export function mmapPfnRange(m: Machine, mm: MmStruct, len: number, prot: number, nid: number): number {
  const addr = m.memory.mmap(mm, { len, prot, flags: MAP_SHARED | MAP_ANONYMOUS });
  if (addr < 0) return addr;
  const v = mm.findVma(addr)!;
  v.flags |= VM.IO | VM.PFNMAP | VM.DONTEXPAND;
  for (let i = 0; i < v.pages; i++) {
    const pfn = m.alloc.alloc(nid, 0);
    if (pfn < 0) return -1;
    m.mem.zeroPages(pfn, 1);
    v.ptePfn[i] = pfn;
    v.pteBits[i] = PTE.PRESENT | PTE.SPECIAL | PTE.YOUNG | (prot & PROT_WRITE ? PTE.WRITE : 0);
  }
  return addr;
}
