/**
 * mbind(2), set_mempolicy(2) and get_mempolicy(2): mirrors kernel_mbind()/do_mbind(),
 * kernel_set_mempolicy()/do_set_mempolicy(), kernel_get_mempolicy()/do_get_mempolicy(),
 * sanitize_mpol_flags(), mpol_new(), mpol_set_nodemask(), queue_pages_range() for mbind,
 * mbind_range() and copy_nodes_to_user() in mm/mempolicy.c. Pages mbind moves go through the same
 * migrate_pages() as move_pages (reason MR_MEMPOLICY_MBIND), their targets placed by the new policy.
 * Where 6.1 and 6.7+ differ (the scan's failure accounting) the feature flag names it; the rules and
 * their sources are in spec mm-policy-and-limits.md §2.
 */
import { Cost, EFAULT, EINVAL, EIO, EPERM } from "@mmemu/kernel";
import {
  FolioList, hugetlbAllocMpol, isolateFolioToList, MAX_NUMNODES, Mempolicy, migratePages, MIGRATE_SYNC, MPOL_BIND,
  MPOL_DEFAULT, MPOL_F_NUMA_BALANCING, MPOL_F_RELATIVE_NODES, MPOL_F_STATIC_NODES, MPOL_INTERLEAVE, MPOL_LOCAL,
  MPOL_MODE_FLAGS, MPOL_PREFERRED, MPOL_PREFERRED_MANY, MPOL_WEIGHTED_INTERLEAVE, MR, PAGE_SIZE, PG, PMD_SIZE, PTE,
  allocPagesMpol, putbackMovablePages, splitVmaAt, VM, vmaInterleaveIndex, type Machine, type MmStruct, type Vma,
} from "@mmemu/mm-core";
import { CAP, capable } from "./cred.js";
import { newNodeMask, nodeMaskList, nodesWeight, type NodeMask } from "./cpuset.js";
import { folioSharedForMove, vmaMigratable } from "./folio-walk.js";
import { getNodes } from "./mempolicy.js";
import type { TaskStruct, TaskTable } from "./sched.js";
import { UserAccess } from "./uaccess.js";
import { BITS_PER_LONG, MPOL_F_ADDR, MPOL_F_MEMS_ALLOWED, MPOL_F_NODE, MPOL_MF_MOVE, MPOL_MF_MOVE_ALL, MPOL_MF_STRICT } from "./uapi.js";
import type { KernelFeatures } from "./version.js";

const MPOL_MF_VALID = MPOL_MF_STRICT | MPOL_MF_MOVE | MPOL_MF_MOVE_ALL;

/** Mirrors sanitize_mpol_flags(): split mode and flags; -EINVAL for a bad mode or combination. */
function sanitizeMpolFlags(features: KernelFeatures, raw: number): { mode: number; flags: number } | number {
  const flags = raw & MPOL_MODE_FLAGS;
  const mode = raw & ~MPOL_MODE_FLAGS;
  if (mode < 0 || mode >= features.mpolMax) return -EINVAL;
  if ((flags & MPOL_F_STATIC_NODES) && (flags & MPOL_F_RELATIVE_NODES)) return -EINVAL;
  if (flags & MPOL_F_NUMA_BALANCING) {
    const ok = mode === MPOL_BIND || (mode === MPOL_PREFERRED_MANY && features.numaBalancingPreferredMany);
    if (!ok) return -EINVAL;
  }
  return { mode, flags };
}

/**
 * Mirrors mpol_new() and mpol_set_nodemask(): null for MPOL_DEFAULT; PREFERRED with no nodes becomes
 * LOCAL; the nodes are intersected with the caller's cpuset and N_MEMORY (RELATIVE folds them onto that
 * set); an empty result is -EINVAL; PREFERRED keeps its first node.
 */
