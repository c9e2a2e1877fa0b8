/**
 * The address-space front of one machine: the mm system calls (mmap, munmap, mprotect, mlock, madvise,
 * fork, exit), page faults, pins and user accesses, each delegating to the file that mirrors its kernel
 * source (mmap.ts, mprotect.ts, mlock.ts, madvise.ts, fork.ts, memory.ts, gup.ts, filemap.ts,
 * huge-memory.ts, uaccess.ts), plus the per-machine settings those paths read.
 */
import type { RwSemaphore } from "@mmemu/kernel";
import { copyPageRange, handleMmFault, mapFolio } from "./memory.js";
import { dupMm } from "./fork.js";
import { filemapGetFolio } from "./filemap.js";
import { getUserPage, pinUserPage, populateVmaPageRange, unpinUserPage } from "./gup.js";
import { splitHugePmd, thpVmaAllowableOrders, type ThpPolicy } from "./huge-memory.js";
import type { Machine, Task } from "./machine.js";
import { doMadvise, type MadviseAdvice } from "./madvise.js";
import { mlockRange } from "./mlock.js";
import type { AddressSpace, MmStruct, Vma } from "./mm-types.js";
import { doMmap, doMunmap, exitMmap, type MmapArgs } from "./mmap.js";
import { mprotectFixup } from "./mprotect.js";
import { forEachMapped } from "./pagewalk.js";
import { PAGE_SIZE, PMD_ORDER } from "./physmem.js";
import { anonVmaPrepare } from "./rmap.js";
import { translate, userAccessFrame } from "./uaccess.js";

/** Address-space and fault logic of one machine. */
export class MemoryManager {
  /** Anonymous THP policy by order (1..9); order 0 is always allowed. */
  readonly anonThp: ThpPolicy[] = Array<ThpPolicy>(PMD_ORDER + 1).fill("never");
  /** Large folios for shmem/memfd/shared anonymous memory: the order used when it fits. @default 0 */
  shmemOrder = 0;
  /**
   * stack_guard_gap (mm/mmap.c): bytes kept free below a VM_GROWSDOWN stack; the stack never grows to
   * within this distance of the accessible mapping below it, and mmap hints avoid it. Boot option
   * `stack_guard_gap=` (in pages). @default 256 pages (1 MiB) @range 1 page .. a few GiB
   */
  stackGuardGap = 256 * PAGE_SIZE;
  /** RLIMIT_STACK: the largest size a stack VMA grows to (acct_stack_growth). @default 8 MiB (_STK_LIM) */
  stackRlimit = 8 << 20;
  /** Pfn whose unlock a MIGRATION_WAIT fault waits for. */
  faultWaitPfn = -1;
  /** The mmap_lock a LOCK_WAIT fault waits for. */
  faultWaitLock: RwSemaphore | null = null;
  private readonly m: Machine;

  constructor(m: Machine) {
    this.m = m;
  }

  /** mmap(2): the address or -errno. */
  mmap(mm: MmStruct, a: MmapArgs): number {
    return doMmap(this.m, mm, a);
  }

  /** munmap(2): 0 or -errno. */
  munmap(mm: MmStruct, addr: number, len: number): number {
    // __vm_munmap(): mmap_write_lock_killable() around do_vmi_munmap().
    mm.mmapLock.downWrite();
    try {
      return doMunmap(this.m, mm, addr, len);
    } finally {
      mm.mmapLock.upWrite();
    }
  }

  /** mprotect(2): 0 or -errno. */
  mprotect(mm: MmStruct, addr: number, len: number, prot: number): number {
    // do_mprotect_pkey(): mmap_write_lock_killable().
    mm.mmapLock.downWrite();
    try {
      return mprotectFixup(this.m, mm, addr, len, prot);
    } finally {
      mm.mmapLock.upWrite();
    }
  }

  /** mlock(2)/mlock2(2)/munlock(2): 0 or -errno. */
  mlockRange(mm: MmStruct, addr: number, len: number, lock: boolean, onFault = false): number {
    return mlockRange(this.m, mm, addr, len, lock, onFault);
  }

  /** madvise(2) with the supported advice: 0 or -errno. */
  madvise(mm: MmStruct, addr: number, len: number, advice: MadviseAdvice): number {
    return doMadvise(this.m, mm, addr, len, advice);
  }

  /** Visit each distinct folio mapped (present) in [addr, end). */
  forEachMapped(mm: MmStruct, addr: number, end: number, fn: (folio: number, vma: Vma, addr: number) => void): void {
    forEachMapped(this.m, mm, addr, end, fn);
  }

  splitHugePmd(v: Vma, pmdI: number): void {
    splitHugePmd(this.m, v, pmdI);
  }

  populate(mm: MmStruct, addr: number, len: number, write: boolean): number {
    return populateVmaPageRange(this.m, mm, addr, len, write);
  }

  handleMmFault(mm: MmStruct, addr: number, write: boolean, populate = false): number {
    return handleMmFault(this.m, mm, addr, write, populate);
  }

  allowedAnonOrders(v: Vma): number {
    return thpVmaAllowableOrders(this.m, v);
  }

  prepareAnonVma(v: Vma): number {
    return anonVmaPrepare(this.m, v);
  }

  mapFolio(v: Vma, folio: number, start: number, order: number, writable: boolean, dirty: boolean): void {
    mapFolio(this.m, v, folio, start, order, writable, dirty);
  }

  filemapGetFolio(space: AddressSpace, pgoff: number, hugetlb: boolean): number {
    return filemapGetFolio(this.m, space, pgoff, hugetlb);
  }

  copyVmaPages(src: Vma, dst: Vma): void {
    copyPageRange(this.m, src, dst);
  }

  /** fork(2)'s address-space copy: the child mm. */
  fork(parent: MmStruct): MmStruct {
    // dup_mmap(): the parent's mmap_lock for write (the new child's is taken nested and never contended).
    parent.mmapLock.downWrite();
    try {
      return dupMm(this.m, parent);
    } finally {
      parent.mmapLock.upWrite();
    }
  }

  exitMmap(mm: MmStruct): void {
    exitMmap(this.m, mm);
  }

  pinUserPage(mm: MmStruct, addr: number, write: boolean): number {
    return pinUserPage(this.m, mm, addr, write);
  }

  getUserPage(mm: MmStruct, addr: number, write: boolean): number {
    return getUserPage(this.m, mm, addr, write);
  }

  unpinUserPage(folio: number): number {
    return unpinUserPage(this.m, folio);
  }

  translate(mm: MmStruct, addr: number): number {
    return translate(mm, addr);
  }

  userAccessFrame(task: Task, addr: number, write: boolean): number {
    return userAccessFrame(this.m, task, addr, write);
  }
}
