/**
 * move_pages(2): mirrors kernel_move_pages(), find_mm_struct(), do_pages_move(), add_folio_for_migration()
 * and __add_folio_for_migration(), move_pages_and_store_status(), do_move_pages_to_node(),
 * store_status(), do_pages_stat() and do_pages_stat_array() in mm/migrate.c, with the version
 * differences of KernelFeatures (version.ts).
 *
 * Kernel return convention: a value >= 0, or -errno. The `pages`, `nodes` and `status` arguments are
 * user addresses in the *caller's* address space (0 is NULL); the addresses inside `pages` are
 * interpreted in the *target's*. The per-entry path allocates nothing: arrays are read one user page at
 * a time, folios are queued on one FolioList, lookups return numbers.
 */
import { traceSyscall, traceSyscallEnter, traceSyscallExit } from "./syscall-trace.js";
import { Cost, EACCES, EBUSY, EFAULT, EINVAL, ENODEV, EPERM, ESRCH } from "@mmemu/kernel";
import {
  allocMigrationTarget, FolioList, isolateFolioToList, MAX_NUMNODES, migratePages, MIGRATE_SYNC, MR, PG,
  PMD_ORDER, putbackMovablePages, type Machine, type MigrationTargetControl, type MmStruct, type Vma,
} from "@mmemu/mm-core";
import { CAP, capable } from "./cred.js";
import type { NodeMask } from "./cpuset.js";
import { folioSharedForMove, followUserPage, vmaMigratable, walkResult } from "./folio-walk.js";
import { PTRACE_MODE_READ_REALCREDS, ptraceMayAccess } from "./ptrace.js";
import type { TaskStruct, TaskTable } from "./sched.js";
import { UserAccess, UserArrayReader } from "./uaccess.js";
import { MPOL_MF_MOVE, MPOL_MF_MOVE_ALL, NUMA_NO_NODE } from "./uapi.js";

/** DO_PAGES_STAT_CHUNK_NR: stat mode copies pointers and statuses 16 at a time. */
export const DO_PAGES_STAT_CHUNK_NR = 16;

/** What find_mm_struct() hands back: the target mm and the nodes its cpuset allows. */
interface TargetMm {
  readonly mm: MmStruct;
  readonly taskNodes: NodeMask;
}

/**
 * Mirrors find_mm_struct(): pid 0 is the caller (its own cpuset, no checks); otherwise the task with that
 * id, which must pass the ptrace READ_REALCREDS check (-EPERM) and the LSM's task_movememory hook, and
 * must have an mm (-EINVAL for kernel threads and exited tasks). The allowed nodes are the target
 * task's cpuset mems.
 */
export function findMmStruct(tasks: TaskTable, current: TaskStruct, pid: number): TargetMm | number {
  if (pid === 0) {
    if (current.mm === null) return -EINVAL;
    return { mm: current.mm, taskNodes: tasks.cpusetMemsAllowed(current) };
  }
  const task = tasks.findTaskByVpid(pid);
  if (task === null) return -ESRCH;
  if (!ptraceMayAccess(tasks, current, task, PTRACE_MODE_READ_REALCREDS)) return -EPERM;
  const lsm = tasks.taskMovememory(current, task);
  if (lsm !== 0) return lsm;
  const taskNodes = tasks.cpusetMemsAllowed(task);
  const mm = tasks.getTaskMm(task);
  if (mm === null) return -EINVAL;
  return { mm, taskNodes };
}

/** kernel_move_pages()'s entry checks: flags (-EINVAL), MOVE_ALL's CAP_SYS_NICE (-EPERM), then the target. */
function movePagesTarget(tasks: TaskTable, current: TaskStruct, pid: number, flags: number): ReturnType<typeof findMmStruct> {
  if ((flags & ~(MPOL_MF_MOVE | MPOL_MF_MOVE_ALL)) !== 0) return -EINVAL;
  if ((flags & MPOL_MF_MOVE_ALL) !== 0 && !capable(current.cred, CAP.SYS_NICE)) return -EPERM;
  return findMmStruct(tasks, current, pid);
}

