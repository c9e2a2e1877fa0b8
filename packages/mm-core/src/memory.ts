/**
 * Address-space operations: mmap/munmap/mprotect/mlock/madvise, page faults, population, fork and user
 * memory access through the TLB. Mirrors mm/mmap.c, mm/vma.c, mm/memory.c (handle_mm_fault,
 * do_anonymous_page, do_wp_page, copy_page_range), mm/huge_memory.c (PMD THP faults, split of a PMD
 * mapping), mm/filemap.c (page cache), mm/mlock.c, mm/madvise.c and mm/gup.c (pins).
 */
import { Cost, EINVAL, ENOMEM, EFAULT, EAGAIN } from "@mmemu/kernel";
import { PG } from "./folio.js";
import type { Machine, Task } from "./machine.js";
import {
  AddressSpace, MmStruct, PTE, Vma, VM,
  MAP_ANONYMOUS, MAP_FIXED, MAP_HUGETLB, MAP_LOCKED, MAP_POPULATE, MAP_PRIVATE, MAP_SHARED,
  PROT_EXEC, PROT_READ, PROT_WRITE,
} from "./mm-types.js";
import { PAGE_SIZE, PMD_ORDER } from "./physmem.js";
import { tlbFlushMmRange } from "./rmap.js";
import { doAnonymousReadFault, dropHugeZeroPmd, isHugeZeroPmd, splitHugeZeroPmd } from "./huge-zero.js";
import { hugetlbAnonFault, hugetlbWpFault, isPrivateHugetlb } from "./hugetlb-fault.js";
import { devicePrivateFault } from "./memremap.js";

const PMD_SIZE = 1 << 21;

/** Fault results: 0, or one of these (negative, distinct from errno values). */
export const VM_FAULT = {
  OOM: -1001,
  SIGBUS: -1002,
  SIGSEGV: -1003,
  HWPOISON: -1004,
  /** The access met a migration entry; wait for the folio named by `faultWaitPfn` to unlock, then retry. */
  MIGRATION_WAIT: -1005,
} as const;

/** THP/mTHP policy per folio order for anonymous memory (the sysfs hugepages-<size>kB/enabled files). */
export type ThpPolicy = "always" | "madvise" | "never";

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

/** Address-space and fault logic of one machine. */
export class MemoryManager {
  /** Anonymous THP policy by order (1..9); order 0 is always allowed. */
  readonly anonThp: ThpPolicy[] = Array<ThpPolicy>(PMD_ORDER + 1).fill("never");
  /** Large folios for shmem/memfd/shared anonymous memory: the order used when it fits. @default 0 */
  shmemOrder = 0;
  /** Pfn whose unlock a MIGRATION_WAIT fault waits for. */
  faultWaitPfn = -1;
  private readonly m: Machine;

  constructor(m: Machine) {
    this.m = m;
  }

  // ---- mmap family ------------------------------------------------------------------------------

  /** Mirrors do_mmap(): returns the address or -errno. */
  mmap(mm: MmStruct, a: MmapArgs): number {
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
    let addr: number;
    if ((a.flags & MAP_FIXED) !== 0) {
      if (a.addr === undefined || a.addr % unit !== 0) return -EINVAL;
      addr = a.addr;
      this.munmap(mm, addr, size);
    } else {
      addr = this.getUnmappedArea(mm, a.addr, size, hugetlb || size >= PMD_SIZE ? PMD_SIZE : PAGE_SIZE);
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
      file = this.m.createAddressSpace(hugetlb ? "anon_hugepage" : "dev/zero", "shmem", size / PAGE_SIZE);
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
      const r = this.populate(mm, addr, size, (a.prot & PROT_WRITE) !== 0 && !(priv && file !== null && !hugetlb && !anon));
      // MAP_POPULATE failures are not reported by mmap(), as in Linux.
      void r;
      if ((a.flags & MAP_LOCKED) !== 0) this.mlockRange(mm, addr, size, true);
    }
    return addr;
  }

