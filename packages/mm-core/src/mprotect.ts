/** Changing the protection of a range: mirrors mprotect_fixup() and change_pte_range() of mm/mprotect.c. */
import { alignUp } from "./align.js";
import type { Machine } from "./machine.js";
import { PTE, VM, PROT_EXEC, PROT_READ, PROT_WRITE, type MmStruct } from "./mm-types.js";
import { PAGE_SIZE } from "./physmem.js";
import { tlbFlushMmRange } from "./tlb.js";
import { splitVmasForRange } from "./vma.js";

/** Mirrors mprotect_fixup(): change protection on [addr, addr+len). */
export function mprotectFixup(m: Machine, mm: MmStruct, addr: number, len: number, prot: number): number {
  const vmas = splitVmasForRange(m, mm, addr, len);
  if (typeof vmas === "number") return vmas;
  const end = addr + alignUp(len, PAGE_SIZE);
  for (const v of vmas) {
    v.flags &= ~(VM.READ | VM.WRITE | VM.EXEC);
    if (prot & PROT_READ) v.flags |= VM.READ;
    if (prot & PROT_WRITE) v.flags |= VM.WRITE;
    if (prot & PROT_EXEC) v.flags |= VM.EXEC;
    if ((prot & PROT_WRITE) === 0) {
      // Write-protect present PTEs (change_pte_range); the flush below drops writable translations.
      for (let i = 0; i < v.pteBits.length; i++) if (v.pteBits[i]! & PTE.PRESENT) v.pteBits[i]! &= ~PTE.WRITE;
      for (let i = 0; i < v.pmdBits.length; i++) if (v.pmdBits[i]! & PTE.PRESENT) v.pmdBits[i]! &= ~PTE.WRITE;
    }
  }
  tlbFlushMmRange(m, mm, addr, end);
  return 0;
}