/**
 * Mirrors kernel_move_pages() (SYSCALL_DEFINE6(move_pages)): check flags (-EINVAL), MPOL_MF_MOVE_ALL's
 * CAP_SYS_NICE in the initial user namespace (-EPERM), find the target, then move (`nodes` non-NULL) or
 * report (`nodes` NULL). `count` is the raw unsigned long.
 */
export function kernelMovePages(
  tasks: TaskTable, current: TaskStruct, pid: number, count: number,
  pages: number, nodes: number, status: number, flags: number,
): number {
  const m = tasks.m;
  m.charge(Cost.SYSCALL, 1);
  return tasks.withCurrent(current, () => traceSyscall(m, "move_pages", () => ({ pid, nr_pages: count, pages, nodes, status, flags }), () => {
    const target = movePagesTarget(tasks, current, pid, flags);
    if (typeof target === "number") return target;
    const ctx = new MovePagesCall(tasks, current, target.mm);
    if (nodes !== 0) return ctx.doPagesMove(target.taskNodes, count, pages, nodes, status, flags);
    return ctx.doPagesStat(count, pages, status);
  }));
}

const ENTRY_NEXT = 0;
const ENTRY_BREAK = 1;
const ENTRY_RETURN = 2;

/**
 * migrate_pages()' get_new_folio for move_pages, with the call as its private data: one function for
 * every call, so the per-folio path compiled around it survives from call to call.
 */
function movePagesAllocTarget(src: number, call: MovePagesCall): number {
  return call.allocTarget(src);
}

/** A move_pages call run an entry at a time by a concurrent caller (see kernelMovePagesStepwise). */
export interface MovePagesSteps {
  /** Run the next piece (one entry, or the final flush): true when the call has returned. */
  step(): boolean;
  /** The return value, once step() returned true. */
  readonly result: number;
}

/**
 * kernel_move_pages() for a caller that runs concurrently with other tasks: the same call, but
 * do_pages_move()'s loop runs one entry per step(), so another task can run between two entries, where
 * the kernel's loop holds no lock. The checks, the stat mode and each flush run whole within a step.
 */
export function kernelMovePagesStepwise(
  tasks: TaskTable, current: TaskStruct, pid: number, count: number,
  pages: number, nodes: number, status: number, flags: number,
): MovePagesSteps {
  const m = tasks.m;
  m.charge(Cost.SYSCALL, 1);
  traceSyscallEnter(m, "move_pages", () => ({ pid, nr_pages: count, pages, nodes, status, flags }));
  let call: MovePagesCall | null = null;
  let result = 0;
  let done = false;
  const finish = (ret: number): boolean => {
    result = ret;
    done = true;
    traceSyscallExit(m, "move_pages", ret);
    return true;
  };
  const first = (): number | null => {
    const target = movePagesTarget(tasks, current, pid, flags);
    if (typeof target === "number") return target;
    call = new MovePagesCall(tasks, current, target.mm);
    if (nodes === 0) return call.doPagesStat(count, pages, status);
    call.beginPagesMove(target.taskNodes, count, pages, nodes, status, flags);
    return null;
  };
  const early = tasks.withCurrent(current, first);
  if (early !== null) finish(early);
  return {
    get result() {
      return result;
    },
    step(): boolean {
      if (done) return true;
      const c = call!;
      const prev = m.current;
      m.current = current.ctx;
      let over: boolean;
      try {
        over = c.stepPagesMove();
      } finally {
        m.current = prev;
      }
      return over ? finish(c.result) : false;
    },
  };
}