  /** Top-down search for a gap of `size` bytes aligned to `align` (get_unmapped_area). */
  private getUnmappedArea(mm: MmStruct, hint: number | undefined, size: number, align: number): number {
    if (hint !== undefined && hint % PAGE_SIZE === 0 && hint > 0 && this.rangeFree(mm, hint, size)) return hint;
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

  private rangeFree(mm: MmStruct, addr: number, size: number): boolean {
    for (const v of mm.vmas) if (v.start < addr + size && addr < v.end) return false;
    return true;
  }

  /** Mirrors do_vmi_munmap(): unmap [addr, addr+len), splitting VMAs at the edges. */
  munmap(mm: MmStruct, addr: number, len: number): number {
    if (addr % PAGE_SIZE !== 0 || !(len > 0)) return -EINVAL;
    const end = addr + alignUp(len, PAGE_SIZE);
    this.splitAt(mm, addr);
    this.splitAt(mm, end);
    const doomed = mm.vmas.filter((v) => v.start >= addr && v.end <= end);
    for (const v of doomed) {
      this.zapRange(v, v.start, v.end);
      removeVma(v);
    }
    tlbFlushMmRange(this.m, mm, addr, end);
    return 0;
  }

  /**
   * The common front of mprotect/mlock/madvise: check alignment and that [addr, addr+len) is fully
   * mapped (-EINVAL, -ENOMEM as Linux), split VMAs at the edges, and return the VMAs inside, or -errno.
   */
  private vmasForRange(mm: MmStruct, addr: number, len: number): Vma[] | number {
    if (addr % PAGE_SIZE !== 0) return -EINVAL;
    const end = addr + alignUp(len, PAGE_SIZE);
    if (!this.covered(mm, addr, end)) return -ENOMEM;
    this.splitAt(mm, addr);
    this.splitAt(mm, end);
    return mm.vmas.filter((v) => v.start >= addr && v.end <= end);
  }

  /** Mirrors mprotect_fixup(): change protection on [addr, addr+len). */
  mprotect(mm: MmStruct, addr: number, len: number, prot: number): number {
    const vmas = this.vmasForRange(mm, addr, len);
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
    tlbFlushMmRange(this.m, mm, addr, end);
    return 0;
  }

  /**
   * Mirrors mlock()/mlock2()/munlock(): mark VMAs VM_LOCKED, fault pages in (not with MLOCK_ONFAULT) and
   * set PG_mlocked on what is mapped.
   */
  mlockRange(mm: MmStruct, addr: number, len: number, lock: boolean, onFault = false): number {
    const vmas = this.vmasForRange(mm, addr, len);
    if (typeof vmas === "number") return vmas;
    const end = addr + alignUp(len, PAGE_SIZE);
    for (const v of vmas) {
      if (lock) v.flags |= VM.LOCKED;
      else v.flags &= ~VM.LOCKED;
    }
    if (lock && !onFault) {
      // populate_vma_page_range(): FOLL_WRITE for private writable mappings, so they get real pages.
      const r = this.populate(mm, addr, end - addr, true);
      if (r < 0) return r;
    }
    const f = this.m.folios;
    this.forEachMapped(mm, addr, end, (folio) => {
      if (lock) {
        if (!f.test(folio, PG.mlocked)) {
          f.set(folio, PG.mlocked | PG.unevictable);
          mm.lockedVm += f.nrPages(folio);
        }
      } else if (f.test(folio, PG.mlocked)) {
        f.clear(folio, PG.mlocked | PG.unevictable);
        mm.lockedVm -= f.nrPages(folio);
      }
    });
    return 0;
  }

  /** MADV_HUGEPAGE / MADV_NOHUGEPAGE / MADV_DONTNEED / MADV_MERGEABLE on [addr, addr+len). */
  madvise(mm: MmStruct, addr: number, len: number, advice: "hugepage" | "nohugepage" | "dontneed" | "mergeable" | "unmergeable"): number {
    if (addr % PAGE_SIZE !== 0) return -EINVAL;
    const end = addr + alignUp(len, PAGE_SIZE);
    if (!this.covered(mm, addr, end)) return -ENOMEM;
    if (advice === "dontneed") {
      for (const v of mm.vmas) {
        if (v.end <= addr || v.start >= end) continue;
        if ((v.flags & (VM.LOCKED | VM.PFNMAP | VM.HUGETLB)) !== 0) return -EINVAL;
        this.zapRange(v, Math.max(v.start, addr), Math.min(v.end, end));
      }
      tlbFlushMmRange(this.m, mm, addr, end);
      return 0;
    }
    const vmas = this.vmasForRange(mm, addr, len);
    if (typeof vmas === "number") return vmas;
    for (const v of vmas) {
      if (advice === "hugepage") v.flags = (v.flags | VM.HUGEPAGE) & ~VM.NOHUGEPAGE;
      else if (advice === "nohugepage") v.flags = (v.flags | VM.NOHUGEPAGE) & ~VM.HUGEPAGE;
      else if (advice === "mergeable") v.flags |= VM.MERGEABLE;
      else v.flags &= ~VM.MERGEABLE;
    }
    return 0;
  }

  private covered(mm: MmStruct, addr: number, end: number): boolean {
    let a = addr;
    while (a < end) {
      const v = mm.findVma(a);
      if (v === null) return false;
      a = v.end;
    }
    return true;
  }

  /** Visit each distinct folio mapped (present) in [addr, end). */
  forEachMapped(mm: MmStruct, addr: number, end: number, fn: (folio: number, vma: Vma, addr: number) => void): void {
    let last = -1;
    for (const v of mm.vmas) {
      if (v.end <= addr || v.start >= end) continue;
      const s = Math.max(v.start, addr);
      const e = Math.min(v.end, end);
      for (let a = s; a < e; a += PAGE_SIZE) {
        const pmdI = (a - v.pmdBase) >> 21;
        let pfn = -1;
        if (v.pmdBits[pmdI]! & PTE.PRESENT) {
          if (!isHugeZeroPmd(v.pmdBits[pmdI]!)) pfn = v.pmdPfn[pmdI]!;
        } else {
          const i = (a - v.start) / PAGE_SIZE;
          if (v.pteBits[i]! & PTE.PRESENT && !(v.pteBits[i]! & PTE.SPECIAL)) pfn = v.ptePfn[i]!;
        }
        if (pfn < 0) continue;
        const folio = this.m.folios.folioOf(pfn);
        if (folio !== last) fn(folio, v, a);
        last = folio;
      }
    }
  }

  /** Split the VMA containing addr so that a VMA boundary falls at addr (__split_vma). */
  private splitAt(mm: MmStruct, addr: number): void {
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
      this.splitHugePmd(v, pmdI);
      lo.ptePfn.set(v.ptePfn.subarray(0, cut));
      lo.pteBits.set(v.pteBits.subarray(0, cut));
      hi.ptePfn.set(v.ptePfn.subarray(cut));
      hi.pteBits.set(v.pteBits.subarray(cut));
    }
    copyPmds(v, lo);
    copyPmds(v, hi);
    for (const part of [lo, hi]) {
      part.anonVma = v.anonVma;
      part.anonVmaChain = v.anonVmaChain.slice();
      for (const av of part.anonVmaChain) av.vmas.push(part);
    }
    if (v.file) v.file.immap.push(lo, hi);
    replaceVma(v, [lo, hi]);
  }

