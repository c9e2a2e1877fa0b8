/**
 * migrate_pages(2): mirrors kernel_migrate_pages(), get_nodes()/get_bitmap(), do_migrate_pages(),
 * migrate_to_node(), queue_pages_range() with queue_pages_test_walk(), queue_folios_pte_range(),
 * queue_folios_pmd(), queue_folios_hugetlb() and migrate_folio_add() in mm/mempolicy.c, on the same
 * task, cpuset and user-access machinery as move_pages.
 */
import { traceSyscall } from "./syscall-trace.js";
import { Cost, EFAULT, EINVAL, EPERM, ESRCH } from "@mmemu/kernel";
import {
  allocMigrationTarget, FolioList, isolateFolioToList, MAX_NUMNODES, migratePages, MIGRATE_SYNC, MR, PAGE_SIZE, PMD_SIZE,
  PG, PTE, putbackMovablePages, VM, type Machine, type MmStruct,
} from "@mmemu/mm-core";
import { CAP, capable } from "./cred.js";
import { newNodeMask, nodeMaskList, nodesWeight, type NodeMask } from "./cpuset.js";
import { folioSharedForMove, vmaMigratable } from "./folio-walk.js";
import { allocFreshHugetlbFolio } from "./move-pages.js";
import { PTRACE_MODE_READ_REALCREDS, ptraceMayAccess } from "./ptrace.js";
import type { TaskStruct, TaskTable } from "./sched.js";
import { UserAccess } from "./uaccess.js";
import { BITS_PER_LONG, MPOL_MF_MOVE_ALL, MPOL_MF_MOVE, NUMA_NO_NODE } from "./uapi.js";

const INT_MAX = 0x7fffffff;
/** 2^64 - 1: what `maxnode - 1` wraps to for maxnode 0 (unsigned long arithmetic). */
const ULONG_MAX = 18446744073709551615;

/**
 * Mirrors get_bitmap(): copy BITS_TO_LONGS(maxnode) longs from user `nmask` and clear the bits at and
 * above `maxnode` in the last one, into `mask`. -EFAULT if unreadable.
 */
function getBitmap(ua: UserAccess, mask: NodeMask, nmask: number, maxnode: number): number {
  const nlongs = Math.ceil(maxnode / BITS_PER_LONG);
  const buf = new Uint8Array(nlongs * 8);
  if (ua.copyFromUser(buf, 0, nmask, buf.length) !== 0) return -EFAULT;
  for (let bit = 0; bit < nlongs * BITS_PER_LONG; bit++) {
    if (bit >= maxnode && maxnode % BITS_PER_LONG !== 0) break;
    if ((buf[bit >> 3]! & (1 << (bit & 7))) === 0) continue;
    if (bit < MAX_NUMNODES) mask[bit] = 1;
  }
  return 0;
}

/**
 * Mirrors get_nodes(): `maxnode - 1` bits of user bitmap `nmask` (unsigned long arithmetic, so maxnode 0
 * wraps). NULL or zero bits give an empty set; more than a page of bits is -EINVAL; a set bit at or
 * above MAX_NUMNODES (checked one long at a time from the top) is -EINVAL.
 */
export function getNodes(ua: UserAccess, nodes: NodeMask, nmask: number, maxnodeRaw: number): number {
  nodes.fill(0);
  let maxnode = maxnodeRaw === 0 ? ULONG_MAX : maxnodeRaw - 1;
  if (maxnode === 0 || nmask === 0) return 0;
  if (maxnode > PAGE_SIZE * 8) return -EINVAL;
  while (maxnode > MAX_NUMNODES) {
    const bits = Math.min(maxnode, BITS_PER_LONG);
    const word = Math.floor((maxnode - 1) / BITS_PER_LONG);
    let any = false;
    let low = 0;
    if (maxnode - bits >= MAX_NUMNODES) maxnode -= bits;
    else {
      // The bits below MAX_NUMNODES in this long are valid nodes; only those above count.
      low = MAX_NUMNODES % BITS_PER_LONG;
      maxnode = MAX_NUMNODES;
    }
    const probe = new Uint8Array(8);
    if (ua.copyFromUser(probe, 0, nmask + word * 8, 8) !== 0) return -EFAULT;
    for (let bit = low; bit < BITS_PER_LONG; bit++) {
      if (bits % BITS_PER_LONG !== 0 && bit >= bits) break;
      if (probe[bit >> 3]! & (1 << (bit & 7))) any = true;
    }
    if (any) return -EINVAL;
  }
  return getBitmap(ua, nodes, nmask, maxnode);
}