/** The state of one move_pages call (one allocation per call, none per entry). */
class MovePagesCall {
  private readonly m: Machine;
  private readonly ua: UserAccess;
  private readonly list = new FolioList(64);
  /** Nodes the caller's own cpuset lets it allocate on (the __GFP_HARDWALL part of the allocation). */
  private readonly callerMems: NodeMask;
  /** The migration_target_control of the batch being migrated (set per batch, not per folio). */
  private mtc: MigrationTargetControl = { nid: 0, thisNode: true };
  private lastVma: Vma | null = null;
  private lastVmaEvents = -1;

  constructor(
    private readonly tasks: TaskTable,
    current: TaskStruct,
    private readonly mm: MmStruct,
  ) {
    this.m = tasks.m;
    this.ua = new UserAccess(tasks.m, current.ctx);
    this.callerMems = tasks.cpusetMemsAllowed(current);
  }

  // do_pages_move()'s loop state, kept in fields so that a concurrent caller can run it an entry at a time.
  private taskNodes: NodeMask | null = null;
  private nrPages = 0;
  private statusPtr = 0;
  private migrateAll = false;
  private pagesR: UserArrayReader | null = null;
  private nodesR: UserArrayReader | null = null;
  private currentNode = NUMA_NO_NODE;
  private start = 0;
  private err = 0;
  private i = 0;
  private broke = false;
  /** The call's return value once {@link stepPagesMove} has returned true. */
  result = 0;

  /**
   * Mirrors do_pages_move(): walk the entries, batch consecutive QUEUED ones by target node, flush a
   * batch when the node changes, after a non-queued entry, and at the end or on a fatal error.
   */
  doPagesMove(taskNodes: NodeMask, nrPages: number, pages: number, nodes: number, status: number, flags: number): number {
    this.beginPagesMove(taskNodes, nrPages, pages, nodes, status, flags);
    while (!this.stepPagesMove());
    return this.result;
  }

  /** do_pages_move() up to its loop. */
  beginPagesMove(taskNodes: NodeMask, nrPages: number, pages: number, nodes: number, status: number, flags: number): void {
    this.taskNodes = taskNodes;
    this.nrPages = nrPages;
    this.statusPtr = status;
    this.migrateAll = (flags & MPOL_MF_MOVE_ALL) !== 0;
    this.pagesR = new UserArrayReader(this.ua, pages, 8);
    this.nodesR = new UserArrayReader(this.ua, nodes, 4);
    this.m.charge(Cost.LRU_CACHE_DISABLE, 1);
  }

  /**
   * One entry of do_pages_move()'s loop (with the flush it may trigger), or, after the last entry or a
   * fatal error, the final flush: true when the call is over and `result` holds its return value.
   * Between two entries the call holds no lock, so another task may run there.
   */
  stepPagesMove(): boolean {
    if (this.i < this.nrPages && !this.broke) {
      const r = this.pagesMoveEntry();
      if (r === ENTRY_RETURN) return true;
      if (r === ENTRY_NEXT) this.i++;
      else this.broke = true;
      return false;
    }
    // out_flush: queued entries are still migrated; a fatal error is not overwritten.
    const err1 = this.movePagesAndStoreStatus(this.currentNode, this.statusPtr, this.start, this.i, this.nrPages);
    this.result = this.err >= 0 ? err1 : this.err;
    return true;
  }