  /**
   * Mirrors __split_huge_pmd(): turn a PMD mapping (or PMD migration entry) into 512 PTEs of the same
   * folio. The folio's mapcount goes from 1 (PMD) to 512 (PTEs), with references to match.
   */
  splitHugePmd(v: Vma, pmdI: number): void {
    const bits = v.pmdBits[pmdI]!;
    if (bits === 0) return;
    if (isHugeZeroPmd(bits)) return splitHugeZeroPmd(this.m, v, pmdI);
    const pfn = v.pmdPfn[pmdI]!;
    const base = v.pmdBase + pmdI * PMD_SIZE;
    const first = (base - v.start) / PAGE_SIZE;
    const f = this.m.folios;
    for (let i = 0; i < 512; i++) {
      const slot = first + i;
      if (slot < 0 || slot >= v.pteBits.length) continue;
      v.ptePfn[slot] = pfn + i;
      v.pteBits[slot] = bits;
    }
    v.pmdBits[pmdI] = 0;
    v.pmdPfn[pmdI] = -1;
    if (bits & PTE.PRESENT) {
      f.mapcount[pfn]! += 511;
      f.refcount[pfn]! += 511;
    }
  }

  /** Zap PTEs/PMDs in [s, e) of a VMA (zap_pte_range): drop mapcounts and references. */
  private zapRange(v: Vma, s: number, e: number): void {
    const f = this.m.folios;
    for (let pmdI = (s - v.pmdBase) >> 21; pmdI <= (e - 1 - v.pmdBase) >> 21; pmdI++) {
      const bits = v.pmdBits[pmdI]!;
      if (bits === 0) continue;
      const base = v.pmdBase + pmdI * PMD_SIZE;
      if (base < s || base + PMD_SIZE > e) this.splitHugePmd(v, pmdI);
      else {
        if (bits & PTE.PRESENT && !isHugeZeroPmd(bits)) this.unmapFolioRef(v.pmdPfn[pmdI]!, 1);
        v.pmdBits[pmdI] = 0;
        v.pmdPfn[pmdI] = -1;
      }
    }
    for (let a = s; a < e; a += PAGE_SIZE) {
      const i = (a - v.start) / PAGE_SIZE;
      const bits = v.pteBits[i]!;
      if (bits === 0) continue;
      if (bits & PTE.PRESENT && !(bits & PTE.SPECIAL)) {
        const folio = f.folioOf(v.ptePfn[i]!);
        this.unmapFolioRef(folio, 1);
        if (f.isLarge(folio) && f.mapcount[folio]! > 0) f.set(folio, PG.deferredSplit);
      } else if (bits & PTE.SWAP) {
        this.m.swap.free(v.ptePfn[i]!);
      }
      v.pteBits[i] = 0;
      v.ptePfn[i] = -1;
    }
  }

  /** Remove `n` mappings of a folio: mapcount and references drop (folio_remove_rmap + folio_put). */
  private unmapFolioRef(folio: number, n: number): void {
    const f = this.m.folios;
    f.mapcount[folio]! -= n;
    if (f.mapcount[folio] === 0 && f.test(folio, PG.mlocked)) f.clear(folio, PG.mlocked | PG.unevictable);
    this.m.folioPut(folio, n);
  }

