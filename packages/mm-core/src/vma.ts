/**
 * VMA bookkeeping: insertion into and removal from an mm's sorted list, splitting at an address and the
 * range front shared by mprotect/mlock/madvise. Mirrors mm/vma.c (__split_vma, vma_complete) and the
 * list side of mm/mmap.c.
 */
import { EINVAL, ENOMEM } from "@mmemu/kernel";
import { alignUp } from "./align.js";
import { splitHugePmd } from "./huge-memory.js";
import type { Machine } from "./machine.js";
import { Vma, type MmStruct } from "./mm-types.js";
import { PAGE_SIZE, PMD_SIZE } from "./physmem.js";

/**
 * The common front of mprotect/mlock/madvise: check alignment and that [addr, addr+len) is fully
 * mapped (-EINVAL, -ENOMEM as Linux), split VMAs at the edges, and return the VMAs inside, or -errno.
 */
export function splitVmasForRange(m: Machine, mm: MmStruct, addr: number, len: number): Vma[] | number {
  if (addr % PAGE_SIZE !== 0) return -EINVAL;
  const end = addr + alignUp(len, PAGE_SIZE);
  if (!rangeCovered(mm, addr, end)) return -ENOMEM;
  splitVmaAt(m, mm, addr);
  splitVmaAt(m, mm, end);
  return mm.vmas.filter((v) => v.start >= addr && v.end <= end);
}

export function rangeCovered(mm: MmStruct, addr: number, end: number): boolean {
  let a = addr;
  while (a < end) {
    const v = mm.findVma(a);
    if (v === null) return false;
    a = v.end;
  }
  return true;
}

/** Split the VMA containing addr so that a VMA boundary falls at addr (__split_vma). */
export function splitVmaAt(m: Machine, mm: MmStruct, addr: number): void {
  const v = mm.findVma(addr);
  if (v === null || v.start === addr) return;
  const lo = new Vma(mm, v.start, addr, v.pgoff, v.flags, v.file);
  const hi = new Vma(mm, addr, v.end, v.pgoff + (addr - v.start) / PAGE_SIZE, v.flags, v.file);
  const cut = (addr - v.start) / PAGE_SIZE;
  lo.ptePfn.set(v.ptePfn.subarray(0, cut));
  lo.pteBits.set(v.pteBits.subarray(0, cut));
  hi.ptePfn.set(v.ptePfn.subarray(cut));
  hi.pteBits.set(v.pteBits.subarray(cut));
  // A PMD mapping straddling the cut is split to PTEs first (__split_huge_pmd).
  const pmdI = (addr - v.pmdBase) >> 21;
  if (addr % PMD_SIZE !== 0 && v.pmdBits[pmdI]! !== 0) {
    splitHugePmd(m, v, pmdI);
    lo.ptePfn.set(v.ptePfn.subarray(0, cut));
    lo.pteBits.set(v.pteBits.subarray(0, cut));
    hi.ptePfn.set(v.ptePfn.subarray(cut));
    hi.pteBits.set(v.pteBits.subarray(cut));
  }
  copyPmds(v, lo);
  copyPmds(v, hi);
  for (const part of [lo, hi]) {
    part.anonVma = v.anonVma;
    part.policy = v.policy;
    part.special = v.special;
    part.anonVmaChain = v.anonVmaChain.slice();
    for (const av of part.anonVmaChain) av.vmas.push(part);
  }
  if (v.file) v.file.immap.push(lo, hi);
  replaceVma(v, [lo, hi]);
}

/**
 * The VMA change of expand_downwards() (mm/mmap.c): `v` now starts at `start` (below its old start), its
 * page tables and links carried over; vm_pgoff moves down with vm_start. Returns the grown VMA.
 */
export function growVmaDown(v: Vma, start: number): Vma {
  const grow = (v.start - start) / PAGE_SIZE;
  const g = new Vma(v.mm, start, v.end, v.pgoff - grow, v.flags, v.file);
  g.ptePfn.set(v.ptePfn, grow);
  g.pteBits.set(v.pteBits, grow);
  copyPmds(v, g);
  g.anonVma = v.anonVma;
  g.policy = v.policy;
  g.special = v.special;
  g.anonVmaChain = v.anonVmaChain.slice();
  for (const av of g.anonVmaChain) av.vmas.push(g);
  if (v.file) v.file.immap.push(g);
  replaceVma(v, [g]);
  return g;
}

function copyPmds(from: Vma, to: Vma): void {
  for (let p = 0; p < to.pmdBits.length; p++) {
    const base = to.pmdBase + p * PMD_SIZE;
    if (base < to.start || base + PMD_SIZE > to.end) continue;
    const q = (base - from.pmdBase) >> 21;
    if (q < 0 || q >= from.pmdBits.length) continue;
    to.pmdPfn[p] = from.pmdPfn[q]!;
    to.pmdBits[p] = from.pmdBits[q]!;
  }
}

/** Link a VMA into its mm's list, kept sorted by start address. */
export function insertVma(mm: MmStruct, v: Vma): void {
  let i = 0;
  while (i < mm.vmas.length && mm.vmas[i]!.start < v.start) i++;
  mm.vmas.splice(i, 0, v);
}

/** Unlink a VMA from its mm, file and anon_vmas. */
export function removeVma(v: Vma): void {
  const mm = v.mm;
  mm.vmas.splice(mm.vmas.indexOf(v), 1);
  if (v.file) v.file.immap.splice(v.file.immap.indexOf(v), 1);
  for (const av of v.anonVmaChain) {
    av.vmas.splice(av.vmas.indexOf(v), 1);
    av.refcount--;
  }
}

function replaceVma(v: Vma, parts: Vma[]): void {
  const mm = v.mm;
  removeVma(v);
  for (const p of parts) insertVma(mm, p);
  for (const p of parts) for (const av of p.anonVmaChain) av.refcount++;
}
