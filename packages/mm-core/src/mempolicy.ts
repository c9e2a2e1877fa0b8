/**
 * NUMA memory policies on the allocation side: struct mempolicy (include/linux/mempolicy.h,
 * include/uapi/linux/mempolicy.h) and the parts of mm/mempolicy.c that turn a policy into a node for a
 * new page: get_vma_policy(), policy_nodemask(), interleave_nodes(), interleave_nid(), alloc_pages_mpol()
 * (with alloc_pages_preferred_many()) and vma_alloc_folio(). The system calls that set and read
 * policies live in @mmemu/move-pages (mbind.ts). Policies are immutable once made, so VMAs split from
 * one share it; only the task's interleave rotor changes.
 */
import type { Machine, Task } from "./machine.js";
import type { Vma } from "./mm-types.js";
import { MAX_NUMNODES, PAGE_SHIFT } from "./physmem.js";
import { ZONE_MOVABLE } from "./zone.js";

export const MPOL_DEFAULT = 0;
export const MPOL_PREFERRED = 1;
export const MPOL_BIND = 2;
export const MPOL_INTERLEAVE = 3;
export const MPOL_LOCAL = 4;
/** 5.15 */
export const MPOL_PREFERRED_MANY = 5;
/** 6.9 */
export const MPOL_WEIGHTED_INTERLEAVE = 6;
export const MPOL_MODE_NAMES = ["default", "prefer", "bind", "interleave", "local", "prefer (many)", "weighted interleave"] as const;

/** Mode flags OR-ed into the mode argument. */
export const MPOL_F_STATIC_NODES = 1 << 15;
export const MPOL_F_RELATIVE_NODES = 1 << 14;
export const MPOL_F_NUMA_BALANCING = 1 << 13;
export const MPOL_MODE_FLAGS = MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES | MPOL_F_NUMA_BALANCING;

/** Mirrors struct mempolicy. */
export class Mempolicy {
  /** The effective nodes as a mask indexed by node id. */
  readonly mask: Uint8Array;

  constructor(
    readonly mode: number,
    /** The MPOL_F_STATIC_NODES / RELATIVE / NUMA_BALANCING flags. */
    readonly flags: number,
    /** pol->nodes, ascending (empty for LOCAL). */
    readonly nodes: readonly number[],
    /** w.user_nodemask: what the caller passed, kept with STATIC or RELATIVE. */
    readonly userNodes: readonly number[] | null,
  ) {
    this.mask = new Uint8Array(MAX_NUMNODES);
    for (const n of nodes) this.mask[n] = 1;
  }
}

/** The policy a VMA fault follows: the VMA's (or its shared file range's), else the task's (get_vma_policy). */
export function getVmaPolicy(v: Vma, task: Task, pgoff: number): Mempolicy | null {
  return v.file?.sharedPolicyAt(pgoff) ?? v.policy ?? task.mempolicy;
}

/** Mirrors interleave_nodes(): the task's next node after il_prev in the policy's nodes. */
export function interleaveNodes(task: Task, pol: Mempolicy): number {
  const nodes = pol.nodes;
  let next = nodes[0]!;
  for (const n of nodes) {
    if (n > task.ilPrev) {
      next = n;
      break;
    }
  }
  task.ilPrev = next;
  return next;
}

/** Mirrors interleave_nid(): the (ilx mod nnodes)-th node of the policy. */
export function interleaveNid(pol: Mempolicy, ilx: number): number {
  return pol.nodes[ilx % pol.nodes.length]!;
}

/**
 * The interleave index of a fault (get_vma_policy / 6.1's interleave_nid(pol, vma, addr, shift)):
 * vm_pgoff >> order plus the folio's offset in the VMA, whether the policy is the VMA's or the task's.
 */
export function vmaInterleaveIndex(v: Vma, addr: number, order: number): number {
  return Math.floor(v.pgoff / 2 ** order) + Math.floor((addr - v.start) / 2 ** (PAGE_SHIFT + order));
}

/** NO_INTERLEAVE_INDEX: the task's rotor picks the node. */
export const NO_INTERLEAVE_INDEX = -1;

/**
 * Mirrors alloc_pages_mpol(): allocate 2^order pages for `pol` (null: the local node with fallback),
 * with the interleave index `ilx`. BIND restricts every node tried to its nodes; PREFERRED starts at its
 * node; PREFERRED_MANY first tries its nodes without direct reclaim, then any node; INTERLEAVE and
 * WEIGHTED_INTERLEAVE (every weight 1, the default) pick by index or rotor. All fall back along the
 * zonelist as __alloc_pages() does. Returns the head pfn or -1.
 */
