/** Duplicating an address space at fork: mirrors dup_mm() and dup_mmap() of kernel/fork.c. */
import type { Machine } from "./machine.js";
import { copyPageRange } from "./memory.js";
import { Vma, VM, type MmStruct } from "./mm-types.js";

/** Mirrors dup_mm()/dup_mmap(): a child address space sharing folios copy-on-write. */
export function dupMm(m: Machine, parent: MmStruct): MmStruct {
  const child = m.createMm();
  child.mmapBase = parent.mmapBase;
  child.startStack = parent.startStack;
  for (const v of parent.vmas) {
    const c = new Vma(child, v.start, v.end, v.pgoff, v.flags & ~VM.LOCKED, v.file);
    c.policy = v.policy; // vma_dup_policy()
    c.special = v.special;
    if (v.file) v.file.immap.push(c);
    if (v.anonVma !== null) {
      // anon_vma_fork(): the child is linked into every anon_vma of the parent and gets its own.
      for (const av of v.anonVmaChain) {
        av.vmas.push(c);
        c.anonVmaChain.push(av);
        av.refcount++;
      }
      const own = m.createAnonVma(v.anonVma.root ?? v.anonVma);
      own.vmas.push(c);
      own.refcount++;
      c.anonVma = own;
      c.anonVmaChain.push(own);
    }
    child.vmas.push(c);
    copyPageRange(m, v, c);
  }
  return child;
}
