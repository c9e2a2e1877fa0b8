/**
 * Address-space objects: mm_struct, vm_area_struct, anon_vma and address_space (include/linux/mm_types.h,
 * include/linux/rmap.h, include/linux/fs.h). Page tables are dense typed arrays per VMA: one PTE slot per
 * 4 KiB page and one PMD slot per 2 MiB, so a walk is an index computation, not a map lookup.
 */
import type { RwSemaphore } from "@mmemu/kernel";
import type { Mempolicy } from "./mempolicy.js";

/** PTE and PMD entry bits (a present entry, or a non-present software "leaf" entry). */
export const PTE = {
  PRESENT: 1 << 0,
  WRITE: 1 << 1,
  DIRTY: 1 << 2,
  YOUNG: 1 << 3,
  SOFT_DIRTY: 1 << 4,
  UFFD_WP: 1 << 5,
  /** Maps the shared zero page (pte_special). */
  SPECIAL: 1 << 6,
  /** Non-present migration entry; the pfn field names the source page. */
  MIGRATION: 1 << 7,
  /** Migration entry kind: writable (make_writable_migration_entry). */
  MIG_WRITE: 1 << 8,
  /** Migration entry kind: readable-exclusive (make_readable_exclusive_migration_entry). */
  MIG_READ_EXCL: 1 << 9,
  /** Non-present swap entry; the pfn field is the swap slot. */
  SWAP: 1 << 10,
  /** Non-present hwpoison entry. */
  HWPOISON: 1 << 11,
  /** Non-present device-private entry; the pfn field names the ZONE_DEVICE page (memremap.ts). */
  DEVICE_PRIVATE: 1 << 12,
} as const;

export const PROT_NONE = 0;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const PROT_EXEC = 4;

export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
export const MAP_LOCKED = 0x2000;
export const MAP_POPULATE = 0x8000;
export const MAP_HUGETLB = 0x40000;

/** vm_flags (include/linux/mm.h). */
export const VM = {
  READ: 1 << 0,
  WRITE: 1 << 1,
  EXEC: 1 << 2,
  SHARED: 1 << 3,
  MAYSHARE: 1 << 7,
  GROWSDOWN: 1 << 8,
  PFNMAP: 1 << 10,
  LOCKED: 1 << 13,
  IO: 1 << 14,
  DONTEXPAND: 1 << 18,
  HUGETLB: 1 << 22,
  MIXEDMAP: 1 << 28,
  HUGEPAGE: 1 << 29,
  NOHUGEPAGE: 1 << 30,
  /** VM_MERGEABLE (KSM); kept in a separate bit space of mmemu's 32-bit flags. */
  MERGEABLE: 1 << 31,
} as const;

/** Mirrors struct anon_vma: the set of VMAs that may map its folios (the anon_vma_chain). */
export class AnonVma {
  /** VMAs linked through anon_vma_chain (the interval tree, as a list). */
  readonly vmas: Vma[] = [];
  /** References: one per linked VMA plus temporary ones (folio_get_anon_vma). */
  refcount = 0;
  constructor(
    readonly id: number,
    readonly root: AnonVma | null,
  ) {}
}

/** Mirrors struct address_space of a file or shmem inode: the page cache and i_mmap. */
export class AddressSpace {
  /** Page cache: head pfn covering each page offset, or -1 (the xarray). */
  cache: Int32Array;
  /** VMAs mapping this file (i_mmap). */
  readonly immap: Vma[] = [];
  /** Pages in the page cache. */
  nrpages = 0;
  /**
   * struct shared_policy of a shmem/hugetlbfs inode: policies by page-offset range [start, end), set by
   * mbind() on any mapping of the file and seen by every mapper (mpol_set_shared_policy).
   */
  readonly sharedPolicy: Array<{ start: number; end: number; pol: Mempolicy }> = [];
  constructor(
    readonly id: number,
    readonly name: string,
    /** "shmem" for tmpfs/memfd/shared anonymous memory (swap-backed), "file" for a disk file. */
    readonly kind: "file" | "shmem",
    public sizePages: number,
  ) {
    this.cache = new Int32Array(sizePages).fill(-1);
  }

  /** mpol_shared_policy_lookup(): the shared policy covering page offset `pgoff`, or null. */
  sharedPolicyAt(pgoff: number): Mempolicy | null {
    const sp = this.sharedPolicy;
    for (let i = 0; i < sp.length; i++) if (pgoff >= sp[i]!.start && pgoff < sp[i]!.end) return sp[i]!.pol;
    return null;
  }

  /** mpol_set_shared_policy(): `pol` (null: none) for [start, end), replacing what overlaps. */
  setSharedPolicy(start: number, end: number, pol: Mempolicy | null): void {
    const kept: Array<{ start: number; end: number; pol: Mempolicy }> = [];
    for (const r of this.sharedPolicy) {
      if (r.end <= start || r.start >= end) kept.push(r);
      else {
        if (r.start < start) kept.push({ start: r.start, end: start, pol: r.pol });
        if (r.end > end) kept.push({ start: end, end: r.end, pol: r.pol });
      }
    }
    if (pol !== null) kept.push({ start, end, pol });
    kept.sort((a, b) => a.start - b.start);
    this.sharedPolicy.length = 0;
    this.sharedPolicy.push(...kept);
  }

  /** Grow the file (ftruncate up). */
  resize(pages: number): void {
    if (pages <= this.cache.length) {
      this.sizePages = pages;
      return;
    }
    const c = new Int32Array(pages).fill(-1);
    c.set(this.cache);
    this.cache = c;
    this.sizePages = pages;
  }
}

/**
 * Mirrors struct vm_special_mapping (include/linux/mm_types.h): a kernel-provided mapping such as [vdso]
 * or [vvar], named by the kernel, whose faults insert the kernel's own frames.
 */