function mpolCreate(tasks: TaskTable, current: TaskStruct, mode: number, flags: number, nodes: NodeMask): Mempolicy | null | number {
  const empty = nodesWeight(nodes) === 0;
  if (mode === MPOL_DEFAULT) return empty ? null : -EINVAL;
  const staticOrRelative = (flags & (MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES)) !== 0;
  if (mode === MPOL_PREFERRED && empty) {
    if (staticOrRelative) return -EINVAL;
    return new Mempolicy(MPOL_LOCAL, flags, [], null);
  }
  if (mode === MPOL_LOCAL) return !empty || staticOrRelative ? -EINVAL : new Mempolicy(MPOL_LOCAL, flags, [], null);
  if (empty) return -EINVAL;
  const allowed = tasks.cpusetMemsAllowed(current);
  const eff = newNodeMask();
  if (flags & MPOL_F_RELATIVE_NODES) {
    // mpol_relative_nodemask(): fold onto weight(allowed) bits, then map the n-th bit to the n-th allowed node.
    const rel = nodeMaskList(allowed);
    for (const n of nodeMaskList(nodes)) eff[rel[n % rel.length]!] = 1;
  } else for (let n = 0; n < MAX_NUMNODES; n++) eff[n] = nodes[n]! & allowed[n]!;
  let list = nodeMaskList(eff);
  if (list.length === 0) return -EINVAL;
  if (mode === MPOL_PREFERRED) list = [list[0]!];
  return new Mempolicy(mode, flags, list, staticOrRelative ? nodeMaskList(nodes) : null);
}

/** The common front of mbind and set_mempolicy: sanitize_mpol_flags(), then get_nodes(). */
function readModeAndNodes(tasks: TaskTable, current: TaskStruct, mode: number, nmask: number, maxnode: number): { mode: number; flags: number; nodes: NodeMask } | number {
  const sf = sanitizeMpolFlags(tasks.features, mode);
  if (typeof sf === "number") return sf;
  const nodes = newNodeMask();
  const err = getNodes(new UserAccess(tasks.m, current.ctx), nodes, nmask, maxnode);
  return err !== 0 ? err : { ...sf, nodes };
}

/** kernel_set_mempolicy(): the calling thread's policy for its future allocations. */
export function kernelSetMempolicy(tasks: TaskTable, current: TaskStruct, mode: number, nmask: number, maxnode: number): number {
  const m = tasks.m;
  m.charge(Cost.SYSCALL, 1);
  return tasks.withCurrent(current, () => {
    const a = readModeAndNodes(tasks, current, mode, nmask, maxnode);
    if (typeof a === "number") return a;
    const pol = mpolCreate(tasks, current, a.mode, a.flags, a.nodes);
    if (typeof pol === "number") return pol;
    current.ctx.mempolicy = pol;
    // An interleave rotor starts over: the next interleaved allocation uses the first node.
    if (pol !== null && (pol.mode === MPOL_INTERLEAVE || pol.mode === MPOL_WEIGHTED_INTERLEAVE)) current.ctx.ilPrev = MAX_NUMNODES - 1;
    return 0;
  });
}

/** nr_node_ids: the highest possible node id + 1. */
function nrNodeIds(m: Machine): number {
  let max = 0;
  for (const n of m.mem.nodes) max = Math.max(max, n.id);
  return max + 1;
}

/**
 * kernel_get_mempolicy(): the task's policy (or with MPOL_F_ADDR the VMA's, never the task's), the node
 * of the page at `addr` (MPOL_F_NODE | MPOL_F_ADDR, faulting it in for reading), the next interleave node
 * (MPOL_F_NODE), or the cpuset's nodes (MPOL_F_MEMS_ALLOWED). `policyPtr` receives an int, `nmask`
 * ALIGN(maxnode - 1, 64) / 8 bytes of bitmap.
 */