  // ---- faults -----------------------------------------------------------------------------------

  /** Fault in every page of [addr, addr+len) (__mm_populate / populate_vma_page_range). */
  populate(mm: MmStruct, addr: number, len: number, write: boolean): number {
    const end = addr + len;
    let a = alignDown(addr, PAGE_SIZE);
    while (a < end) {
      const v = mm.findVma(a);
      if (v === null) return -ENOMEM;
      const r = this.handleMmFault(mm, a, write && (v.flags & VM.WRITE) !== 0, true);
      if (r < 0 && r !== VM_FAULT.MIGRATION_WAIT) return r === VM_FAULT.OOM ? -ENOMEM : -EFAULT;
      // Skip over whatever the fault mapped in one go (a large folio).
      const pmdI = (a - v.pmdBase) >> 21;
      if (v.pmdBits[pmdI]! & PTE.PRESENT) a = v.pmdBase + (pmdI + 1) * PMD_SIZE;
      else a += PAGE_SIZE;
    }
    return 0;
  }

  /**
   * Mirrors handle_mm_fault(): make the page at `addr` accessible for a read or write. Returns 0 or a
   * VM_FAULT code. `populate` faults skip pages that are already present with enough permission.
   */
  handleMmFault(mm: MmStruct, addr: number, write: boolean, populate = false): number {
    const v = mm.findVma(addr);
    if (v === null) return VM_FAULT.SIGSEGV;
    if ((v.flags & (VM.READ | VM.WRITE | VM.EXEC)) === 0) return VM_FAULT.SIGSEGV;
    if (write && (v.flags & VM.WRITE) === 0) return VM_FAULT.SIGSEGV;
    if (!populate) this.m.charge(Cost.PAGE_FAULT, 1);
    const pmdI = (addr - v.pmdBase) >> 21;
    const pb = v.pmdBits[pmdI]!;
    if (pb !== 0) {
      if (pb & PTE.MIGRATION) {
        this.faultWaitPfn = v.pmdPfn[pmdI]!;
        return VM_FAULT.MIGRATION_WAIT;
      }
      if (!write || pb & PTE.WRITE) return 0;
      if (isHugeZeroPmd(pb)) {
        dropHugeZeroPmd(this.m, v, pmdI);
        return this.handleMmFault(mm, addr, write, populate);
      }
      if ((v.flags & VM.HUGETLB) !== 0) return hugetlbWpFault(this.m, v, pmdI);
      // Write to a read-only PMD: split to PTEs and handle the COW on the 4 KiB page.
      this.splitHugePmd(v, pmdI);
    }
    const i = (addr - v.start) / PAGE_SIZE | 0;
    const bits = v.pteBits[i]!;
    if (bits & PTE.MIGRATION) {
      this.faultWaitPfn = v.ptePfn[i]!;
      return VM_FAULT.MIGRATION_WAIT;
    }
    if (bits & PTE.HWPOISON) return VM_FAULT.HWPOISON;
    if (bits & PTE.DEVICE_PRIVATE) return devicePrivateFault(this.m, v, i);
    if (bits & PTE.SWAP) {
      const r = this.m.swap.swapIn(v, i);
      if (r < 0) return VM_FAULT.OOM;
      return write ? this.handleMmFault(mm, addr, write, populate) : 0;
    }
    if (bits & PTE.PRESENT) {
      if (!write || bits & PTE.WRITE) {
        if (write) v.pteBits[i]! |= PTE.DIRTY | PTE.YOUNG;
        return 0;
      }
      return this.doWpPage(v, i);
    }
    if (isPrivateHugetlb(v) && v.file !== null && v.file.name === "anon_hugepage") return hugetlbAnonFault(this.m, v, addr);
    if (v.file !== null) return this.doFileFault(v, addr, write);
    return this.doAnonymousPage(v, addr, write);
  }

  /** Mirrors do_anonymous_page() and do_huge_pmd_anonymous_page(). */
  private doAnonymousPage(v: Vma, addr: number, write: boolean): number {
    const m = this.m;
    if (this.prepareAnonVma(v) < 0) return VM_FAULT.OOM;
    // Read fault: the huge zero page or the zero page, whatever mTHP orders are enabled.
    if (!write) return doAnonymousReadFault(m, v, addr, (this.allowedAnonOrders(v) & (1 << PMD_ORDER)) !== 0);
    const nid = m.mem.cpuToNode(m.current.cpu);
    const orders = this.allowedAnonOrders(v);
    for (let order = PMD_ORDER; order >= 0; order--) {
      if (order > 0 && (orders & (1 << order)) === 0) continue;
      const size = PAGE_SIZE << order;
      const start = alignDown(addr, size);
      if (start < v.start || start + size > v.end) continue;
      if (order > 0 && !this.ptesNone(v, start, size)) continue;
      const folio = m.folioAlloc(nid, order, false);
      if (folio < 0) {
        if (order === 0) return VM_FAULT.OOM;
        continue;
      }
      m.mem.zeroPages(folio, 1 << order);
      this.newAnonFolio(v, folio, start);
      this.mapFolio(v, folio, start, order, (v.flags & VM.WRITE) !== 0, true);
      return 0;
    }
    return VM_FAULT.OOM;
  }

