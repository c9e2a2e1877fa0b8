/**
 * A thread that keeps reading or writing memory while the scenario goes on: each access is a
 * virtual-time event, so it runs in the middle of whatever kernel work is charging time (a migration in
 * flight). An access that meets a migration entry sleeps until the folio is unlocked and retries
 * (migration_entry_wait), as a real thread does; a writer stores an increasing counter so that lost
 * writes can be detected afterwards.
 */
import { folioWaitUnlock, PAGE_SIZE, PG, VM_FAULT, type Machine } from "@mmemu/mm-core";
import type { TaskStruct } from "@mmemu/move-pages";
import type { RwSemaphore } from "@mmemu/kernel";

export interface ActivityStats {
  /** Accesses that completed. */
  readonly accesses: number;
  /** Times an access met a migration entry and slept. */
  readonly migrationWaits: number;
  /** Times a fault found mmap_lock held by a writer and slept (mbind's migration in 6.1, munmap, ...). */
  readonly lockWaits: number;
  /** Accesses that failed (SIGSEGV, SIGBUS, ...). */
  readonly faults: number;
  /** Writes whose value is no longer in memory (0 for a reader). */
  readonly lostWrites: number;
}

/** Accesses left to all the threads of a run (limits.threadAccesses); `exhausted` once spent. */
export interface AccessBudget {
  left: number;
  exhausted: boolean;
}

export class Activity {
  accesses = 0;
  migrationWaits = 0;
  /** Times a fault found mmap_lock held by a writer and slept. */
  lockWaits = 0;
  faults = 0;
  private stopped = false;
  private next = 0;
  private seq = 0;
  private remaining: number;
  /** Page address -> the last value written there. */
  private readonly written = new Map<number, number>();
  private readonly word = new Uint8Array(4);
  private readonly wordView = new DataView(this.word.buffer);
  private readonly tick = () => this.access();

  constructor(
    private readonly m: Machine,
    readonly task: TaskStruct,
    readonly kind: "read" | "write",
    /** Page addresses visited in turn. */
    private readonly pages: readonly number[],
    readonly everyNs: number,
    count: number | undefined,
    /** Shared by the run's activities: when spent, each stops at its next access. */
    private readonly budget: AccessBudget = { left: Infinity, exhausted: false },
  ) {
    this.remaining = count ?? Infinity;
  }

  start(): void {
    this.m.sim.schedule(this.everyNs, this.tick);
  }

  stop(): ActivityStats {
    this.stopped = true;
    return this.stats();
  }

  stats(): ActivityStats {
    return { accesses: this.accesses, migrationWaits: this.migrationWaits, lockWaits: this.lockWaits, faults: this.faults, lostWrites: this.lostWrites() };
  }

  /** Writes whose value is not what memory holds now. */
  lostWrites(): number {
    const mm = this.task.mm;
    if (mm === null) return 0;
    let lost = 0;
    for (const [page, value] of this.written) {
      const pfn = this.m.memory.translate(mm, page);
      if (pfn < 0) {
        lost++;
        continue;
      }
      const got = new DataView(this.m.mem.read(pfn * PAGE_SIZE, 4).buffer).getUint32(0, true);
      if (got !== value) lost++;
    }
    return lost;
  }

  /** Sleep in mmap_read_lock() (as a queued waiter: an event cannot sleep), then access again. */
  private waitLock(lock: RwSemaphore): void {
    const wake = (): void => {
      if (lock.retryWaiter(wake)) this.access();
    };
    lock.waitFor(false, wake);
  }

  private access(): void {
    if (this.stopped || this.remaining <= 0 || this.task.mm === null) return;
    if (this.budget.left <= 0) {
      this.budget.exhausted = true;
      this.stopped = true;
      return;
    }
    this.budget.left--;
    const m = this.m;
    const page = this.pages[this.next % this.pages.length]!;
    const write = this.kind === "write";
    const prev = m.current;
    m.current = this.task.ctx;
    let r: number;
    try {
      r = m.memory.userAccessFrame(this.task.ctx, page, write);
    } finally {
      m.current = prev;
    }
    if (r === VM_FAULT.LOCK_WAIT) {
      this.lockWaits++;
      this.waitLock(m.memory.faultWaitLock!);
      return;
    }
    if (r === VM_FAULT.MIGRATION_WAIT) {
      this.migrationWaits++;
      const folio = m.folios.folioOf(m.memory.faultWaitPfn);
      if (m.folios.test(folio, PG.locked)) folioWaitUnlock(m, folio, this.tick);
      else m.sim.schedule(0, this.tick);
      return;
    }
    this.next++;
    this.remaining--;
    if (r < 0) this.faults++;
    else {
      this.accesses++;
      if (write) {
        this.seq = (this.seq + 1) >>> 0;
        this.wordView.setUint32(0, this.seq, true);
        m.mem.write(r * PAGE_SIZE, this.word);
        this.written.set(page, this.seq);
      }
    }
    if (this.remaining > 0) m.sim.schedule(this.everyNs, this.tick);
  }
}
