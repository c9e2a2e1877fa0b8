/**
 * Tasks, thread groups and the pid table: mirrors the parts of struct task_struct (include/linux/sched.h)
 * that move_pages/migrate_pages consult — pid and tgid, cred, cpuset, PF_KTHREAD, exit_state, mm — and
 * the lifecycle that changes them: copy_process() for threads and fork, do_exit()/exit_mm() leaving a
 * zombie, release_task() reaping it, find_task_by_vpid(), get_task_mm(), prctl(PR_SET_DUMPABLE) and
 * commit_creds(). Each task runs kernel code in the context of an mm-core Task (its CPU and TLB batch).
 */
import { EINVAL } from "@mmemu/kernel";
import type { Machine, MmStruct, Task } from "@mmemu/mm-core";
import { CAP_FULL_SET, credChangeDropsDumpable, makeCred, UserNamespace, type Cred } from "./cred.js";
import { Cpuset, guaranteeOnlineMems, nodeStatesMemory, type NodeMask } from "./cpuset.js";
import { kernelFeatures, type KernelFeatures, type KernelVersion } from "./version.js";

/** task->flags: a kernel thread (include/linux/sched.h). */
export const PF_KTHREAD = 0x00200000;
/** task->flags: the task is exiting. */
export const PF_EXITING = 0x00000004;
/** task->exit_state values. */
export const EXIT_DEAD = 0x0010;
export const EXIT_ZOMBIE = 0x0020;
/** get_dumpable() values (include/linux/sched/coredump.h). */
export const SUID_DUMP_DISABLE = 0;
export const SUID_DUMP_USER = 1;
export const SUID_DUMP_ROOT = 2;

/** What an mm carries besides its pages: dumpability (mm->flags) and mm->user_ns. */
export interface MmSecurity {
  dumpable: number;
  readonly userNs: UserNamespace;
}

/** A thread group (a process): its tgid, its threads and its parent. */
export class ThreadGroup {
  readonly threads: TaskStruct[] = [];
  constructor(
    readonly tgid: number,
    public parent: ThreadGroup | null,
  ) {}

  get leader(): TaskStruct {
    return this.threads[0]!;
  }
}

/** Mirrors struct task_struct (the fields these syscalls use). */
export class TaskStruct {
  /** task->flags (PF_*). */
  flags = 0;
  /** task->exit_state: 0 while alive, EXIT_ZOMBIE once exited and not reaped. */
  exitState = 0;
  /**
   * The mm's dumpability cached when the task last had an mm; kernel threads never had one, so it stays
   * SUID_DUMP_DISABLE. ptrace checks use it once task->mm is gone ("ptrace: slightly saner
   * get_dumpable() logic", mainline 7.1, backported to the 6.1/6.6/6.12/6.18 stable series).
   */
  lastDumpable = SUID_DUMP_DISABLE;

  constructor(
    /** task->pid: the thread id. */
    readonly pid: number,
    readonly group: ThreadGroup,
    /** The mm-core context this task's kernel code runs in (its CPU, its mm, its TLB batch). */
    readonly ctx: Task,
    /** task->real_cred / cred (mmemu does not model the split). */
    public cred: Cred,
    /** task->cpuset */
    public cpuset: Cpuset,
    /** task->comm */
    readonly comm: string,
  ) {
    ctx.comm = comm.slice(0, 15); // TASK_COMM_LEN 16 with the NUL
    ctx.tracePid = pid;
  }

  /** task->mm (null for kernel threads and after exit_mm()). */
  get mm(): MmStruct | null {
    return this.ctx.mm;
  }

  /** task->tgid */
  get tgid(): number {
    return this.group.tgid;
  }

  get isKernelThread(): boolean {
    return (this.flags & PF_KTHREAD) !== 0;
  }

  get isZombie(): boolean {
    return this.exitState === EXIT_ZOMBIE;
  }
}

/** Options for a new process. */
export interface ProcessOptions {
  /** Name (comm). @default "proc<pid>" */
  readonly name?: string;
  /** Pid to use; must be free. @default the next free pid */
  readonly pid?: number;
  /** Real, effective, saved and fs uid. @default 0 */
  readonly uid?: number;
  /** Real, effective, saved and fs gid. @default the uid */
  readonly gid?: number;
  /** Effective and permitted capability mask. @default all for uid 0, none otherwise */
  readonly caps?: bigint;
  /** A complete cred, overriding uid/gid/caps. */
  readonly cred?: Cred;
  /** CPU of the first thread. @default 0 */
  readonly cpu?: number;
  /** cpuset. @default the root cpuset (every node) */
  readonly cpuset?: Cpuset;
  /** mm dumpability. @default SUID_DUMP_USER */
  readonly dumpable?: number;
}

export interface TaskTableOptions {
  /** Which kernel to behave like. @default "mainline" */
  readonly kernelVersion?: KernelVersion;
  /** fs.suid_dumpable: what a credential change sets the dumpability to. @default 0 */
  readonly suidDumpable?: number;
  /** First pid handed out. @default 1 */
  readonly firstPid?: number;
}