/**
 * Mirrors kernel_migrate_pages() (SYSCALL_DEFINE4(migrate_pages)): move every page of the target that
 * sits on a node of `oldNodes` to the corresponding node of `newNodes`. Returns the number of pages
 * that could not be moved, or -errno.
 */
export function kernelMigratePages(
  tasks: TaskTable, current: TaskStruct, pid: number, maxnode: number, oldNodes: number, newNodes: number,
): number {
  const m = tasks.m;
  m.charge(Cost.SYSCALL, 1);
  return tasks.withCurrent(current, () => traceSyscall(m, "migrate_pages", () => ({ pid, maxnode, old_nodes: oldNodes, new_nodes: newNodes }), () => {
    const ua = new UserAccess(m, current.ctx);
    const from = newNodeMask();
    const to = newNodeMask();
    let err = getNodes(ua, from, oldNodes, maxnode);
    if (err !== 0) return err;
    err = getNodes(ua, to, newNodes, maxnode);
    if (err !== 0) return err;
    const task = pid !== 0 ? tasks.findTaskByVpid(pid) : current;
    if (task === null) return -ESRCH;
    if (!ptraceMayAccess(tasks, current, task, PTRACE_MODE_READ_REALCREDS)) return -EPERM;
    const taskNodes = tasks.cpusetMemsAllowed(task);
    let subset = true;
    for (let n = 0; n < MAX_NUMNODES; n++) if (to[n] && !taskNodes[n]) subset = false;
    if (!subset && !capable(current.cred, CAP.SYS_NICE)) return -EPERM;
    const callerNodes = tasks.cpusetMemsAllowed(current);
    for (let n = 0; n < MAX_NUMNODES; n++) to[n] = to[n]! & callerNodes[n]!;
    if (nodesWeight(to) === 0) return -EINVAL;
    err = tasks.taskMovememory(current, task);
    if (err !== 0) return err;
    const mm = tasks.getTaskMm(task);
    if (mm === null) return -EINVAL;
    const flags = capable(current.cred, CAP.SYS_NICE) ? MPOL_MF_MOVE_ALL : MPOL_MF_MOVE;
    // Before 6.7 do_migrate_pages() holds mmap_lock for read through every migration.
    if (!tasks.features.mmapLockedMigration) return doMigratePages(tasks, current, mm, from, to, flags);
    mm.mmapLock.downRead();
    try {
      return doMigratePages(tasks, current, mm, from, to, flags);
    } finally {
      mm.mmapLock.upRead();
    }
  }));
}

/** Mirrors node_remap() / bitmap_bitremap(): the n-th node of `from` maps to the (n mod w)-th of `to`. */
export function nodeRemap(oldbit: number, from: NodeMask, to: NodeMask): number {
  const w = nodesWeight(to);
  if (!from[oldbit] || w === 0) return oldbit;
  let n = 0;
  for (let b = 0; b < oldbit; b++) n += from[b]!;
  const target = n % w;
  let seen = 0;
  for (let b = 0; b < to.length; b++) {
    if (!to[b]) continue;
    if (seen === target) return b;
    seen++;
  }
  return oldbit;
}

/**
 * Mirrors do_migrate_pages(): pick <source, dest> pairs so a destination is, when possible, not still a
 * source, migrate each pair with migrate_to_node(), sum the failures.
 */
export function doMigratePages(tasks: TaskTable, current: TaskStruct, mm: MmStruct, from: NodeMask, to: NodeMask, flags: number): number {
  const m = tasks.m;
  m.charge(Cost.LRU_CACHE_DISABLE, 1);
  const tmp = from.slice();
  const sameWeight = nodesWeight(from) === nodesWeight(to);
  let nrFailed = 0;
  let err = 0;
  while (nodesWeight(tmp) > 0) {
    let source = NUMA_NO_NODE;
    let dest = 0;
    for (const s of nodeMaskList(tmp)) {
      // With unequal weights a source that is also a destination is left alone.
      if (!sameWeight && to[s]) continue;
      const d = nodeRemap(s, from, to);
      if (s === d) continue;
      source = s;
      dest = d;
      if (!tmp[dest]) break;
    }
    if (source === NUMA_NO_NODE) break;
    tmp[source] = 0;
    err = migrateToNode(tasks, current, mm, source, dest, flags);
    if (err > 0) nrFailed += err;
    if (err < 0) break;
  }
  if (err < 0) return err;
  return Math.min(nrFailed, INT_MAX);
}

/**
 * Mirrors migrate_to_node(): isolate every folio of the mm that sits on `source` (queue_pages_range over
 * the whole address space with MPOL_MF_DISCONTIG_OK), migrate them to `dest`, and return the failures
 * (folios that could not be isolated plus those migrate_pages() could not move), or -ENOMEM.
 */
