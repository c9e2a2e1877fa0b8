/**
 * Calls started concurrently (the `start` step) and joined later (`join`): a syscall or page fault made
 * by another thread or process at a virtual time of its own while the scenario's steps go on.
 *
 * How it runs (docs/concurrency.md): mmemu's kernel code is synchronous, so a started call enters as a
 * virtual-time event and runs as a task nested on top of whatever task is sleeping at that moment (in a
 * copy, a DMA wait, a folio lock, a charge of CPU time); the interrupted task resumes when the call
 * returns. Before it enters, a call whose first lock is mmap_lock checks it: held in a conflicting mode
 * (by a sleeping task below), the call queues on the rw_semaphore and enters when woken. A page fault
 * (`touch`) is a resumable loop: it sleeps on mmap_lock and on migration entries (migration_entry_wait)
 * as queued waiters, so it waits for the migration it met to finish, as a faulting thread does.
 */
import type { RwSemaphore } from "@mmemu/kernel";
import { ConcurrencyModelError } from "@mmemu/kernel";
import { folioWaitUnlock, PAGE_SIZE, PG, VM_FAULT, type MmStruct } from "@mmemu/mm-core";
import { kernelMovePagesStepwise, type MovePagesSteps, type TaskStruct } from "@mmemu/move-pages";
import { prepareMovePages, type PreparedMovePages } from "./ops/move_pages.js";
import type { MovePagesStep } from "./ops/index.js";
import { checkField } from "./expect.js";
import { evalAddrNumber, parseSize, type ExprScope } from "./expr.js";
import type { OpDef, Outcome } from "./op.js";
import { OPS } from "./ops/index.js";
import type { ScenarioStep } from "./schema.js";
import type { World } from "./world.js";

/** The operations a `start` step may run, and the thread field each names. */
export const STARTABLE_OPS = ["move_pages", "migrate_pages", "mbind", "munmap", "mprotect", "fork", "touch"] as const;
export type StartableOp = (typeof STARTABLE_OPS)[number];

/** The thread a startable call runs in (the field that names it). */
export function threadField(op: StartableOp): "process" | "parent" {
  return op === "fork" ? "parent" : "process";
}

/** What a joined call reports besides its own result. */
export interface CallTiming {
  readonly thread: string;
  /** Virtual time the call was due to enter the kernel, and when it did (later if it slept on mmap_lock first). */
  readonly startNs: number;
  readonly enteredNs: number;
  readonly endNs: number;
  /** Times the call slept on mmap_lock before entering or in a fault. */
  readonly mmapLockWaits: number;
  /** Times a fault met a migration entry and slept until the migration ended (touch). */
  readonly migrationWaits: number;
  /**
   * Virtual ns by which interrupted tasks resumed late between this call's start and its join
   * (Sim.lateNs): the model runs each piece of a started call to its end before the task it
   * interrupted goes on. 0 means the timing of every task is exactly as with true parallelism.
   */
  readonly interruptedLateNs: number;
}

type StartedStep = Extract<ScenarioStep, { op: StartableOp }>;

/** One started call, from `start` to `join`. */
export class ConcurrentCall {
  done = false;
  outcome: Outcome | null = null;
  error: unknown = null;
  readonly startNs: number;
  enteredNs = -1;
  endNs = -1;
  mmapLockWaits = 0;
  migrationWaits = 0;
  private readonly lateAtStart: number;
  readonly thread: TaskStruct;
  private readonly threadName: string;
  /** touch: pages still to access, and whether one failed. */
  private pages: number[] = [];
  private next = 0;
  private fault = false;

  constructor(
    private readonly w: World,
    readonly task: string,
    private readonly st: StartedStep,
    private readonly scope: ExprScope,
    delayNs: number,
  ) {
    this.threadName = st.op === "fork" ? st.parent : st.process;
    this.thread = w.task(this.threadName);
    this.startNs = w.m.sim.now + delayNs;
    this.lateAtStart = w.m.sim.lateNs;
    w.m.sim.schedule(delayNs, () => this.enter());
  }

  timing(): CallTiming {
    return {
      thread: this.threadName, startNs: this.startNs, enteredNs: this.enteredNs, endNs: this.endNs,
      mmapLockWaits: this.mmapLockWaits, migrationWaits: this.migrationWaits,
      interruptedLateNs: this.w.m.sim.lateNs - this.lateAtStart,
    };
  }

  /** The call is due: check its first lock, then run it as a nested task. */
  private enter(): void {
    const first = this.firstLock();
    if (first !== null && !(first.write ? first.lock.canWrite() : first.lock.canRead())) {
      this.mmapLockWaits++;
      const { lock, write } = first;
      const wake = (): void => {
        if (lock.retryWaiter(wake)) this.runNow();
      };
      lock.waitFor(write, wake);
      return;
    }
    this.runNow();
  }

