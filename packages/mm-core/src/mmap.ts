/**
 * Creating and destroying mappings: mirrors do_mmap() and get_unmapped_area() of mm/mmap.c,
 * do_vmi_munmap() of mm/vma.c and exit_mmap().
 */
import { EINVAL, ENOMEM } from "@mmemu/kernel";
import { alignDown, alignUp } from "./align.js";
import { populateVmaPageRange } from "./gup.js";
import type { Machine } from "./machine.js";
import { zapPageRange } from "./memory.js";
import { mlockRange } from "./mlock.js";
import {
  Vma, VM, type AddressSpace, type MmStruct,
  MAP_ANONYMOUS, MAP_FIXED, MAP_HUGETLB, MAP_LOCKED, MAP_POPULATE, MAP_PRIVATE, MAP_SHARED,
  PROT_EXEC, PROT_READ, PROT_WRITE,
} from "./mm-types.js";
import { PAGE_SIZE, PMD_SIZE } from "./physmem.js";
import { vmStartGap } from "./stack.js";
import { tlbFlushMmRange } from "./tlb.js";
import { insertVma, removeVma, splitVmaAt } from "./vma.js";

export interface MmapArgs {
  /** Hint or, with MAP_FIXED, the exact address. */
  readonly addr?: number;
  readonly len: number;
  readonly prot: number;
  readonly flags: number;
  /** Backing file or shmem object for file mappings. */
  readonly file?: AddressSpace;
  /** Offset in the file in bytes. */
  readonly offset?: number;
}

/**
 * The first address user space cannot map: TASK_SIZE_MAX of x86-64 with 4-level paging
 * ((1 << 47) - PAGE_SIZE, arch/x86/include/asm/page_64_types.h). Everything above is the kernel's.
 */
export const TASK_SIZE = 0x7fff_ffff_f000;

/** Mirrors do_mmap(): returns the address or -errno. */
export function doMmap(m: Machine, mm: MmStruct, a: MmapArgs): number {
  const len = alignUp(a.len, PAGE_SIZE);
  if (!(a.len > 0) || !Number.isInteger(a.len)) return -EINVAL;
  const shared = (a.flags & MAP_SHARED) !== 0;
  const priv = (a.flags & MAP_PRIVATE) !== 0;
  if (shared === priv) return -EINVAL;
  const hugetlb = (a.flags & MAP_HUGETLB) !== 0;
  const anon = (a.flags & MAP_ANONYMOUS) !== 0;
  if (!anon && a.file === undefined) return -EINVAL;
  const offset = a.offset ?? 0;
  if (offset % PAGE_SIZE !== 0) return -EINVAL;
  const unit = hugetlb ? PMD_SIZE : PAGE_SIZE;
  const size = alignUp(len, unit);
  // __get_unmapped_area(): a length or a fixed range past TASK_SIZE is -ENOMEM.
  if (size > TASK_SIZE) return -ENOMEM;
  let addr: number;
  if ((a.flags & MAP_FIXED) !== 0) {
    if (a.addr === undefined || a.addr % unit !== 0) return -EINVAL;
    if (a.addr > TASK_SIZE - size) return -ENOMEM;
    addr = a.addr;
    doMunmap(m, mm, addr, size);
  } else {
    addr = getUnmappedArea(m, mm, a.addr, size, hugetlb || size >= PMD_SIZE ? PMD_SIZE : PAGE_SIZE);
    if (addr < 0) return -ENOMEM;
  }
  let flags = 0;
  if (a.prot & PROT_READ) flags |= VM.READ;
  if (a.prot & PROT_WRITE) flags |= VM.WRITE;
  if (a.prot & PROT_EXEC) flags |= VM.EXEC;
  if (shared) flags |= VM.SHARED | VM.MAYSHARE;
  if (hugetlb) flags |= VM.HUGETLB;
  let file = a.file ?? null;
  let pgoff = addr / PAGE_SIZE;
  if (file !== null) pgoff = offset / PAGE_SIZE;
  else if (shared || hugetlb) {
    // Shared anonymous and hugetlb memory are backed by an unnamed shmem/hugetlbfs object.
    file = m.createAddressSpace(hugetlb ? "anon_hugepage" : "dev/zero", "shmem", size / PAGE_SIZE);
    pgoff = 0;
  }
  if (file !== null && file.sizePages < pgoff + size / PAGE_SIZE && file.kind === "shmem" && anon) file.resize(pgoff + size / PAGE_SIZE);
  const vma = new Vma(mm, addr, addr + size, pgoff, flags, file);
  if (file !== null) file.immap.push(vma);
  insertVma(mm, vma);
  if ((a.flags & MAP_LOCKED) !== 0) {
    vma.flags |= VM.LOCKED;
  }
  if ((a.flags & (MAP_POPULATE | MAP_LOCKED)) !== 0) {
    const r = populateVmaPageRange(m, mm, addr, size, (a.prot & PROT_WRITE) !== 0 && !(priv && file !== null && !hugetlb && !anon));
    // MAP_POPULATE failures are not reported by mmap(), as in Linux.
    void r;
    if ((a.flags & MAP_LOCKED) !== 0) mlockRange(m, mm, addr, size, true);
  }
  return addr;
}

/** Top-down search for a gap of `size` bytes aligned to `align` (get_unmapped_area). */
function getUnmappedArea(m: Machine, mm: MmStruct, hint: number | undefined, size: number, align: number): number {
  // A hint is used only when the whole range lies below TASK_SIZE and is free.
  if (hint !== undefined && hint % PAGE_SIZE === 0 && hint > 0 && hint <= TASK_SIZE - size && rangeFree(m, mm, hint, size)) return hint;
  let top = mm.mmapBase;
  for (let i = mm.vmas.length - 1; i >= -1; i--) {
    const v = i >= 0 ? mm.vmas[i]! : null;
    const gapEnd = top;
    const gapStart = v ? v.end : 0x10000;
    if (v && v.start >= top) continue;
    const cand = alignDown(gapEnd - size, align);
    if (cand >= gapStart) return cand;
    if (v) top = Math.min(top, v.start);
  }
  return -1;
}

/** The hint's range is free, counting a stack's guard gap as taken (vm_start_gap() in the gap search). */
function rangeFree(m: Machine, mm: MmStruct, addr: number, size: number): boolean {
  for (const v of mm.vmas) if (vmStartGap(m, v) < addr + size && addr < v.end) return false;
  return true;
}

/** Mirrors do_vmi_munmap(): unmap [addr, addr+len), splitting VMAs at the edges. */
export function doMunmap(m: Machine, mm: MmStruct, addr: number, len: number): number {
  if (addr % PAGE_SIZE !== 0 || !(len > 0)) return -EINVAL;
  // do_vmi_munmap(): a range that is not all user space is -EINVAL.
  if (addr > TASK_SIZE || len > TASK_SIZE - addr) return -EINVAL;
  const end = addr + alignUp(len, PAGE_SIZE);
  splitVmaAt(m, mm, addr);
  splitVmaAt(m, mm, end);
  const doomed = mm.vmas.filter((v) => v.start >= addr && v.end <= end);
  for (const v of doomed) {
    zapPageRange(m, v, v.start, v.end);
    removeVma(v);
  }
  tlbFlushMmRange(m, mm, addr, end);
  return 0;
}

/** Mirrors exit_mmap(): unmap everything. */
export function exitMmap(m: Machine, mm: MmStruct): void {
  for (const v of mm.vmas.slice()) {
    zapPageRange(m, v, v.start, v.end);
    removeVma(v);
  }
  tlbFlushMmRange(m, mm, 0, Number.MAX_SAFE_INTEGER);
}