export function kernelGetMempolicy(
  tasks: TaskTable, current: TaskStruct, policyPtr: number, nmask: number, maxnode: number, addr: number, flags: number,
): number {
  const m = tasks.m;
  m.charge(Cost.SYSCALL, 1);
  return tasks.withCurrent(current, () => {
    if (nmask !== 0 && maxnode < nrNodeIds(m)) return -EINVAL;
    if (flags & ~(MPOL_F_NODE | MPOL_F_ADDR | MPOL_F_MEMS_ALLOWED)) return -EINVAL;
    let pval = 0;
    const nodes = newNodeMask();
    if (flags & MPOL_F_MEMS_ALLOWED) {
      if (flags & (MPOL_F_NODE | MPOL_F_ADDR)) return -EINVAL;
      nodes.set(tasks.cpusetMemsAllowed(current));
    } else {
      let pol: Mempolicy | null = current.ctx.mempolicy;
      const mm = current.mm;
      if (flags & MPOL_F_ADDR) {
        const v = mm?.findVma(addr) ?? null;
        if (v === null) return -EFAULT;
        pol = v.file?.sharedPolicyAt(v.linearPageIndex(addr)) ?? v.policy;
      } else if (addr !== 0) return -EINVAL;
      if (flags & MPOL_F_NODE) {
        if (flags & MPOL_F_ADDR) {
          // get_user_pages_fast(addr, 1, 0): a read fault maps untouched anonymous memory to the zero page.
          const r = m.memory.handleMmFault(mm!, addr - (addr % PAGE_SIZE), false);
          if (r < 0) return -EFAULT;
          const pfn = m.memory.translate(mm!, addr);
          if (pfn < 0) return -EFAULT;
          pval = m.mem.nodeOfPfn[pfn]!;
        } else if (pol !== null && pol === current.ctx.mempolicy && (pol.mode === MPOL_INTERLEAVE || pol.mode === MPOL_WEIGHTED_INTERLEAVE)) {
          // next_node_in(il_prev, nodes), without advancing the rotor.
          pval = pol.nodes.find((n) => n > current.ctx.ilPrev) ?? pol.nodes[0]!;
        } else return -EINVAL;
      } else pval = pol === null ? MPOL_DEFAULT : pol.mode | (pol.flags & MPOL_MODE_FLAGS);
      if (pol !== null) for (const n of pol.userNodes ?? pol.nodes) nodes[n] = 1;
    }
    const ua = new UserAccess(m, current.ctx);
    if (policyPtr !== 0) {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setInt32(0, pval, true);
      if (ua.copyToUser(policyPtr, b, 0, 4) !== 0) return -EFAULT;
    }
    if (nmask !== 0) return copyNodesToUser(ua, nmask, maxnode, nodes);
    return 0;
  });
}

/** Mirrors copy_nodes_to_user(): ALIGN(maxnode - 1, 64) / 8 bytes, the bits past nr_node_ids zero. */
function copyNodesToUser(ua: UserAccess, nmask: number, maxnode: number, nodes: NodeMask): number {
  const bytes = Math.ceil((maxnode - 1) / BITS_PER_LONG) * 8;
  if (bytes > PAGE_SIZE) return -EINVAL;
  const out = new Uint8Array(bytes);
  for (const n of nodeMaskList(nodes)) if (n < bytes * 8) out[n >> 3]! |= 1 << (n & 7);
  return ua.copyToUser(nmask, out, 0, bytes) === 0 ? 0 : -EFAULT;
}

/** kernel_mbind(): set the policy of [start, start + len) and, with MPOL_MF_MOVE*, move misplaced pages. */
export function kernelMbind(
  tasks: TaskTable, current: TaskStruct, start: number, len: number, mode: number, nmask: number, maxnode: number, flags: number,
): number {
  const m = tasks.m;
  m.charge(Cost.SYSCALL, 1);
  return tasks.withCurrent(current, () => {
    const a = readModeAndNodes(tasks, current, mode, nmask, maxnode);
    return typeof a === "number" ? a : doMbind(tasks, current, start, len, a.mode, a.flags, a.nodes, flags);
  });
}