export interface SpecialMapping {
  readonly name: string;
  /** Frame of each page of the mapping, or -1 where its fault handler gives SIGBUS. */
  readonly pfns: Int32Array;
  /** true: vmf_insert_pfn() of a raw frame (vvar, a VM_PFNMAP mapping); false: the page itself (vdso). */
  readonly rawPfn: boolean;
}

/** Mirrors struct vm_area_struct. */
export class Vma {
  /** Page-table slots for [start, end): pfn (or swap slot) and PTE bits; bits 0 = pte_none. */
  ptePfn: Int32Array;
  pteBits: Uint16Array;
  /** PMD slots for the 2 MiB units overlapping [start, end) counted from pmdBase. */
  pmdPfn: Int32Array;
  pmdBits: Uint16Array;
  pmdBase: number;
  /** The anon_vma new anonymous folios of this VMA use (vma->anon_vma). */
  anonVma: AnonVma | null = null;
  /** Every anon_vma this VMA is linked to (anon_vma_chain). */
  anonVmaChain: AnonVma[] = [];
  /** vma->vm_policy (mbind); null: the task's policy applies. */
  policy: Mempolicy | null = null;
  /** vm_private_data of a special mapping (vm_ops = special_mapping_vmops), else null. */
  special: SpecialMapping | null = null;

  constructor(
    readonly mm: MmStruct,
    public start: number,
    public end: number,
    /** vm_pgoff: page offset of `start` in the file, or start >> 12 for anonymous memory. */
    public pgoff: number,
    public flags: number,
    public file: AddressSpace | null,
  ) {
    const pages = (end - start) / 4096;
    this.ptePfn = new Int32Array(pages).fill(-1);
    this.pteBits = new Uint16Array(pages);
    this.pmdBase = start - (start % (1 << 21));
    const pmds = Math.ceil((end - this.pmdBase) / (1 << 21));
    this.pmdPfn = new Int32Array(pmds).fill(-1);
    this.pmdBits = new Uint16Array(pmds);
  }

  get pages(): number {
    return (this.end - this.start) / 4096;
  }

  /** vma_is_anonymous(): no vm_ops, i.e. private anonymous memory (not shmem, not a special mapping). */
  get isAnonymous(): boolean {
    return this.file === null && this.special === null;
  }

  /** Page offset of an address (linear_page_index). */
  linearPageIndex(addr: number): number {
    return this.pgoff + (addr - this.start) / 4096;
  }
}

/** Mirrors struct mm_struct. */
export class MmStruct {
  /** VMAs sorted by start (the maple tree, as a sorted array). */
  vmas: Vma[] = [];
  /** CPUs that may cache this mm's translations (mm_cpumask); set bits only with {@link cpumaskSetCpu}. */
  readonly cpumask: Uint8Array;
  /**
   * The same bytes as 32-bit words (the buffer is padded to whole words with zeroes), so that
   * set_tlb_ubc_flush_pending(), run for every PTE a migration unmaps, ors the mask in a word at a time.
   */
  readonly cpumaskWords: Uint32Array;
  /**
   * cpumask_weight(mm_cpumask(mm)), kept by {@link cpumaskSetCpu}. The emulator never takes a CPU out
   * of the mask (no lazy-TLB switch-out is modelled), so equal weights mean equal masks: the per-folio
   * unmap reads the weight instead of scanning or or-ing every CPU's byte (see rmap.ts).
   */
  cpumaskWeight = 0;
  /** Batched PTE clears not yet flushed (mm->tlb_flush_batched). */
  tlbFlushBatched = false;
  /** Users (mm_users) and references (mm_count). */
  users = 1;
  /** Where the next mmap without a hint goes (top-down from here). */
  mmapBase = 0x7f00_0000_0000;
  /** Pages locked by mlock (locked_vm). */
  lockedVm = 0;
  /** mm->start_stack: the initial stack pointer (numa_maps and smaps name the VMA holding it " stack"); 0 without a stack. */
  startStack = 0;

  constructor(
    readonly id: number,
    nrCpus: number,
    /** mm->mmap_lock: taken by the syscalls and faults as the kernel takes it (see docs/concurrency.md). */
    readonly mmapLock: RwSemaphore,
  ) {
    const buf = new ArrayBuffer((nrCpus + 3) & ~3);
    this.cpumask = new Uint8Array(buf, 0, nrCpus);
    this.cpumaskWords = new Uint32Array(buf);
  }

  /** cpumask_set_cpu(cpu, mm_cpumask(mm)): the CPU may now cache this mm's translations. */
  cpumaskSetCpu(cpu: number): void {
    if (this.cpumask[cpu] !== 0) return;
    this.cpumask[cpu] = 1;
    this.cpumaskWeight++;
  }

  /** find_vma_intersection(addr, addr+1): the VMA containing addr, or null (binary search). */
  findVma(addr: number): Vma | null {
    const v = this.vmas;
    let lo = 0;
    let hi = v.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const m = v[mid]!;
      if (addr < m.start) hi = mid - 1;
      else if (addr >= m.end) lo = mid + 1;
      else return m;
    }
    return null;
  }
}

/**
 * Fault results (include/linux/mm_types.h enum vm_fault_reason): 0, or one of these (negative, distinct
 * from errno values).
 */
export const VM_FAULT = {
  OOM: -1001,
  SIGBUS: -1002,
  SIGSEGV: -1003,
  HWPOISON: -1004,
  /** The access met a migration entry; wait for the folio named by `faultWaitPfn` to unlock, then retry. */
  MIGRATION_WAIT: -1005,
  /** mmemu: the fault needs mmap_lock, which a writer holds; sleep on `faultWaitLock`, then retry. */
  LOCK_WAIT: -1006,
} as const;
