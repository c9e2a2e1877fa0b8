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
      // Write-protect present PTEs (change_pte_range); the flush below drops writable translations. A
      // writable migration entry (a migration in flight) becomes a readable one, exclusive for anonymous
      // memory, so that remove_migration_pte() does not restore a writable PTE.
      for (let i = 0; i < v.pteBits.length; i++) v.pteBits[i] = writeProtect(m, v.pteBits[i]!, v.ptePfn[i]!);
      for (let i = 0; i < v.pmdBits.length; i++) v.pmdBits[i] = writeProtect(m, v.pmdBits[i]!, v.pmdPfn[i]!);
    }
  }
  tlbFlushMmRange(m, mm, addr, end);
  return 0;
}

/** change_pte_range()/change_huge_pmd() without write permission, for one entry. */
function writeProtect(m: Machine, bits: number, pfn: number): number {
  if (bits & PTE.PRESENT) return bits & ~PTE.WRITE;
  if (bits & PTE.MIGRATION && bits & PTE.MIG_WRITE) {
    // make_readable_exclusive_migration_entry() for anonymous folios, make_readable_migration_entry() else.
    return (bits & ~PTE.MIG_WRITE) | (m.folios.isAnon(m.folios.folioOf(pfn)) ? PTE.MIG_READ_EXCL : 0);
  }
  return bits;
}