  /** Bitmask of anonymous folio orders the VMA may use (thp_vma_allowable_orders). */
  allowedAnonOrders(v: Vma): number {
    if ((v.flags & VM.NOHUGEPAGE) !== 0) return 0;
    let mask = 0;
    for (let o = 1; o <= PMD_ORDER; o++) {
      const p = this.anonThp[o]!;
      if (p === "always" || (p === "madvise" && (v.flags & VM.HUGEPAGE) !== 0)) mask |= 1 << o;
    }
    return mask;
  }

  private ptesNone(v: Vma, start: number, size: number): boolean {
    const first = (start - v.start) / PAGE_SIZE;
    for (let i = first; i < first + size / PAGE_SIZE; i++) if (v.pteBits[i] !== 0) return false;
    for (let p = (start - v.pmdBase) >> 21; p <= (start + size - 1 - v.pmdBase) >> 21; p++) if (v.pmdBits[p] !== 0) return false;
    return true;
  }

  /** anon_vma_prepare(): give the VMA an anon_vma on its first anonymous fault. */
  prepareAnonVma(v: Vma): number {
    if (v.anonVma !== null) return 0;
    const av = this.m.createAnonVma(null);
    v.anonVma = av;
    v.anonVmaChain.push(av);
    av.vmas.push(v);
    av.refcount++;
    return 0;
  }

  /** folio_add_new_anon_rmap() + folio_add_lru_vma(): a fresh anonymous folio at `start` of v. */
  private newAnonFolio(v: Vma, folio: number, start: number): void {
    const f = this.m.folios;
    f.flags[folio]! |= PG.anon | PG.swapbacked | PG.uptodate | PG.dirty;
    f.mapping[folio] = v.anonVma!.id;
    f.index[folio] = v.linearPageIndex(start);
    const nr = f.nrPages(folio);
    for (let p = folio; p < folio + nr; p++) f.flags[p]! |= PG.anonExclusive;
    // The allocation reference becomes the first mapping's.
    f.refcount[folio]!--;
    if ((v.flags & VM.LOCKED) !== 0) f.set(folio, PG.mlocked | PG.unevictable);
    this.m.lruAdd(folio);
  }

  /**
   * Map a whole folio at `start` of v: one PMD for a PMD-sized folio in an aligned slot, else one PTE
   * per page (set_pte_range / set_pmd_at). Takes one reference and one mapcount per entry.
   */
  mapFolio(v: Vma, folio: number, start: number, order: number, writable: boolean, dirty: boolean): void {
    const f = this.m.folios;
    const bits = PTE.PRESENT | PTE.YOUNG | (writable ? PTE.WRITE : 0) | (dirty ? PTE.DIRTY : 0);
    if (order === PMD_ORDER && start % PMD_SIZE === 0 && !f.test(folio, PG.hugetlb | PG.zero) || (f.test(folio, PG.hugetlb) && order === PMD_ORDER)) {
      const pmdI = (start - v.pmdBase) >> 21;
      v.pmdPfn[pmdI] = folio;
      v.pmdBits[pmdI] = bits;
      f.mapcount[folio]!++;
      f.refcount[folio]!++;
      return;
    }
    const first = (start - v.start) / PAGE_SIZE;
    const nr = 1 << order;
    for (let k = 0; k < nr; k++) {
      v.ptePfn[first + k] = folio + k;
      v.pteBits[first + k] = bits;
    }
    f.mapcount[folio]! += nr;
    f.refcount[folio]! += nr;
  }

