/**
 * User-space loads and stores of emulated tasks: the page-table translation of an address and an access
 * through the CPU's TLB that faults on a miss, as the MMU and the x86 fault entry (exc_page_fault ->
 * handle_mm_fault) do.
 */
import type { Machine, Task } from "./machine.js";
import { handleMmFault } from "./memory.js";
import { PTE, VM_FAULT, type MmStruct } from "./mm-types.js";
import { PAGE_SIZE, PMD_SIZE } from "./physmem.js";

/** The present translation of addr in the page tables (no TLB), or -1. */
export function translate(mm: MmStruct, addr: number): number {
  const v = mm.findVma(addr);
  if (v === null) return -1;
  const pmdI = (addr - v.pmdBase) >> 21;
  if (v.pmdBits[pmdI]! & PTE.PRESENT) return v.pmdPfn[pmdI]! + (((addr - v.pmdBase) % PMD_SIZE) >> 12);
  const i = Math.floor((addr - v.start) / PAGE_SIZE);
  return v.pteBits[i]! & PTE.PRESENT ? v.ptePfn[i]! : -1;
}

/** Whether a present translation allows writing. */
function translateWritable(mm: MmStruct, addr: number): boolean {
  const v = mm.findVma(addr)!;
  const pmdI = (addr - v.pmdBase) >> 21;
  if (v.pmdBits[pmdI]! & PTE.PRESENT) return (v.pmdBits[pmdI]! & PTE.WRITE) !== 0;
  return (v.pteBits[Math.floor((addr - v.start) / PAGE_SIZE)]! & PTE.WRITE) !== 0;
}

/**
 * One user access by `task` to the page at addr, through its CPU's TLB: a hit uses the cached frame
 * even if the PTE has since changed (that is what a missing flush looks like); a miss walks the page
 * tables, faulting as needed, and fills the TLB. Returns the physical frame, or a VM_FAULT code
 * (MIGRATION_WAIT: sleep until `faultWaitPfn` is unlocked, then retry; LOCK_WAIT: sleep until
 * `faultWaitLock` can be taken for read, then retry).
 */
export function userAccessFrame(m: Machine, task: Task, addr: number, write: boolean): number {
  const mm = task.mm!;
  const vpn = Math.floor(addr / PAGE_SIZE);
  const hit = m.tlbs.lookup(task.cpu, mm.id, vpn, write);
  if (hit >= 0) return hit;
  for (let tries = 0; tries < 3; tries++) {
    let pfn = translate(mm, addr);
    if (pfn >= 0 && (!write || translateWritable(mm, addr))) {
      m.tlbs.fill(task.cpu, mm.id, vpn, pfn, translateWritable(mm, addr));
      mm.cpumaskSetCpu(task.cpu);
      return pfn;
    }
    // do_user_addr_fault(): the fault runs under mmap_lock for read (6.12 tries the VMA's own lock
    // first, which a writer changing that VMA holds as well); a writer holding it makes it sleep.
    const lock = mm.mmapLock;
    if (!lock.tryDownRead()) {
      m.memory.faultWaitLock = lock;
      return VM_FAULT.LOCK_WAIT;
    }
    let r: number;
    try {
      r = handleMmFault(m, mm, addr, write);
    } finally {
      lock.upRead();
    }
    if (r < 0) return r;
    pfn = translate(mm, addr);
    if (pfn >= 0 && (!write || translateWritable(mm, addr))) {
      m.tlbs.fill(task.cpu, mm.id, vpn, pfn, translateWritable(mm, addr));
      mm.cpumaskSetCpu(task.cpu);
      return pfn;
    }
  }
  return VM_FAULT.SIGSEGV;
}