  /** The body of do_pages_move()'s loop for entry `i`: ENTRY_NEXT, ENTRY_BREAK, or ENTRY_RETURN (result set). */
  private pagesMoveEntry(): number {
    const i = this.i;
    const status = this.statusPtr;
    const nrPages = this.nrPages;
    const pagesR = this.pagesR!;
    const nodesR = this.nodesR!;
    this.err = -EFAULT;
    const p = pagesR.get(i);
    if (pagesR.fault) return ENTRY_BREAK;
    const node = nodesR.get(i);
    if (nodesR.fault) return ENTRY_BREAK;
    this.err = -ENODEV;
    if (node < 0 || node >= MAX_NUMNODES) return ENTRY_BREAK;
    if (this.tasks.nodeMemory[node] === 0) return ENTRY_BREAK;
    this.err = -EACCES;
    if (this.taskNodes![node] === 0) return ENTRY_BREAK;
    let err: number;
    if (this.currentNode === NUMA_NO_NODE) {
      this.currentNode = node;
      this.start = i;
    } else if (node !== this.currentNode) {
      err = this.movePagesAndStoreStatus(this.currentNode, status, this.start, i, nrPages);
      if (err !== 0) {
        this.result = err;
        return ENTRY_RETURN;
      }
      this.start = i;
      this.currentNode = node;
    }
    // Errors in the page lookup or isolation are not fatal: they are reported in status. Each
    // lookup holds mmap_lock for read; it is dropped before the next entry and before migrating.
    const lock = this.mm.mmapLock;
    lock.downRead();
    try {
      err = this.addFolioForMigration(p, this.currentNode, this.migrateAll);
    } finally {
      lock.upRead();
    }
    this.err = err;
    if (err > 0) return ENTRY_NEXT;
    // Already on the target node (0): report the node, otherwise the error.
    err = this.err = this.ua.putInts(status, i, 1, err !== 0 ? err : this.currentNode);
    if (err !== 0) return ENTRY_BREAK;
    err = this.movePagesAndStoreStatus(this.currentNode, status, this.start, i, nrPages);
    if (err !== 0) {
      // Entry i was accounted for (its status is written).
      this.result = err > 0 ? err - 1 : err;
      return ENTRY_RETURN;
    }
    this.err = 0;
    this.currentNode = NUMA_NO_NODE;
    return ENTRY_NEXT;
  }

  /**
   * Mirrors add_folio_for_migration() + __add_folio_for_migration(): 1 = queued, 0 = already on `node`,
   * else -errno for status.
   */
  private addFolioForMigration(addr: number, node: number, migrateAll: boolean): number {
    const m = this.m;
    const f = m.folios;
    const features = this.tasks.features;
    m.charge(Cost.PAGE_LOOKUP, 1);
    // vma_lookup(); consecutive entries usually fall in the same VMA, so the last one is tried first.
    // Only an event (another thread) could have changed the VMAs since it was found.
    let v = this.lastVma;
    if (v === null || addr < v.start || addr >= v.end || this.lastVmaEvents !== m.sim.eventsRun) {
      v = this.mm.findVma(addr);
      this.lastVma = v;
      this.lastVmaEvents = m.sim.eventsRun;
    }
    if (v === null || !vmaMigratable(v)) return -EFAULT;
    const folio = followUserPage(m, features, v, addr);
    if (folio < 0) return folio;
    if (m.mem.nodeOfPfn[folio] === node) return 0;
    const page = walkResult.page;
    if (!migrateAll && folioSharedForMove(m, features, folio, page)) return -EACCES;
    // Before 6.7 a hugetlb page could only be named by its head address.
    if (features.hugetlbTailEacces && f.test(folio, PG.hugetlb) && page !== folio) return -EACCES;
    return isolateFolioToList(m, folio, this.list) ? 1 : -EBUSY;
  }

  /**
   * Mirrors move_pages_and_store_status(): migrate the pending batch; on success write `node` for
   * entries [start, i); a positive result also counts the entries never examined (nrPages - i).
   */
  private movePagesAndStoreStatus(node: number, status: number, start: number, i: number, nrPages: number): number {
    if (this.list.empty) return 0;
    let err = this.doMovePagesToNode(node);
    if (err !== 0) {
      if (err > 0) err += nrPages - i;
      return err;
    }
    return this.ua.putInts(status, start, i - start, node);
  }