  /** Mirrors do_wp_page(): write to a present read-only PTE in a writable VMA. */
  private doWpPage(v: Vma, i: number): number {
    const m = this.m;
    const f = m.folios;
    const pfn = v.ptePfn[i]!;
    const bits = v.pteBits[i]!;
    const shared = (v.flags & VM.SHARED) !== 0;
    if (shared) {
      v.pteBits[i] = bits | PTE.WRITE | PTE.DIRTY | PTE.YOUNG;
      if (!(bits & PTE.SPECIAL)) f.set(f.folioOf(pfn), PG.dirty);
      return 0;
    }
    const folio = bits & PTE.SPECIAL ? -1 : f.folioOf(pfn);
    // wp_can_reuse_anon_folio(): an exclusive anonymous page is reused in place.
    if (folio >= 0 && f.isAnon(folio) && (f.flags[pfn]! & PG.anonExclusive) !== 0) {
      v.pteBits[i] = bits | PTE.WRITE | PTE.DIRTY | PTE.YOUNG;
      return 0;
    }
    if (folio >= 0 && f.isAnon(folio) && !f.isLarge(folio) && f.refcount[folio] === 1 && f.mapcount[folio] === 1 && !f.test(folio, PG.swapcache | PG.ksm)) {
      f.flags[pfn]! |= PG.anonExclusive;
      v.pteBits[i] = bits | PTE.WRITE | PTE.DIRTY | PTE.YOUNG;
      return 0;
    }
    // Copy on write into a new order-0 anonymous folio (wp_page_copy).
    if (this.prepareAnonVma(v) < 0) return VM_FAULT.OOM;
    const nid = m.mem.cpuToNode(m.current.cpu);
    const nf = m.folioAlloc(nid, 0, false);
    if (nf < 0) return VM_FAULT.OOM;
    if (folio >= 0) m.mem.copyPages(nf, pfn, 1);
    else m.mem.zeroPages(nf, 1);
    const addr = v.start + i * PAGE_SIZE;
    this.newAnonFolio(v, nf, addr);
    if (folio >= 0) this.unmapFolioRef(folio, 1);
    v.ptePfn[i] = nf;
    v.pteBits[i] = PTE.PRESENT | PTE.WRITE | PTE.DIRTY | PTE.YOUNG;
    f.mapcount[nf]!++;
    f.refcount[nf]!++;
    tlbFlushMmRange(m, v.mm, addr, addr + PAGE_SIZE);
    return 0;
  }

  /** Mirrors do_read_fault/do_shared_fault/do_cow_fault over filemap_fault (and hugetlb_fault). */
  private doFileFault(v: Vma, addr: number, write: boolean): number {
    const m = this.m;
    const space = v.file!;
    const hugetlb = (v.flags & VM.HUGETLB) !== 0;
    const pgoff = v.linearPageIndex(addr);
    if (pgoff >= space.sizePages) return VM_FAULT.SIGBUS;
    const folio = this.filemapGetFolio(space, pgoff, hugetlb);
    if (folio < 0) return hugetlb ? VM_FAULT.SIGBUS : VM_FAULT.OOM;
    const f = m.folios;
    const shared = (v.flags & VM.SHARED) !== 0;
    if (!shared && write) {
      // do_cow_fault: private write to a file page copies it into an anonymous page.
      if (hugetlb) return VM_FAULT.SIGBUS;
      if (this.prepareAnonVma(v) < 0) return VM_FAULT.OOM;
      const nf = m.folioAlloc(m.mem.cpuToNode(m.current.cpu), 0, false);
      if (nf < 0) return VM_FAULT.OOM;
      m.mem.copyPages(nf, folio + (pgoff - f.index[folio]!), 1);
      this.newAnonFolio(v, nf, addr);
      this.mapFolio(v, nf, addr, 0, true, true);
      return 0;
    }
    const order = f.order[folio]!;
    const nr = 1 << order;
    const headAddr = addr - (pgoff - f.index[folio]!) * PAGE_SIZE;
    const writable = shared && (v.flags & VM.WRITE) !== 0 && write;
    if (order > 0 && headAddr >= v.start && headAddr + nr * PAGE_SIZE <= v.end && this.ptesNone(v, headAddr, nr * PAGE_SIZE)) {
      this.mapFolio(v, folio, headAddr, order, writable, write);
    } else {
      const i = (addr - v.start) / PAGE_SIZE;
      v.ptePfn[i] = folio + (pgoff - f.index[folio]!);
      v.pteBits[i] = PTE.PRESENT | PTE.YOUNG | (writable ? PTE.WRITE | PTE.DIRTY : 0);
      f.mapcount[folio]!++;
      f.refcount[folio]!++;
    }
    if (write) f.set(folio, PG.dirty);
    if ((v.flags & VM.LOCKED) !== 0 && !f.test(folio, PG.mlocked)) f.set(folio, PG.mlocked | PG.unevictable);
    return 0;
  }

