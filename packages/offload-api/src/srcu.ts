import type { Sim } from "@mmemu/kernel";

/**
 * Sleepable RCU, after kernel/rcu/srcutree.c, reduced to what the copy-offload core needs: readers
 * (srcu_read_lock()/srcu_read_unlock() around a batch copy, which may sleep for the whole DMA
 * transfer in virtual time) and grace periods that wait only for readers that began before them.
 *
 * Each reader gets an increasing ticket; a grace period started when the next ticket was `s` ends
 * once no reader with a ticket below `s` is left. That is SRCU's guarantee (pre-existing readers
 * finish) without its two-counter flip, which exists only to make the kernel's version lock-free.
 */
export class SrcuStruct {
  /** Readers inside a read-side section now. */
  private readonly active = new Set<number>();
  private nextTicket = 0;
  /** Grace periods waiting: the ticket bound and what to run when it has passed. */
  private readonly waiters: Array<{ bound: number; fn: () => void }> = [];
  /** Grace periods completed. */
  completedGps = 0;

  constructor(
    private readonly sim: Sim,
    readonly name: string,
  ) {}

  /** Readers inside a read-side section now. */
  get readers(): number {
    return this.active.size;
  }

  /** Mirrors srcu_read_lock(): returns the index to hand to {@link readUnlock}. */
  readLock(): number {
    const t = this.nextTicket++;
    this.active.add(t);
    return t;
  }

  /** Mirrors srcu_read_unlock(). */
  readUnlock(idx: number): void {
    if (!this.active.delete(idx)) throw new Error(`srcu_read_unlock(${this.name}): index ${idx} is not a live reader`);
    if (this.waiters.length > 0) this.wakeWaiters();
  }

  private oldestReader(): number {
    let min = Infinity;
    for (const t of this.active) if (t < min) min = t;
    return min;
  }

  private wakeWaiters(): void {
    const oldest = this.oldestReader();
    for (let i = 0; i < this.waiters.length; ) {
      const w = this.waiters[i]!;
      if (oldest >= w.bound) {
        this.waiters.splice(i, 1);
        this.completedGps++;
        this.sim.schedule(0, w.fn);
      } else i++;
    }
  }

  /** Whether every reader that started before ticket `bound` has left. */
  private passed(bound: number): boolean {
    return this.oldestReader() >= bound;
  }

  /**
   * Mirrors call_srcu(): run `fn` (as an event) once every reader that is inside a read-side section
   * now has left. Usable from any context.
   */
  callSrcu(fn: () => void): void {
    const bound = this.nextTicket;
    if (this.passed(bound)) {
      this.completedGps++;
      this.sim.schedule(0, fn);
      return;
    }
    this.waiters.push({ bound, fn });
  }

  /**
   * Mirrors synchronize_srcu(): sleep in virtual time until every pre-existing reader has left. Only a
   * task may sleep: called from an event (an interrupt or another emulated thread's callback) while
   * readers exist, it throws — such callers use {@link callSrcu}. Called by a reader of the same
   * SRCU domain it would wait for itself, which the kernel deadlocks on and mmemu reports loudly.
   */
  synchronize(): void {
    const bound = this.nextTicket;
    if (this.passed(bound)) {
      this.completedGps++;
      return;
    }
    if (this.sim.inEvent) throw new Error(`synchronize_srcu(${this.name}) from an event with ${this.active.size} reader(s) inside: it would sleep; use callSrcu()`);
    this.sim.runUntil(() => this.passed(bound), undefined, `synchronize_srcu(${this.name})`);
    this.completedGps++;
  }
}