  /**
   * Mirrors do_move_pages_to_node(): migrate_pages(MIGRATE_SYNC, MR_SYSCALL) with targets allocated on
   * `node` only; anything left is put back.
   */
  private doMovePagesToNode(node: number): number {
    const m = this.m;
    this.mtc = { nid: node, thisNode: true };
    const err = migratePages(m, this.list, movePagesAllocTarget, null, MIGRATE_SYNC, MR.SYSCALL, undefined, this);
    if (err !== 0) putbackMovablePages(m, this.list);
    this.list.clear();
    return err;
  }

  /**
   * alloc_migration_target() with GFP_HIGHUSER_MOVABLE | __GFP_THISNODE: the caller's cpuset must allow
   * the node (the allocation is made in the caller's context), nothing falls back to another node, and a
   * hugetlb target comes from the node's pool or else a fresh huge page on that node.
   */
  allocTarget(src: number): number {
    const m = this.m;
    const nid = this.mtc.nid;
    if (this.callerMems[nid] === 0) return -1;
    const dst = allocMigrationTarget(m, src, this.mtc);
    if (dst >= 0 || !m.folios.test(src, PG.hugetlb)) return dst;
    return allocFreshHugetlbFolio(m, nid);
  }

  /**
   * Mirrors do_pages_stat(): 16 pointers are copied in, looked up, and 16 statuses copied out; a copy
   * that faults ends the call with -EFAULT (earlier chunks stay written).
   */
  doPagesStat(nrPages: number, pages: number, status: number): number {
    const CH = DO_PAGES_STAT_CHUNK_NR;
    const inBuf = new Uint8Array(CH * 8);
    const inView = new DataView(inBuf.buffer);
    const outBuf = new Uint8Array(CH * 4);
    const outView = new DataView(outBuf.buffer);
    let left = nrPages;
    let offset = 0;
    while (left > 0) {
      const chunkNr = Math.min(left, CH);
      if (this.ua.copyFromUser(inBuf, 0, pages + offset * 8, chunkNr * 8) !== 0) break;
      // do_pages_stat_array(): under the mmap lock, one lookup per entry.
      const lock = this.mm.mmapLock;
      lock.downRead();
      try {
        this.statChunk(inView, outView, chunkNr);
      } finally {
        lock.upRead();
      }
      if (this.ua.copyToUser(status + offset * 4, outBuf, 0, chunkNr * 4) !== 0) break;
      offset += chunkNr;
      left -= chunkNr;
    }
    return left > 0 ? -EFAULT : 0;
  }

  /** Mirrors do_pages_stat_array(): the node or -errno of each address of one chunk. */
  private statChunk(inView: DataView, outView: DataView, chunkNr: number): void {
    const m = this.m;
    const features = this.tasks.features;
    for (let k = 0; k < chunkNr; k++) {
        m.charge(Cost.PAGE_LOOKUP, 1);
        const addr = inView.getUint32(k * 8 + 4, true) * 4294967296 + inView.getUint32(k * 8, true);
        const v = this.mm.findVma(addr);
        let err = -EFAULT;
        if (v !== null) {
          const folio = followUserPage(m, features, v, addr);
          err = folio < 0 ? folio : m.mem.nodeOfPfn[folio]!;
        }
        outView.setInt32(k * 4, err, true);
    }
  }
}

/**
 * Mirrors alloc_migrate_hugetlb_folio() for a node whose hugetlb pool is empty: a fresh huge page from
 * that node's buddy allocator. mmemu keeps it in the node's pool afterwards (the kernel's temporary
 * surplus accounting is not modelled). Returns the folio or -1.
 */
export function allocFreshHugetlbFolio(m: Machine, nid: number): number {
  const pfn = m.folioAlloc(nid, PMD_ORDER, true);
  if (pfn < 0) return -1;
  m.folios.set(pfn, PG.hugetlb);
  m.folios.clear(pfn, PG.largeRmappable);
  m.hugetlbFree[nid] ??= [];
  m.hugetlbTotal[nid] = (m.hugetlbTotal[nid] ?? 0) + 1;
  return pfn;
}