  /**
   * Mirrors filemap_get_folio(FGP_CREAT)/shmem_get_folio()/hugetlb's page cache: the cached folio for
   * pgoff, reading it in if absent. A disk file's page reads in a pattern derived from (file, offset),
   * so its contents are recognisable; shmem pages start zeroed.
   */
  filemapGetFolio(space: AddressSpace, pgoff: number, hugetlb: boolean): number {
    const cached = space.cache[pgoff]!;
    if (cached >= 0) return cached;
    const m = this.m;
    const f = m.folios;
    const nid = m.mem.cpuToNode(m.current.cpu);
    let order = hugetlb ? PMD_ORDER : space.kind === "shmem" ? this.shmemOrder : 0;
    let start = alignDown(pgoff, 1 << order);
    while (order > 0 && (start + (1 << order) > space.sizePages || !cacheRangeEmpty(space, start, 1 << order))) {
      if (hugetlb) return -1;
      order--;
      start = alignDown(pgoff, 1 << order);
    }
    let folio = -1;
    if (hugetlb) {
      folio = m.hugetlbAlloc(nid);
      if (folio < 0) for (const n of m.mem.nodes) if ((folio = m.hugetlbAlloc(n.id)) >= 0) break;
    } else {
      folio = m.folioAlloc(nid, order, false);
      while (folio < 0 && order > 0) {
        order--;
        start = alignDown(pgoff, 1 << order);
        folio = m.folioAlloc(nid, order, false);
      }
    }
    if (folio < 0) return -1;
    const nr = 1 << order;
    if (space.kind === "file") for (let k = 0; k < nr; k++) m.mem.fillPages(folio + k, 1, filePattern(space.id, start + k));
    else m.mem.zeroPages(folio, nr);
    f.flags[folio]! |= PG.uptodate | (space.kind === "shmem" ? PG.swapbacked : 0) | (hugetlb ? PG.hugetlbMigratable : 0);
    f.mapping[folio] = space.id;
    f.index[folio] = start;
    // The allocation reference becomes the page cache's; a large folio holds one per page.
    f.refcount[folio] = nr;
    for (let k = 0; k < nr; k++) space.cache[start + k] = folio;
    space.nrpages += nr;
    if (!hugetlb) m.lruAdd(folio);
    return folio;
  }

  /** Mirrors copy_page_range() at fork for one VMA pair. */
  copyVmaPages(src: Vma, dst: Vma): void {
    const f = this.m.folios;
    const cow = (src.flags & VM.SHARED) === 0;
    for (let p = 0; p < src.pmdBits.length; p++) {
      const bits = src.pmdBits[p]!;
      if (bits === 0) continue;
      if (bits & PTE.PRESENT && !isHugeZeroPmd(bits)) {
        const folio = src.pmdPfn[p]!;
        if (cow && f.isAnon(folio)) {
          src.pmdBits[p] = bits & ~PTE.WRITE;
          for (let k = folio; k < folio + 512; k++) f.flags[k]! &= ~PG.anonExclusive;
        }
        f.mapcount[folio]!++;
        f.refcount[folio]!++;
      } else if (bits & PTE.MIGRATION && bits & PTE.MIG_WRITE && cow) {
        src.pmdBits[p] = bits & ~PTE.MIG_WRITE; // a writable migration entry becomes readable
      }
      dst.pmdPfn[p] = src.pmdPfn[p]!;
      dst.pmdBits[p] = src.pmdBits[p]!;
    }
    for (let i = 0; i < src.pteBits.length; i++) {
      let bits = src.pteBits[i]!;
      if (bits === 0) continue;
      const pfn = src.ptePfn[i]!;
      if (bits & PTE.PRESENT && !(bits & PTE.SPECIAL)) {
        const folio = f.folioOf(pfn);
        if (cow && f.isAnon(folio)) {
          bits &= ~PTE.WRITE;
          f.flags[pfn]! &= ~PG.anonExclusive;
          src.pteBits[i] = bits;
        }
        f.mapcount[folio]!++;
        f.refcount[folio]!++;
      } else if (bits & PTE.MIGRATION && cow) {
        bits &= ~(PTE.MIG_WRITE | PTE.MIG_READ_EXCL);
        src.pteBits[i] = bits;
      } else if (bits & PTE.SWAP) {
        this.m.swap.dup(pfn);
      }
      dst.ptePfn[i] = pfn;
      dst.pteBits[i] = bits;
    }
    if (cow) tlbFlushMmRange(this.m, src.mm, src.start, src.end);
  }

  /** Mirrors dup_mm()/dup_mmap(): a child address space sharing folios copy-on-write. */
  fork(parent: MmStruct): MmStruct {
    const m = this.m;
    const child = m.createMm();
    child.mmapBase = parent.mmapBase;
    for (const v of parent.vmas) {
      const c = new Vma(child, v.start, v.end, v.pgoff, v.flags & ~VM.LOCKED, v.file);
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
      this.copyVmaPages(v, c);
    }
    return child;
  }

  /** Mirrors exit_mmap(): unmap everything. */
  exitMmap(mm: MmStruct): void {
    for (const v of mm.vmas.slice()) {
      this.zapRange(v, v.start, v.end);
      removeVma(v);
    }
    tlbFlushMmRange(this.m, mm, 0, Number.MAX_SAFE_INTEGER);
  }

  // ---- pins (mm/gup.c) --------------------------------------------------------------------------

