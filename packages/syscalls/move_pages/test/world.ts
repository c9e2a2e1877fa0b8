/**
 * Shared set-up for the move_pages tests: a real machine (nodes 0 and 1 with memory, node 2 CPU-only), a
 * task table, processes, and a caller that places the syscall's arrays in its own emulated memory.
 */
import {
  Machine, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PAGE_SIZE, PROT_READ, PROT_WRITE, type MmapArgs,
} from "@mmemu/mm-core";
import {
  kernelGetMempolicy, kernelMbind, kernelMigratePages, kernelMovePages, kernelSetMempolicy, nodeBitmapLongs, readUserInts,
  TaskTable, UserArgArena,
  type KernelVersion, type ProcessOptions, type TaskStruct,
} from "../src/index.js";

/** What status entries hold before the call (so "untouched" is visible). */
export const SENTINEL = -999;

export interface World {
  m: Machine;
  tasks: TaskTable;
  /** An unprivileged process (uid 1000) on CPU 0. */
  p: TaskStruct;
}

export function world(opts: { version?: KernelVersion; pages?: number; hugetlb?: Record<number, number>; proc?: ProcessOptions } = {}): World {
  const pages = opts.pages ?? 1 << 12;
  const m = new Machine({
    nodes: [{ id: 0, pages, cpus: 2 }, { id: 1, pages, cpus: 2 }, { id: 2, pages: 0, cpus: 1 }],
    ...(opts.hugetlb ? { hugetlbPages: opts.hugetlb } : {}),
  });
  const tasks = new TaskTable(m, { kernelVersion: opts.version ?? "mainline", firstPid: 100 });
  const p = tasks.createProcess({ uid: 1000, name: "p", ...opts.proc });
  return { m, tasks, p };
}

/** mmap in a task's mm (private anonymous read-write by default). */
export function mmap(w: World, task: TaskStruct, len: number, extra: Partial<MmapArgs> = {}): number {
  const a = w.m.memory.mmap(task.mm!, { len, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS, ...extra });
  if (a < 0) throw new Error(`mmap failed: ${a}`);
  return a;
}

export function mmapShared(w: World, task: TaskStruct, len: number): number {
  return mmap(w, task, len, { flags: MAP_SHARED | MAP_ANONYMOUS });
}

/** A one-page memfd mapped MAP_SHARED twice in the task's address space; the two addresses. */
export function memfdMappedTwice(w: World, task: TaskStruct): [number, number] {
  const file = w.m.createAddressSpace("memfd:twice", "shmem", 1);
  const a = mmap(w, task, PAGE_SIZE, { flags: MAP_SHARED, file });
  const b = mmap(w, task, PAGE_SIZE, { flags: MAP_SHARED, file });
  return [a, b];
}

/** A user write as the task: faults in and fills the page with a pattern; returns the frame. */
export function touch(w: World, task: TaskStruct, addr: number, pattern = 0x1000 + (addr / PAGE_SIZE) % 0xffff): number {
  const pfn = w.tasks.withCurrent(task, () => w.m.memory.userAccessFrame(task.ctx, addr, true));
  if (pfn < 0) throw new Error(`write fault at ${addr.toString(16)}: ${pfn}`);
  w.m.mem.fillPages(pfn, 1, pattern);
  return pfn;
}

/** A user read as the task; returns the frame (or a negative fault code). */
export function read(w: World, task: TaskStruct, addr: number): number {
  return w.tasks.withCurrent(task, () => w.m.memory.userAccessFrame(task.ctx, addr, false));
}

/** The node holding the page at addr in task's mm, or -1 if nothing is mapped. */
export function nodeOf(w: World, task: TaskStruct, addr: number): number {
  const pfn = w.m.memory.translate(task.mm!, addr);
  return pfn < 0 ? -1 : w.m.mem.nodeOfPfn[pfn]!;
}

export interface MoveResult {
  /** The kernel return value (>= 0 or -errno). */
  ret: number;
  /** The status array after the call (SENTINEL where untouched, null where unreadable). */
  status: Array<number | null>;
}

