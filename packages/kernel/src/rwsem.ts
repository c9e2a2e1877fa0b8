/**
 * Mirrors struct rw_semaphore (include/linux/rwsem.h, kernel/locking/rwsem.c) in virtual time: the
 * mmap_lock of every mm. The acquire rules are the kernel's since 5.13:
 * - a reader gets the lock when no writer holds it and no hand-off is pending; with waiters queued it
 *   still steals a free lock (rwsem_down_read_slowpath()'s "reader optimistic lock stealing") but
 *   queues behind them while other readers hold it;
 * - a writer gets the lock when nobody holds it and no hand-off to another waiter is pending;
 * - a waiter that has waited RWSEM_WAIT_TIMEOUT and still fails sets the hand-off (RWSEM_FLAG_HANDOFF):
 *   from then on nobody else may take the lock until that waiter has it;
 * - a release that frees the lock wakes the first waiter, or every reader queued before the first
 *   writer (rwsem_mark_wake()); a woken waiter retries.
 *
 * mmemu's kernel code is synchronous, so a task that holds the lock while it sleeps in virtual time is
 * a caller further down the JS stack. Two kinds of waiters follow from that: a synchronous caller
 * ({@link RwSemaphore.downRead}, {@link RwSemaphore.downWrite}) runs events until it gets the lock,
 * which works when the holder is a call nested above it or a queued waiter; a call that has not yet
 * started ({@link RwSemaphore.waitFor}) queues a callback instead, which is how a concurrent call
 * waits for a holder below it. A synchronous caller that would wait for a holder below it on the stack
 * cannot be resumed by the model: that is a {@link ConcurrencyModelError}, never a silent reordering.
 *
 * Uncontended acquire and release only count: no time passes and nothing is allocated.
 */
import { MAX_TASK_DEPTH, type Sim } from "./sim.js";

/** RWSEM_WAIT_TIMEOUT: DIV_ROUND_UP(HZ, 250) jiffies, 4 ms at every HZ. */
export const RWSEM_WAIT_TIMEOUT_NS = 4_000_000;

/** An interleaving the nested-call model cannot run (a sleeper's lock is held by a caller below it). */
export class ConcurrencyModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConcurrencyModelError";
  }
}

interface Waiter {
  readonly write: boolean;
  readonly wake: () => void;
  readonly since: number;
  /** A wake-up event is scheduled and has not run yet. */
  woken: boolean;
}

export class RwSemaphore {
  /** Readers holding the lock. */
  readers = 0;
  /** A writer holds the lock. */
  writer = false;
  /** RWSEM_FLAG_HANDOFF: only the first waiter may take the lock. */
  handoff = false;
  /** Acquisitions that had to wait, and the virtual ns they waited (for reports). */
  contended = 0;
  waitNs = 0;
  private readonly waiters: Waiter[] = [];
  /** The kind (1 read, 2 write) a waiter that retried successfully takes next, whatever the queue holds. */
  private pass = 0;
  /** Readers holding the lock by Sim.taskDepth of the holder. */
  private readonly readersAt = new Int32Array(MAX_TASK_DEPTH);
  private writerDepth = -1;

  constructor(
    private readonly sim: Sim,
    /** For messages: "mmap_lock of mm 3". */
    readonly name: string,
  ) {}

  get nrWaiters(): number {
    return this.waiters.length;
  }

  /** A reader would get the lock now (rwsem_read_trylock() and the slow path's lock stealing). */
  canRead(): boolean {
    if (this.writer) return false;
    if (this.pass === 1) return true;
    if (this.handoff) return false;
    return this.waiters.length === 0 || this.readers === 0;
  }

  /** A writer would get the lock now (rwsem_write_trylock()). */
  canWrite(): boolean {
    return !this.writer && this.readers === 0 && (!this.handoff || this.pass === 2);
  }

  /** Mirrors down_read_trylock(). */
  tryDownRead(): boolean {
    if (!this.canRead()) return false;
    this.takeRead();
    return true;
  }

  /** Mirrors down_write_trylock(). */
  tryDownWrite(): boolean {
    if (!this.canWrite()) return false;
    this.takeWrite();
    return true;
  }

  /** Mirrors down_read() (mmap_read_lock()) for a caller running synchronously. */
  downRead(): void {
    if (this.tryDownRead()) return;
    this.sleep(false);
  }