  private runNow(): void {
    this.enteredNs = this.w.m.sim.now;
    if (this.st.op === "move_pages") {
      this.movePagesOn();
      return;
    }
    if (this.st.op === "touch") {
      const st = this.st;
      const addr = evalAddrNumber(st.addr, this.scope);
      const len = parseSize(st.len);
      for (let a = addr - (addr % PAGE_SIZE); a < addr + len; a += PAGE_SIZE) this.pages.push(a);
      this.touchOn();
      return;
    }
    this.run(() => (OPS[this.st.op] as OpDef).run(this.w, this.st, this.scope));
  }

  /** Run `fn` as a task in this call's thread; an exception ends the call and is reported at its join. */
  private run(fn: () => Outcome | null): void {
    const m = this.w.m;
    const prev = m.current;
    try {
      const out = m.sim.runTask(fn, undefined);
      if (out !== null) this.finish(out);
    } catch (e) {
      this.error = e;
      this.done = true;
      this.endNs = m.sim.now;
    } finally {
      m.current = prev;
    }
  }

  private finish(out: Outcome): void {
    this.outcome = out;
    this.done = true;
    this.endNs = this.w.m.sim.now;
  }

  /** The mm and mode of the lock the call takes first, or null (a fault, or a target that does not exist). */
  private firstLock(): { lock: RwSemaphore; write: boolean } | null {
    const w = this.w;
    const st = this.st;
    const mmOf = (name: string | number): MmStruct | null => {
      if (name === 0) return this.thread.mm;
      const t = typeof name === "string" ? w.procs.get(name) : w.tasks.findTaskByVpid(name);
      return t?.mm ?? null;
    };
    let mm: MmStruct | null;
    let write = true;
    switch (st.op) {
      case "move_pages":
      case "migrate_pages":
        mm = mmOf(st.pid);
        write = false;
        break;
      case "touch":
        return null;
      default:
        mm = this.thread.mm;
    }
    return mm === null ? null : { lock: mm.mmapLock, write };
  }

  /**
   * move_pages: the call runs an entry per event, so other tasks run between two entries as they do
   * between the kernel's mmap_read_unlock() and the next lookup; before each entry it sleeps on the
   * target's mmap_lock (a queued waiter) while a writer holds it.
   */
  private prepared: PreparedMovePages | null = null;
  private steps: MovePagesSteps | null = null;
  private readonly movePagesOn = (): void => {
    const first = this.firstLock();
    if (this.steps !== null && first !== null && !first.lock.canRead()) {
      this.mmapLockWaits++;
      const lock = first.lock;
      const wake = (): void => {
        if (lock.retryWaiter(wake)) this.movePagesOn();
      };
      lock.waitFor(false, wake);
      return;
    }
    this.run(() => {
      const w = this.w;
      if (this.steps === null) {
        const p = (this.prepared = prepareMovePages(w, this.st as MovePagesStep, this.scope));
        this.steps = kernelMovePagesStepwise(w.tasks, p.task, p.pid, p.count, p.pagesPtr, p.nodesPtr, p.statusPtr, p.flags);
      } else if (this.steps.step()) {
        return this.prepared!.outcome(this.steps.result, null);
      }
      w.m.sim.schedule(0, this.movePagesOn);
      return null;
    });
  };

  /** touch: fault each page in turn; sleep on mmap_lock or a migration entry as a queued waiter. */
  private readonly resume = (): void => this.touchOn();

  private touchOn(): void {
    const st = this.st as Extract<StartedStep, { op: "touch" }>;
    const m = this.w.m;
    this.run(() => {
      m.current = this.thread.ctx;
      while (this.next < this.pages.length && !this.fault) {
        const r = m.memory.userAccessFrame(this.thread.ctx, this.pages[this.next]!, st.write);
        if (r === VM_FAULT.LOCK_WAIT) {
          this.mmapLockWaits++;
          const lock = m.memory.faultWaitLock!;
          const wake = (): void => {
            if (lock.retryWaiter(wake)) this.touchOn();
          };
          lock.waitFor(false, wake);
          return null;
        }
        if (r === VM_FAULT.MIGRATION_WAIT) {
          // migration_entry_wait(): sleep until the folio under migration is unlocked, then fault again.
          this.migrationWaits++;
          const folio = m.folios.folioOf(m.memory.faultWaitPfn);
          if (m.folios.test(folio, PG.locked)) folioWaitUnlock(m, folio, this.resume);
          else m.sim.schedule(0, this.resume);
          return null;
        }
        if (r < 0) this.fault = true;
        else this.next++;
      }
      return {
        call: `${st.write ? "write" : "read"}-touch(${st.addr}, ${st.len})`, result: { fault: this.fault },
        mismatches: checkField("fault", this.fault, st.expect?.fault ?? false),
      };
    });
  }
}

/** Wait in virtual time until a started call has ended; its outcome, or the error that ended it. */
export function joinCall(w: World, call: ConcurrentCall): Outcome {
  if (!call.done) {
    w.m.sim.runUntil(() => call.done, undefined, `join ${call.task}`);
  }
  if (call.error !== null) {
    const e = call.error as Error;
    if (e instanceof ConcurrencyModelError) throw e;
    throw new Error(`the call started as "${call.task}" threw ${e.name}: ${e.message}`);
  }
  return call.outcome!;
}