export interface CallOpts {
  /** Count to pass (default: addresses.length). */
  count?: number;
  /** Raw pointer values overriding where the arrays are placed (0 = NULL). */
  pagesPtr?: number;
  nodesPtr?: number;
  statusPtr?: number;
}

/**
 * The caller places `addrs` (and `nodes` unless null) in fresh arrays of its own memory, pre-fills
 * status with SENTINEL and calls move_pages.
 */
export function movePages(w: World, caller: TaskStruct, pid: number, addrs: number[], nodes: number[] | null, flags: number, o: CallOpts = {}): MoveResult {
  const n = addrs.length;
  const pa = o.pagesPtr ?? placeArray(w, caller, addrs, 8);
  const na = o.nodesPtr ?? (nodes === null ? 0 : placeArray(w, caller, nodes, 4));
  const sa = o.statusPtr ?? placeArray(w, caller, new Array(Math.max(1, n)).fill(SENTINEL), 4);
  const ret = kernelMovePages(w.tasks, caller, pid, o.count ?? n, pa, na, sa, flags);
  return { ret, status: sa === 0 ? [] : readUserInts(w.tasks, caller, sa, n) };
}

const arenas = new WeakMap<TaskStruct, UserArgArena>();

/**
 * Put values in the task's argument arena (so argument arrays never land in holes a test made on
 * purpose); their address.
 */
export function placeArray(w: World, task: TaskStruct, values: ArrayLike<number | bigint>, size: 4 | 8): number {
  let ar = arenas.get(task);
  if (ar === undefined) arenas.set(task, (ar = new UserArgArena(w.tasks, task)));
  return ar.place(values, size);
}

/** migrate_pages(pid, maxnode, old, new) with node lists placed in the caller's memory. */
export function migratePages(w: World, caller: TaskStruct, pid: number, from: number[], to: number[], maxnode = 1025): number {
  const oldA = placeArray(w, caller, nodeBitmapLongs(from, maxnode), 8);
  const newA = placeArray(w, caller, nodeBitmapLongs(to, maxnode), 8);
  return kernelMigratePages(w.tasks, caller, pid, maxnode, oldA, newA);
}

/** mbind(addr, len, mode, nodes, maxnode, flags) with the node list placed in the caller's memory. */
export function mbind(w: World, caller: TaskStruct, addr: number, len: number, mode: number, nodes: number[], flags: number, maxnode = 1025): number {
  const nm = nodes.length === 0 ? 0 : placeArray(w, caller, nodeBitmapLongs(nodes, maxnode), 8);
  return kernelMbind(w.tasks, caller, addr, len, mode, nm, maxnode, flags);
}

/** set_mempolicy(mode, nodes, maxnode). */
export function setMempolicy(w: World, caller: TaskStruct, mode: number, nodes: number[], maxnode = 1025): number {
  const nm = nodes.length === 0 ? 0 : placeArray(w, caller, nodeBitmapLongs(nodes, maxnode), 8);
  return kernelSetMempolicy(w.tasks, caller, mode, nm, maxnode);
}

/** get_mempolicy(&mode, nodemask, maxnode, addr, flags): the return value, the int and the node list. */
export function getMempolicy(w: World, caller: TaskStruct, addr: number, flags: number, maxnode = 1025): { ret: number; mode: number; nodes: number[] } {
  const pol = placeArray(w, caller, [-1], 4);
  const nm = placeArray(w, caller, new Array(Math.ceil(maxnode / 64)).fill(0n), 8);
  const ret = kernelGetMempolicy(w.tasks, caller, pol, nm, maxnode, addr, flags);
  const [mode] = readUserInts(w.tasks, caller, pol, 1);
  const words = readUserInts(w.tasks, caller, nm, Math.ceil(maxnode / 64) * 2);
  const nodes: number[] = [];
  words.forEach((v, i) => { for (let b = 0; b < 32; b++) if (((v ?? 0) >>> b) & 1) nodes.push(i * 32 + b); });
  return { ret, mode: mode ?? -1, nodes };
}