/**
 * The emulated kernel's process side for one machine: the pid table (one pid namespace), the user
 * namespaces, the cpuset hierarchy, N_MEMORY, the kernel-version features and the LSM hook that
 * move_pages consults (security_task_movememory).
 */
export class TaskTable {
  readonly m: Machine;
  readonly features: KernelFeatures;
  /** init_user_ns */
  readonly initUserNs: UserNamespace;
  /** The root cpuset: every node. */
  readonly rootCpuset: Cpuset;
  /** node_states[N_MEMORY] (the machine's nodes do not change). */
  readonly nodeMemory: NodeMask;
  readonly suidDumpable: number;
  /**
   * security_task_movememory(): 0 allows; an LSM returns -errno to deny (SELinux gives -EACCES). With no
   * LSM loaded it always allows. Called with the caller and the target.
   */
  taskMovememory: (current: TaskStruct, target: TaskStruct) => number = () => 0;
  private readonly byPid = new Map<number, TaskStruct>();
  private readonly mmSec = new WeakMap<MmStruct, MmSecurity>();
  private nextPid: number;
  private nextNsId = 1;

  constructor(m: Machine, opts: TaskTableOptions = {}) {
    this.m = m;
    this.features = kernelFeatures(opts.kernelVersion ?? "mainline");
    // The migration core is the machine's: the version chooses it for every caller of migrate_pages().
    m.settings.migratePagesBatch = this.features.migratePagesBatch;
    this.initUserNs = new UserNamespace(0, null, 0);
    this.nodeMemory = nodeStatesMemory(m);
    this.rootCpuset = new Cpuset("/", this.nodeMemory.slice(), null);
    this.suidDumpable = opts.suidDumpable ?? SUID_DUMP_DISABLE;
    this.nextPid = opts.firstPid ?? 1;
  }

  /** Every live or zombie task, by pid order. */
  get tasks(): TaskStruct[] {
    return [...this.byPid.values()].sort((a, b) => a.pid - b.pid);
  }

  /** A child user namespace created by `creator` (unshare(CLONE_NEWUSER)); its owner is the creator's euid. */
  createUserNs(parent: UserNamespace, ownerEuid: number): UserNamespace {
    return new UserNamespace(this.nextNsId++, parent, ownerEuid);
  }

  /** A cpuset below `parent` (the root by default) with the given mems. */
  createCpuset(name: string, mems: NodeMask, parent: Cpuset = this.rootCpuset): Cpuset {
    return new Cpuset(name, mems, parent);
  }

  private allocPid(want?: number): number {
    if (want !== undefined) {
      if (!Number.isInteger(want) || want <= 0) throw new RangeError(`pid ${want} must be a positive integer`);
      if (this.byPid.has(want)) throw new RangeError(`pid ${want} is already in use`);
      if (want >= this.nextPid) this.nextPid = want + 1;
      return want;
    }
    while (this.byPid.has(this.nextPid)) this.nextPid++;
    return this.nextPid++;
  }

  /** A new single-threaded process with an empty address space. */
  createProcess(opts: ProcessOptions = {}): TaskStruct {
    const pid = this.allocPid(opts.pid);
    const uid = opts.uid ?? 0;
    const cred = opts.cred ?? makeCred(this.initUserNs, uid, opts.gid ?? uid, opts.caps);
    const mm = this.m.createMm();
    this.mmSec.set(mm, { dumpable: opts.dumpable ?? SUID_DUMP_USER, userNs: cred.userNs });
    const group = new ThreadGroup(pid, null);
    const t = new TaskStruct(pid, group, this.m.createTask(mm, opts.cpu ?? 0), cred, opts.cpuset ?? this.rootCpuset, opts.name ?? `proc${pid}`);
    group.threads.push(t);
    this.byPid.set(pid, t);
    return t;
  }

  /** clone(CLONE_VM | CLONE_THREAD ...): another thread of `leader`'s process on `cpu`. */
  createThread(of: TaskStruct, opts: { readonly pid?: number; readonly cpu?: number; readonly name?: string; readonly cpuset?: Cpuset } = {}): TaskStruct {
    if (of.mm === null) throw new Error(`task ${of.pid} has no mm to share`);
    const pid = this.allocPid(opts.pid);
    const t = new TaskStruct(pid, of.group, this.m.createTask(of.mm, opts.cpu ?? of.ctx.cpu), of.cred, opts.cpuset ?? of.cpuset, opts.name ?? of.comm);
    t.ctx.mempolicy = of.ctx.mempolicy; // copy_process(): mpol_dup(current->mempolicy)
    of.group.threads.push(t);
    this.byPid.set(pid, t);
    return t;
  }

  /** A kernel thread (kthreadd and friends): root credentials, no mm, PF_KTHREAD. */
  createKernelThread(opts: { readonly pid?: number; readonly cpu?: number; readonly name?: string } = {}): TaskStruct {
    const pid = this.allocPid(opts.pid);
    const group = new ThreadGroup(pid, null);
    const t = new TaskStruct(pid, group, this.m.createTask(null, opts.cpu ?? 0), makeCred(this.initUserNs, 0, 0, CAP_FULL_SET), this.rootCpuset, opts.name ?? `kthread${pid}`);
    t.flags |= PF_KTHREAD;
    group.threads.push(t);
    this.byPid.set(pid, t);
    return t;
  }

