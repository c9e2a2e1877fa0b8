/**
 * A process's stack: mirrors setup_arg_pages() of fs/exec.c (the initial VM_GROWSDOWN VMA below
 * STACK_TOP) and the fault-time growth of mm/mmap.c: expand_stack() / expand_downwards() with the
 * stack_guard_gap check and acct_stack_growth()'s RLIMIT_STACK, reached from the page-fault path
 * (lock_mm_and_find_vma() on 6.5+, do_user_addr_fault() on 6.1) when no VMA contains the address and the
 * next one grows down. Lookups that are not faults (vma_lookup() in move_pages, the mempolicy walks) never
 * grow it: below vm_start is a hole.
 */
import { EEXIST, EINVAL, ENOMEM } from "@mmemu/kernel";
import { alignDown, alignUp } from "./align.js";
import type { Machine } from "./machine.js";
import { Vma, VM, type MmStruct } from "./mm-types.js";
import { PAGE_SIZE } from "./physmem.js";
import { growVmaDown, insertVma } from "./vma.js";

/** x86-64 STACK_TOP (TASK_SIZE, 47-bit user space) without address-space randomisation. */
export const STACK_TOP = 0x7fff_ffff_f000;

/**
 * Mirrors setup_arg_pages(): a private anonymous VM_GROWSDOWN VMA [STACK_TOP - len, STACK_TOP), with
 * mm->start_stack just below its top. Returns the VMA's start or -errno (-EEXIST: something is mapped
 * there, -EINVAL: a bad size).
 */
export function setupStack(mm: MmStruct, len: number): number {
  const size = alignUp(len, PAGE_SIZE);
  if (!(size > 0) || !Number.isSafeInteger(size) || size >= STACK_TOP) return -EINVAL;
  const start = STACK_TOP - size;
  for (const v of mm.vmas) if (v.start < STACK_TOP && start < v.end) return -EEXIST;
  insertVma(mm, new Vma(mm, start, STACK_TOP, start / PAGE_SIZE, VM.READ | VM.WRITE | VM.GROWSDOWN, null));
  mm.startStack = STACK_TOP - 8;
  return start;
}

/** vma_is_accessible(): any of read, write or execute. */
function vmaIsAccessible(v: Vma): boolean {
  return (v.flags & (VM.READ | VM.WRITE | VM.EXEC)) !== 0;
}

/**
 * Mirrors expand_stack() -> expand_downwards() for a fault at `addr` that no VMA contains: when the next
 * VMA above is VM_GROWSDOWN, grow it down to the page of `addr` unless that comes within stack_guard_gap
 * of an accessible, non-growing VMA below it or makes it larger than RLIMIT_STACK (-ENOMEM: the fault is
 * a SIGSEGV). Returns the grown VMA, or -errno (-EFAULT-like cases return -ENOMEM as the kernel does).
 */
export function expandStack(m: Machine, mm: MmStruct, addr: number): Vma | number {
  const vmas = mm.vmas;
  let i = 0;
  while (i < vmas.length && vmas[i]!.end <= addr) i++;
  const v = vmas[i];
  if (v === undefined || v.start <= addr || (v.flags & VM.GROWSDOWN) === 0) return -ENOMEM;
  const address = alignDown(addr, PAGE_SIZE);
  const prev = i > 0 ? vmas[i - 1]! : null;
  if (prev !== null && (prev.flags & VM.GROWSDOWN) === 0 && vmaIsAccessible(prev) && address - prev.end < m.memory.stackGuardGap) return -ENOMEM;
  if (prev !== null && address < prev.end) return -ENOMEM;
  if (v.end - address > m.memory.stackRlimit) return -ENOMEM;
  return growVmaDown(v, address);
}

/** vm_start_gap(): where a VMA's reserved range begins (its start, less the guard gap for a stack). */
export function vmStartGap(m: Machine, v: Vma): number {
  return (v.flags & VM.GROWSDOWN) !== 0 ? Math.max(0, v.start - m.memory.stackGuardGap) : v.start;
}
