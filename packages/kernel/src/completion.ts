import type { Sim } from "./sim.js";

/**
 * Mirrors struct completion (include/linux/completion.h, kernel/sched/completion.c): a one-shot (or
 * counting) event a task can sleep on in virtual time while device events run.
 */
export class Completion {
  /** Number of complete() calls not yet consumed by a waiter. */
  done = 0;
  private readonly sim: Sim;

  constructor(sim: Sim) {
    this.sim = sim;
  }

  /** Mirrors complete(): callable from event (interrupt) context. */
  complete(): void {
    this.done++;
  }

  /** Mirrors complete_all(). */
  completeAll(): void {
    this.done = Number.MAX_SAFE_INTEGER;
  }

  /** Mirrors reinit_completion(). */
  reinit(): void {
    this.done = 0;
  }

  /** Mirrors try_wait_for_completion(). */
  tryWait(): boolean {
    if (this.done === 0) return false;
    if (this.done !== Number.MAX_SAFE_INTEGER) this.done--;
    return true;
  }

  /** Mirrors wait_for_completion(): sleeps in virtual time; throws DeadlockError if nothing can complete it. */
  wait(): void {
    this.sim.runUntil(() => this.done > 0, undefined, "wait_for_completion");
    if (this.done !== Number.MAX_SAFE_INTEGER) this.done--;
  }

  /**
   * Mirrors wait_for_completion_timeout(): returns the virtual nanoseconds left before the timeout
   * (at least 1) on completion, or 0 if it timed out.
   */
  waitTimeout(timeoutNs: number): number {
    const start = this.sim.now;
    const ok = this.sim.runUntil(() => this.done > 0, timeoutNs, "wait_for_completion_timeout");
    if (!ok) return 0;
    if (this.done !== Number.MAX_SAFE_INTEGER) this.done--;
    return Math.max(1, timeoutNs - (this.sim.now - start));
  }
}

/**
 * Mirrors wait_queue_head_t (include/linux/wait.h) for callback-style waiters: emulated threads that
 * block (on a folio lock, a migration entry) register a wake function; wake_up_all() schedules each at
 * the current time, in the order they queued.
 */
export class WaitQueue {
  private waiters: Array<() => void> = [];
  private readonly sim: Sim;

  constructor(sim: Sim) {
    this.sim = sim;
  }

  get length(): number {
    return this.waiters.length;
  }

  /** Add a waiter; it runs once, at the next wake_up_all(). */
  add(wake: () => void): void {
    this.waiters.push(wake);
  }

  /** Mirrors wake_up_all(): every waiter runs as an event at the current time. */
  wakeUpAll(): void {
    if (this.waiters.length === 0) return;
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) this.sim.schedule(0, w);
  }
}