/** Mirrors do_mbind(). */
function doMbind(
  tasks: TaskTable, current: TaskStruct, start: number, len: number, mode: number, modeFlags: number, nodes: NodeMask, flags: number,
): number {
  const m = tasks.m;
  if (flags & ~MPOL_MF_VALID) return -EINVAL;
  if ((flags & MPOL_MF_MOVE_ALL) && !capable(current.cred, CAP.SYS_NICE)) return -EPERM;
  if (start % PAGE_SIZE !== 0) return -EINVAL;
  if (mode === MPOL_DEFAULT) flags &= ~MPOL_MF_STRICT;
  const end = start + Math.ceil(len / PAGE_SIZE) * PAGE_SIZE;
  if (end < start || !Number.isSafeInteger(end)) return -EINVAL;
  if (end === start) return 0;
  const pol = mpolCreate(tasks, current, mode, modeFlags, nodes);
  if (typeof pol === "number") return pol;
  const mm = current.mm;
  if (mm === null) return -EFAULT;
  if (flags & (MPOL_MF_MOVE | MPOL_MF_MOVE_ALL)) m.charge(Cost.LRU_CACHE_DISABLE, 1);
  // mmap_lock for write over the scan and the policy change; before 6.7 over the migration too.
  const lock = mm.mmapLock;
  lock.downWrite();
  let held = true;
  try {
    const list = new FolioList(16);
    const scan = queuePagesForMbind(tasks, mm, start, end, nodes, mode === MPOL_DEFAULT, flags, list);
    if (scan < 0) {
      putbackMovablePages(m, list);
      return scan;
    }
    mbindRange(m, mm, start, end, pol);
    if (!tasks.features.mmapLockedMigration) {
      held = false;
      lock.upWrite();
    }
    let nrFailed = scan;
    if (!list.empty) {
      const rc = migratePages(m, list, (src) => mbindTarget(m, mm, start, end, pol, src), null, MIGRATE_SYNC, MR.MEMPOLICY_MBIND);
      if (rc !== 0) putbackMovablePages(m, list);
      // 6.1: a positive scan result ("1") or, with STRICT, any migration failure is EIO; 6.7+: any failure with STRICT.
      if (rc !== 0) nrFailed = nrFailed === 0 ? 1 : nrFailed;
    }
    return nrFailed !== 0 && (flags & MPOL_MF_STRICT) ? -EIO : 0;
  } finally {
    if (held) lock.upWrite();
  }
}

/**
 * Mirrors queue_pages_range() with MPOL_MF_INVERT for mbind: every VMA of [start, end) must be there
 * (a hole is -EFAULT, except for MPOL_DEFAULT; no VMA at all always is). A present page whose node is
 * not in `nodes` is misplaced: with STRICT and no MOVE the scan stops with -EIO; with MOVE* it is
 * isolated onto `list`, unless mapped shared without MOVE_ALL (skipped silently). Returns the failures
 * to report (6.7+: each page that could not be queued; 6.1: 1 once an unmovable page ended the walk),
 * or -errno.
 */
function queuePagesForMbind(
  tasks: TaskTable, mm: MmStruct, start: number, end: number, nodes: NodeMask, allowHoles: boolean, flags: number, list: FolioList,
): number {
  const m = tasks.m;
  const f = m.folios;
  const features = tasks.features;
  const move = (flags & (MPOL_MF_MOVE | MPOL_MF_MOVE_ALL)) !== 0;
  const strict = (flags & MPOL_MF_STRICT) !== 0;
  const moveAll = (flags & MPOL_MF_MOVE_ALL) !== 0;
  let prevEnd = start;
  let any = false;
  let nrFailed = 0;
  let lastLarge = -1;
  for (const v of mm.vmas) {
    if (v.end <= start || v.start >= end) continue;
    if (v.start > prevEnd && !allowHoles) return -EFAULT;
    any = true;
    prevEnd = v.end;
    // queue_pages_test_walk(): an unmigratable VMA is skipped without STRICT; nothing to scan without STRICT or MOVE.
    if (!vmaMigratable(v) && !strict) continue;
    if (!strict && !move) continue;
    const s = Math.max(v.start, start);
    const e = Math.min(v.end, end);
    for (let a = s; a < e; ) {
      const pmdI = (a - v.pmdBase) >> 21;
      const pb = v.pmdBits[pmdI]!;
      const tableEnd = Math.min(e, v.pmdBase + (pmdI + 1) * PMD_SIZE);
      let folio = -1;
      let migrationEntry = false;
      if (pb !== 0) {
        if (pb & PTE.MIGRATION) migrationEntry = true;
        else if (pb & PTE.PRESENT && !f.test(v.pmdPfn[pmdI]!, PG.zero)) folio = v.pmdPfn[pmdI]!;
      } else {
        const bits = v.pteBits[(a - v.start) / PAGE_SIZE]!;
        if (bits & PTE.MIGRATION) migrationEntry = true;
        else if (bits & PTE.PRESENT && !(bits & PTE.SPECIAL) && (v.flags & VM.PFNMAP) === 0) {
          folio = f.folioOf(v.ptePfn[(a - v.start) / PAGE_SIZE]!);
          // queue_folios_pte_range() also skips PageReserved pages, "perhaps in a VDSO".
          if (f.test(folio, PG.zero | PG.zoneDevice | PG.reserved)) folio = -1;
        }
      }
      const next = pb !== 0 ? tableEnd : a + PAGE_SIZE;
      if (migrationEntry) {
        // 6.1 passes PTE migration entries over; a PMD one, or any on 6.7+, cannot be queued.
        if (features.mbindCountsFailures) nrFailed++;
        else if (pb !== 0 && strict) return -EIO;
        a = next;
        continue;
      }
      if (folio < 0 || nodes[m.mem.nodeOfPfn[folio]!] || folio === lastLarge) {
        a = next;
        continue;
      }
      if (f.order[folio]! > 0) lastLarge = folio;
      if (!move) return -EIO; // STRICT without MOVE: the first misplaced page ends the scan
      let failed = !vmaMigratable(v);
      if (!failed && (moveAll || !folioSharedForMove(m, features, folio, folio))) failed = !isolateFolioToList(m, folio, list);
      if (failed) {
        if (features.mbindCountsFailures) nrFailed++;
        else if (strict) {
          // 6.1: the rest of this page table is still queued, then the walk stops with "1".
          nrFailed = 1;
          queueRestOfTable(tasks, v, next, tableEnd, nodes, moveAll, list);
          return nrFailed;
        }
      }
      a = next;
    }
  }
  if (!any) return -EFAULT;
  if (prevEnd < end && !allowHoles) return -EFAULT;
  return nrFailed;
}