  /**
   * pin_user_pages(FOLL_PIN | FOLL_WRITE?): fault in and pin the folio at addr. Each pin holds one
   * extra reference, so migration's expected-refcount check fails while it is held. Returns the head
   * pfn or -errno.
   */
  pinUserPage(mm: MmStruct, addr: number, write: boolean): number {
    const r = this.handleMmFault(mm, addr, write);
    if (r === VM_FAULT.MIGRATION_WAIT) return -EAGAIN;
    if (r < 0) return -EFAULT;
    const pfn = this.translate(mm, addr);
    if (pfn < 0 || pfn === this.m.zeroPfn) return -EFAULT;
    const folio = this.m.folios.folioOf(pfn);
    this.m.folios.refcount[folio]!++;
    this.m.folios.pincount[folio]!++;
    return folio;
  }

  /** unpin_user_page() */
  unpinUserPage(folio: number): number {
    const f = this.m.folios;
    if (f.pincount[folio]! <= 0) return -EINVAL;
    f.pincount[folio]!--;
    this.m.folioPut(folio);
    return 0;
  }

  // ---- user access ------------------------------------------------------------------------------

  /** The present translation of addr in the page tables (no TLB), or -1. */
  translate(mm: MmStruct, addr: number): number {
    const v = mm.findVma(addr);
    if (v === null) return -1;
    const pmdI = (addr - v.pmdBase) >> 21;
    if (v.pmdBits[pmdI]! & PTE.PRESENT) return v.pmdPfn[pmdI]! + (((addr - v.pmdBase) % PMD_SIZE) >> 12);
    const i = Math.floor((addr - v.start) / PAGE_SIZE);
    return v.pteBits[i]! & PTE.PRESENT ? v.ptePfn[i]! : -1;
  }

  /** Whether a present translation allows writing. */
  private translateWritable(mm: MmStruct, addr: number): boolean {
    const v = mm.findVma(addr)!;
    const pmdI = (addr - v.pmdBase) >> 21;
    if (v.pmdBits[pmdI]! & PTE.PRESENT) return (v.pmdBits[pmdI]! & PTE.WRITE) !== 0;
    return (v.pteBits[Math.floor((addr - v.start) / PAGE_SIZE)]! & PTE.WRITE) !== 0;
  }

  /**
   * One user access by `task` to the page at addr, through its CPU's TLB: a hit uses the cached frame
   * even if the PTE has since changed (that is what a missing flush looks like); a miss walks the page
   * tables, faulting as needed, and fills the TLB. Returns the physical frame, or a VM_FAULT code
   * (MIGRATION_WAIT: sleep until `faultWaitPfn` is unlocked, then retry).
   */
  userAccessFrame(task: Task, addr: number, write: boolean): number {
    const mm = task.mm!;
    const vpn = Math.floor(addr / PAGE_SIZE);
    const hit = this.m.tlbs.lookup(task.cpu, mm.id, vpn, write);
    if (hit >= 0) return hit;
    for (let tries = 0; tries < 3; tries++) {
      let pfn = this.translate(mm, addr);
      if (pfn >= 0 && (!write || this.translateWritable(mm, addr))) {
        this.m.tlbs.fill(task.cpu, mm.id, vpn, pfn, this.translateWritable(mm, addr));
        mm.cpumask[task.cpu] = 1;
        return pfn;
      }
      const r = this.handleMmFault(mm, addr, write);
      if (r < 0) return r;
      pfn = this.translate(mm, addr);
      if (pfn >= 0 && (!write || this.translateWritable(mm, addr))) {
        this.m.tlbs.fill(task.cpu, mm.id, vpn, pfn, this.translateWritable(mm, addr));
        mm.cpumask[task.cpu] = 1;
        return pfn;
      }
    }
    return VM_FAULT.SIGSEGV;
  }
}

/** A recognisable pattern for page `pgoff` of file `id`. */
export function filePattern(id: number, pgoff: number): number {
  return (Math.imul(id, 0x9e3779b1) ^ Math.imul(pgoff + 1, 0x85ebca6b)) >>> 0 || 1;
}

function cacheRangeEmpty(space: AddressSpace, start: number, nr: number): boolean {
  for (let k = start; k < start + nr; k++) if (space.cache[k]! >= 0) return false;
  return true;
}

function copyPmds(from: Vma, to: Vma): void {
  for (let p = 0; p < to.pmdBits.length; p++) {
    const base = to.pmdBase + p * PMD_SIZE;
    if (base < to.start || base + PMD_SIZE > to.end) continue;
    const q = (base - from.pmdBase) >> 21;
    to.pmdPfn[p] = from.pmdPfn[q]!;
    to.pmdBits[p] = from.pmdBits[q]!;
  }
}

function insertVma(mm: MmStruct, v: Vma): void {
  let i = 0;
  while (i < mm.vmas.length && mm.vmas[i]!.start < v.start) i++;
  mm.vmas.splice(i, 0, v);
}

/** Unlink a VMA from its mm, file and anon_vmas. */
function removeVma(v: Vma): void {
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

export function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

export function alignDown(x: number, a: number): number {
  return Math.floor(x / a) * a;
}