function migrateToNode(tasks: TaskTable, current: TaskStruct, mm: MmStruct, source: number, dest: number, flags: number): number {
  const m = tasks.m;
  if (mm.vmas.length === 0) return 0;
  const list = new FolioList(64);
  // 6.7+: mmap_lock for read only while queueing (the caller holds it throughout before).
  const lockHere = !tasks.features.mmapLockedMigration;
  if (lockHere) mm.mmapLock.downRead();
  let nrFailed: number;
  try {
    nrFailed = queuePagesRange(tasks, mm, source, flags, list);
  } finally {
    if (lockHere) mm.mmapLock.upRead();
  }
  let err = 0;
  if (!list.empty) {
    const callerMems = tasks.cpusetMemsAllowed(current);
    err = migratePages(m, list, (src) => allocOnNode(m, src, dest, callerMems), null, MIGRATE_SYNC, MR.SYSCALL);
    if (err !== 0) putbackMovablePages(m, list);
  }
  if (err >= 0) err += nrFailed;
  return err;
}

function allocOnNode(m: Machine, src: number, nid: number, callerMems: NodeMask): number {
  if (callerMems[nid] === 0) return -1;
  const dst = allocMigrationTarget(m, src, { nid, thisNode: true });
  if (dst >= 0 || !m.folios.test(src, PG.hugetlb)) return dst;
  return allocFreshHugetlbFolio(m, nid);
}

/**
 * Mirrors queue_pages_range() for migrate_to_node(): walk every migratable VMA; folios on `source` are
 * isolated onto `list` unless shared without MPOL_MF_MOVE_ALL (skipped, not counted). Returns the number
 * of folios that could not be queued (isolation failures, migration entries met).
 */
function queuePagesRange(tasks: TaskTable, mm: MmStruct, source: number, flags: number, list: FolioList): number {
  const m = tasks.m;
  const f = m.folios;
  const features = tasks.features;
  const moveAll = (flags & MPOL_MF_MOVE_ALL) !== 0;
  let nrFailed = 0;
  let large = -1;
  // migrate_folio_add(): false only when an unshared (or MOVE_ALL) folio could not be isolated.
  const add = (folio: number): boolean => {
    if (moveAll || !folioSharedForMove(m, features, folio, folio)) return isolateFolioToList(m, folio, list);
    return true;
  };
  for (const v of mm.vmas.slice()) {
    if (!vmaMigratable(v)) continue;
    const hugetlb = (v.flags & VM.HUGETLB) !== 0;
    for (let p = 0; p < v.pmdBits.length; p++) {
      const base = v.pmdBase + p * PMD_SIZE;
      const pb = v.pmdBits[p]!;
      if (pb !== 0) {
        if ((pb & PTE.PRESENT) === 0) {
          if (pb & PTE.MIGRATION) nrFailed++;
          continue;
        }
        const folio = v.pmdPfn[p]!;
        if (pb & PTE.SPECIAL || f.test(folio, PG.zero)) continue;
        if (m.mem.nodeOfPfn[folio] !== source) continue;
        if (hugetlb) {
          // queue_folios_hugetlb(): a shared hugetlb folio is skipped without MOVE_ALL.
          if (moveAll || !folioSharedForMove(m, features, folio, folio)) {
            if (!isolateFolioToList(m, folio, list)) nrFailed++;
          }
        } else if (!add(folio)) nrFailed++;
        continue;
      }
      if (hugetlb) continue;
      const s = Math.max(base, v.start);
      const e = Math.min(base + PMD_SIZE, v.end);
      for (let a = s; a < e; a += PAGE_SIZE) {
        const i = (a - v.start) / PAGE_SIZE;
        const bits = v.pteBits[i]!;
        if (bits === 0) continue;
        if ((bits & PTE.PRESENT) === 0) {
          if (bits & PTE.MIGRATION) nrFailed++;
          continue;
        }
        if (bits & PTE.SPECIAL || (v.flags & VM.PFNMAP) !== 0) continue;
        const folio = f.folioOf(v.ptePfn[i]!);
        // vm_normal_folio() filters the zero page; PageReserved pages (the vDSO) are skipped too.
        if (f.test(folio, PG.zero | PG.zoneDevice | PG.reserved)) continue;
        if (m.mem.nodeOfPfn[folio] !== source) continue;
        if (f.order[folio]! > 0) {
          // A large folio is isolated once however many PTEs map it.
          if (folio === large) continue;
          large = folio;
        }
        if (!add(folio)) nrFailed++;
      }
    }
  }
  return nrFailed;
}