/** 6.1's queue_folios_pte_range() after an unmovable page: the other misplaced pages of the same table. */
function queueRestOfTable(tasks: TaskTable, v: Vma, from: number, to: number, nodes: NodeMask, moveAll: boolean, list: FolioList): void {
  const m = tasks.m;
  const f = m.folios;
  for (let a = from; a < to; a += PAGE_SIZE) {
    const i = (a - v.start) / PAGE_SIZE;
    if ((v.pteBits[i]! & PTE.PRESENT) === 0 || v.pteBits[i]! & PTE.SPECIAL) continue;
    const folio = f.folioOf(v.ptePfn[i]!);
    if (f.test(folio, PG.zero) || nodes[m.mem.nodeOfPfn[folio]!] || list.includes(folio)) continue;
    if (moveAll || !folioSharedForMove(m, tasks.features, folio, folio)) isolateFolioToList(m, folio, list);
  }
}

/**
 * Mirrors mbind_range(): split the VMAs at start and end and give every piece the new policy (null:
 * back to the task's); shmem and hugetlbfs VMAs store it in the file's shared policy (vm_ops->set_policy).
 */
function mbindRange(m: Machine, mm: MmStruct, start: number, end: number, pol: Mempolicy | null): void {
  splitVmaAt(m, mm, start);
  splitVmaAt(m, mm, end);
  for (const v of mm.vmas) {
    if (v.end <= start || v.start >= end) continue;
    v.policy = pol;
    if (v.file !== null && v.file.kind === "shmem") v.file.setSharedPolicy(v.pgoff, v.pgoff + v.pages, pol);
  }
}

/**
 * Mirrors new_page() (6.1) / alloc_migration_target_by_mpol() (6.7+): a target for `src` placed by the
 * new policy of the VMA that maps it in [start, end), interleaving by its page offset. Small folios use
 * GFP_HIGHUSER_MOVABLE | __GFP_RETRY_MAYFAIL: no __GFP_THISNODE, so PREFERRED may land elsewhere.
 */
function mbindTarget(m: Machine, mm: MmStruct, start: number, end: number, pol: Mempolicy | null, src: number): number {
  const f = m.folios;
  const order = f.order[src]!;
  let ilx = 0;
  for (const v of mm.vmas) {
    if (v.end <= start || v.start >= end) continue;
    const addr = v.start + (f.index[src]! - v.pgoff) * PAGE_SIZE;
    if (addr >= v.start && addr < v.end) {
      ilx = vmaInterleaveIndex(v, addr, order);
      break;
    }
  }
  m.charge(Cost.FOLIO_ALLOC, 1);
  if (f.test(src, PG.hugetlb)) return hugetlbAllocMpol(m, pol, ilx);
  return allocPagesMpol(m, pol, ilx, order);
}