export function allocPagesMpol(m: Machine, pol: Mempolicy | null, ilx: number, order: number, task: Task = m.current): number {
  const local = m.mem.cpuToNode(task.cpu);
  if (pol === null || pol.mode === MPOL_LOCAL || pol.mode === MPOL_DEFAULT) return m.folioAlloc(local, order, false);
  switch (pol.mode) {
    case MPOL_PREFERRED:
      return m.folioAlloc(pol.nodes[0]!, order, false);
    case MPOL_BIND:
      return m.folioAlloc(local, order, false, ZONE_MOVABLE, pol.mask);
    case MPOL_PREFERRED_MANY: {
      const pfn = m.folioAlloc(local, order, false, ZONE_MOVABLE, pol.mask);
      return pfn >= 0 ? pfn : m.folioAlloc(local, order, false);
    }
    default: {
      const nid = ilx === NO_INTERLEAVE_INDEX ? interleaveNodes(task, pol) : interleaveNid(pol, ilx);
      return m.folioAlloc(nid, order, false);
    }
  }
}

/** Mirrors vma_alloc_folio(): a new folio for a fault at `addr` of `v`, placed by the VMA's policy. */
export function vmaAllocFolio(m: Machine, v: Vma, addr: number, order: number): number {
  const task = m.current;
  const pol = getVmaPolicy(v, task, v.linearPageIndex(addr));
  if (pol === null) return m.folioAlloc(m.mem.cpuToNode(task.cpu), order, false);
  const interleave = pol.mode === MPOL_INTERLEAVE || pol.mode === MPOL_WEIGHTED_INTERLEAVE;
  return allocPagesMpol(m, pol, interleave ? vmaInterleaveIndex(v, addr, order) : NO_INTERLEAVE_INDEX, order, task);
}

/**
 * Mirrors dequeue_hugetlb_folio_vma() / huge_node(): a huge page from the pool of the node the policy
 * picks, else from the other nodes the policy allows (BIND: only its nodes), in zonelist order.
 */
export function hugetlbAllocMpol(m: Machine, pol: Mempolicy | null, ilx: number, task: Task = m.current): number {
  const local = m.mem.cpuToNode(task.cpu);
  let nid = local;
  if (pol !== null) {
    if (pol.mode === MPOL_PREFERRED) nid = pol.nodes[0]!;
    else if (pol.mode === MPOL_INTERLEAVE || pol.mode === MPOL_WEIGHTED_INTERLEAVE) {
      nid = ilx === NO_INTERLEAVE_INDEX ? interleaveNodes(task, pol) : interleaveNid(pol, ilx);
    }
  }
  const mask = pol !== null && (pol.mode === MPOL_BIND || pol.mode === MPOL_PREFERRED_MANY) ? pol.mask : null;
  let folio = mask === null || mask[nid] ? m.hugetlbAlloc(nid) : -1;
  for (const n of m.mem.nodes) {
    if (folio >= 0) break;
    if (n.id !== nid && (mask === null || mask[n.id])) folio = m.hugetlbAlloc(n.id);
  }
  // PREFERRED_MANY falls back to any node.
  if (folio < 0 && pol !== null && pol.mode === MPOL_PREFERRED_MANY) return hugetlbAllocMpol(m, null, ilx, task);
  return folio;
}

/** A node list in the kernel's %*pbl format: ascending, runs as ranges ("0-1,3"). */
export function nodelistToStr(nodes: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < nodes.length; ) {
    let j = i;
    while (j + 1 < nodes.length && nodes[j + 1] === nodes[j]! + 1) j++;
    parts.push(j === i ? String(nodes[i]) : `${nodes[i]}-${nodes[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

/** Mirrors mpol_to_str(): "default", "local", "prefer:1", "bind=static:0-1", "interleave:0-1", ... */
export function mpolToStr(pol: Mempolicy | null): string {
  if (pol === null) return "default";
  let s: string = MPOL_MODE_NAMES[pol.mode]!;
  if (pol.mode === MPOL_LOCAL) return s;
  if (pol.flags & MPOL_F_STATIC_NODES) s += "=static";
  else if (pol.flags & MPOL_F_RELATIVE_NODES) s += "=relative";
  return `${s}:${nodelistToStr(pol.nodes)}`;
}
