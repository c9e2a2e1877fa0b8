/** madvise() advice on a range: mirrors mm/madvise.c (madvise_dontneed_single_vma, madvise_vma_behavior). */
import { EINVAL, ENOMEM } from "@mmemu/kernel";
import { alignUp } from "./align.js";
import type { Machine } from "./machine.js";
import { zapPageRange } from "./memory.js";
import { VM, type MmStruct } from "./mm-types.js";
import { PAGE_SIZE } from "./physmem.js";
import { tlbFlushMmRange } from "./tlb.js";
import { rangeCovered, splitVmasForRange } from "./vma.js";

export type MadviseAdvice = "hugepage" | "nohugepage" | "dontneed" | "mergeable" | "unmergeable";

/** MADV_HUGEPAGE / MADV_NOHUGEPAGE / MADV_DONTNEED / MADV_MERGEABLE on [addr, addr+len). */
export function doMadvise(m: Machine, mm: MmStruct, addr: number, len: number, advice: "hugepage" | "nohugepage" | "dontneed" | "mergeable" | "unmergeable"): number {
  if (addr % PAGE_SIZE !== 0) return -EINVAL;
  const end = addr + alignUp(len, PAGE_SIZE);
  if (!rangeCovered(mm, addr, end)) return -ENOMEM;
  if (advice === "dontneed") {
    for (const v of mm.vmas) {
      if (v.end <= addr || v.start >= end) continue;
      if ((v.flags & (VM.LOCKED | VM.PFNMAP | VM.HUGETLB)) !== 0) return -EINVAL;
      zapPageRange(m, v, Math.max(v.start, addr), Math.min(v.end, end));
    }
    tlbFlushMmRange(m, mm, addr, end);
    return 0;
  }
  const vmas = splitVmasForRange(m, mm, addr, len);
  if (typeof vmas === "number") return vmas;
  for (const v of vmas) {
    if (advice === "hugepage") v.flags = (v.flags | VM.HUGEPAGE) & ~VM.NOHUGEPAGE;
    else if (advice === "nohugepage") v.flags = (v.flags | VM.NOHUGEPAGE) & ~VM.HUGEPAGE;
    else if (advice === "mergeable") v.flags |= VM.MERGEABLE;
    else v.flags &= ~VM.MERGEABLE;
  }
  return 0;
}