  /** Mirrors down_write() (mmap_write_lock()) for a caller running synchronously. */
  downWrite(): void {
    if (this.tryDownWrite()) return;
    this.sleep(true);
  }

  /** Mirrors up_read(). */
  upRead(): void {
    if (this.readers <= 0) throw new Error(`up_read(${this.name}): not held for read`);
    this.readers--;
    this.readersAt[this.sim.taskDepth]!--;
    if (this.readers === 0 && this.waiters.length > 0) this.wakeWaiters();
  }

  /** Mirrors up_write(). */
  upWrite(): void {
    if (!this.writer) throw new Error(`up_write(${this.name}): not held for write`);
    this.writer = false;
    this.writerDepth = -1;
    if (this.waiters.length > 0) this.wakeWaiters();
  }

  /** Mirrors downgrade_write(): the writer keeps the lock as a reader; queued readers may join it. */
  downgradeWrite(): void {
    if (!this.writer) throw new Error(`downgrade_write(${this.name}): not held for write`);
    this.writer = false;
    this.writerDepth = -1;
    this.takeRead();
    if (this.waiters.length > 0) this.wakeWaiters();
  }

  /**
   * Queue `wake` to run (as an event) once the lock may be free for this kind of waiter; it must retry
   * with {@link retryWaiter}. Used by a call that has not started yet, so it holds nothing while it waits.
   */
  waitFor(write: boolean, wake: () => void): void {
    this.waiters.push({ write, wake, since: this.sim.now, woken: false });
    this.contended++;
  }

  /**
   * A queued waiter retries: true when it may now take the lock (it leaves the queue, and its next
   * acquire of that kind succeeds whatever is queued; it must make it before anything else runs), false when it stays queued (setting the hand-off once it has waited
   * RWSEM_WAIT_TIMEOUT).
   */
  retryWaiter(wake: () => void): boolean {
    const i = this.waiters.findIndex((w) => w.wake === wake);
    if (i < 0) throw new Error(`${this.name}: a waiter retried that is not queued`);
    const w = this.waiters[i]!;
    w.woken = false;
    const first = i === 0;
    const free = w.write ? !this.writer && this.readers === 0 : !this.writer;
    if (free && (!this.handoff || first)) {
      this.waiters.splice(i, 1);
      if (first) this.handoff = false;
      this.pass = w.write ? 2 : 1;
      this.waitNs += this.sim.now - w.since;
      return true;
    }
    if (first && this.sim.now - w.since >= RWSEM_WAIT_TIMEOUT_NS) this.handoff = true;
    return false;
  }

  private takeRead(): void {
    this.pass = 0;
    this.readers++;
    this.readersAt[this.sim.taskDepth]!++;
  }

  private takeWrite(): void {
    this.pass = 0;
    this.writer = true;
    this.writerDepth = this.sim.taskDepth;
  }

  /** rwsem_mark_wake(): wake the first waiter, or every reader ahead of the first writer. */
  private wakeWaiters(): void {
    const ws = this.waiters;
    for (let i = 0; i < ws.length; i++) {
      const w = ws[i]!;
      if (w.write && i > 0) break;
      if (!w.woken) {
        w.woken = true;
        this.sim.schedule(0, w.wake);
      }
      if (w.write) break;
    }
  }

  /** A synchronous caller sleeps until it gets the lock; the holder must be able to run meanwhile. */
  private sleep(write: boolean): void {
    const depth = this.sim.taskDepth;
    const what = `${write ? "down_write" : "down_read"}(${this.name})`;
    let readersBelow = false;
    for (let d = 0; d < depth && !readersBelow; d++) readersBelow = this.readersAt[d]! > 0;
    if ((this.writer && this.writerDepth === depth) || (write && this.readersAt[depth]! > 0)) {
      throw new Error(`${what}: the caller already holds it (a self-deadlock)`);
    }
    // Held below by a writer, or by readers this caller must queue behind: only their return frees it.
    if ((this.writer && this.writerDepth < depth) || (readersBelow && (write || (!this.writer && !this.handoff)))) {
      throw new ConcurrencyModelError(`${what} would sleep until a call that started earlier and is itself sleeping releases it; ` +
        "the model runs a concurrent call to its end before the call it interrupted resumes, so it cannot run this interleaving");
    }
    const t0 = this.sim.now;
    this.contended++;
    this.sim.runUntil(write ? () => this.tryDownWrite() : () => this.tryDownRead(), undefined, what);
    this.waitNs += this.sim.now - t0;
  }
}