  /**
   * fork(): a child process with a copy-on-write copy of the parent's address space, the calling
   * thread's credentials and cpuset, and the mm's dumpability (dup_mm copies mm->flags).
   */
  fork(parent: TaskStruct, opts: { readonly pid?: number; readonly cpu?: number; readonly name?: string } = {}): TaskStruct {
    const pmm = parent.mm;
    if (pmm === null) throw new Error(`task ${parent.pid} has no mm to fork`);
    const pid = this.allocPid(opts.pid);
    const mm = this.m.memory.fork(pmm);
    const psec = this.mmSecurity(pmm);
    this.mmSec.set(mm, { dumpable: psec.dumpable, userNs: psec.userNs });
    const group = new ThreadGroup(pid, parent.group);
    const t = new TaskStruct(pid, group, this.m.createTask(mm, opts.cpu ?? parent.ctx.cpu), parent.cred, parent.cpuset, opts.name ?? parent.comm);
    t.ctx.mempolicy = parent.ctx.mempolicy; // copy_process(): mpol_dup(current->mempolicy)
    group.threads.push(t);
    this.byPid.set(pid, t);
    return t;
  }

  /**
   * exit_group(): every thread runs exit_mm() (caching the mm's dumpability), the last user of the mm
   * unmaps everything, other threads are released at once and the leader stays as a zombie until
   * reap().
   */
  exit(task: TaskStruct): void {
    const group = task.group;
    const mm = group.leader.mm;
    for (const t of group.threads) {
      if (t.exitState !== 0) continue;
      t.flags |= PF_EXITING;
      if (t.mm !== null) {
        t.lastDumpable = this.mmSecurity(t.mm).dumpable;
        t.ctx.mm = null;
      }
      if (t === group.leader) t.exitState = EXIT_ZOMBIE;
      else {
        t.exitState = EXIT_DEAD;
        this.byPid.delete(t.pid);
      }
    }
    if (mm !== null) {
      mm.users--;
      if (mm.users <= 0) this.m.memory.exitMmap(mm);
    }
  }

  /** release_task() of a zombie (the parent's wait()): its pid disappears. */
  reap(task: TaskStruct): void {
    if (task.exitState !== EXIT_ZOMBIE) throw new Error(`task ${task.pid} is not a zombie`);
    task.exitState = EXIT_DEAD;
    this.byPid.delete(task.pid);
  }

  /** Mirrors find_task_by_vpid(): the task with this id in the (single) pid namespace, or null. */
  findTaskByVpid(pid: number): TaskStruct | null {
    if (!Number.isInteger(pid) || pid <= 0) return null;
    return this.byPid.get(pid) ?? null;
  }

  /** Mirrors get_task_mm(): the task's mm, or null for kernel threads and exited tasks. */
  getTaskMm(task: TaskStruct): MmStruct | null {
    if (task.mm === null || task.isKernelThread) return null;
    return task.mm;
  }

  /** The mm's dumpability and user namespace. */
  mmSecurity(mm: MmStruct): MmSecurity {
    let s = this.mmSec.get(mm);
    if (s === undefined) {
      s = { dumpable: SUID_DUMP_USER, userNs: this.initUserNs };
      this.mmSec.set(mm, s);
    }
    return s;
  }

  /** Mirrors prctl(PR_SET_DUMPABLE, value): only 0 and 1 are accepted from user space. */
  prctlSetDumpable(task: TaskStruct, value: number): number {
    if (value !== SUID_DUMP_DISABLE && value !== SUID_DUMP_USER) return -EINVAL;
    if (task.mm === null) return -EINVAL;
    this.mmSecurity(task.mm).dumpable = value;
    return 0;
  }

  /**
   * Mirrors commit_creds() applied to every thread of the task's process (as glibc's set*id broadcast
   * does): a change of euid/egid/fsuid/fsgid or new permitted capabilities makes the mm non-dumpable
   * (fs.suid_dumpable).
   */
  commitCreds(task: TaskStruct, next: Cred): void {
    const old = task.cred;
    if (task.mm !== null && credChangeDropsDumpable(old, next)) this.mmSecurity(task.mm).dumpable = this.suidDumpable;
    for (const t of task.group.threads) if (t.exitState === 0) t.cred = next;
  }

  /** Mirrors cpuset_mems_allowed(): the task's cpuset mems that have memory. */
  cpusetMemsAllowed(task: TaskStruct): NodeMask {
    return guaranteeOnlineMems(task.cpuset, this.nodeMemory);
  }

  /** Run `fn` with `task` as current (m.current is its context), restoring the previous one after. */
  withCurrent<T>(task: TaskStruct, fn: () => T): T {
    const prev = this.m.current;
    this.m.current = task.ctx;
    try {
      return fn();
    } finally {
      this.m.current = prev;
    }
  }
}
