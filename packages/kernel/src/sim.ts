/**
 * Virtual time and the event queue: the whole scheduler is a heap of (time, sequence, callback),
 * after SimPy's core. Time is an integer number of nanoseconds (a JS number is exact up to 2^53 ns,
 * about 104 days). Ties are broken first-in-first-out by the sequence number, so runs are deterministic.
 *
 * Kernel code in mmemu is written synchronously, as the kernel's is. A task that does CPU work calls
 * {@link Sim.advance}: device events that fall inside that work run at their own times, then the clock
 * stands at the end of the work. A task that sleeps (wait_for_completion) calls {@link Sim.runUntil},
 * which runs events until its condition holds. An event that nobody handles correctly throws, and the
 * error stops the run loudly instead of being swallowed.
 */

import { NR_PHASES } from "./cost.js";

/** A scheduled callback. `arg` avoids allocating a closure per event on hot paths. */
export type EventFn = (arg: any) => void;

/** Nesting limit of concurrent calls one above another ({@link Sim.taskDepth}). */
export const MAX_TASK_DEPTH = 64;

export class DeadlockError extends Error {
  constructor(what: string, now: number) {
    super(`${what}: nothing is scheduled that could wake the waiter (virtual time ${now} ns)`);
    this.name = "DeadlockError";
  }
}

export class Sim {
  /** Current virtual time in integer nanoseconds. */
  now = 0;
  // Heap kept in parallel arrays (no object per event on the hot path).
  private times: number[] = [];
  private seqs: number[] = [];
  private fns: EventFn[] = [];
  private args: unknown[] = [];
  private nextSeq = 0;
  private cancelled: Set<number> | null = null;
  private dispatching = false;
  /** Events run since creation (for benchmarks). */
  eventsRun = 0;
  /** The phase (Phase in cost.ts) the running task's time belongs to; charges set it. */
  phase = 0;
  /** Virtual ns attributed to each phase since creation; their sum is always `now`. */
  readonly phaseNs: Float64Array = new Float64Array(NR_PHASES);
  /**
   * How many concurrent calls run one above another on the JS stack (0: the scenario's own thread or
   * any top-level caller). {@link runTask} raises it; locks use it to tell a holder below from one above.
   */
  taskDepth = 0;
  /**
   * Virtual ns by which tasks resumed after their work should have ended, because a concurrent call that
   * interrupted them ran past it (0 without concurrent calls).
   */
  lateNs = 0;
  /** Called with (phase, from, to) whenever the clock moves, while a trace wants phase slices. */
  phaseProbe: ((phase: number, from: number, to: number) => void) | null = null;

  /** Number of events waiting. */
  get pending(): number {
    return this.times.length;
  }

  /** Time of the earliest pending event, or Infinity. */
  peekTime(): number {
    return this.times.length > 0 ? this.times[0]! : Infinity;
  }

  /** Schedule `fn(arg)` after `delay` ns (rounded to an integer, at least 0). Returns an id for {@link cancel}. */
  schedule(delay: number, fn: EventFn, arg?: unknown): number {
    if (!(delay >= 0)) throw new RangeError(`Sim.schedule: delay must be >= 0 ns, got ${delay}`);
    return this.push(this.now + Math.round(delay), fn, arg);
  }

  /** Schedule `fn(arg)` at absolute time `time` (not before now). */
  scheduleAt(time: number, fn: EventFn, arg?: unknown): number {
    const t = Math.round(time);
    if (!(t >= this.now)) throw new RangeError(`Sim.scheduleAt: time ${time} is in the past (now ${this.now})`);
    return this.push(t, fn, arg);
  }

  /** Cancel a scheduled event; a no-op if it already ran. */
  cancel(id: number): void {
    (this.cancelled ??= new Set()).add(id);
  }

  /**
   * The running task does `ns` of work: events due before the work ends run at their times, then the
   * clock stands at the end. Called from task context only; an event handler schedules instead.
   */
  advance(ns: number): void {
    if (ns <= 0) return;
    const target = this.now + Math.round(ns);
    if (this.times.length === 0 || this.times[0]! > target) {
      this.moveTo(target);
      return;
    }
    this.runEventsUntil(target);
    // A concurrent call run from an event (runTask) may end past the work's end: the model resumes this
    // task only then, so it is late by the difference.
    if (this.now > target) this.lateNs += this.now - target;
    this.moveTo(target);
  }

  /** Set the clock forward to `t`, attributing the interval to the current phase. */
  private moveTo(t: number): void {
    const from = this.now;
    if (t <= from) return;
    this.phaseNs[this.phase]! += t - from;
    this.now = t;
    if (this.phaseProbe !== null) this.phaseProbe(this.phase, from, t);
  }

  /**
   * Sleep until `cond()` holds, running events in order. With `timeoutNs`, give up at that deadline and
   * return false. Throws {@link DeadlockError} if the queue empties with the condition still false and no
   * timeout: a sleeper nobody can wake is a bug in the model.
   */
  runUntil(cond: () => boolean, timeoutNs?: number, what = "wait"): boolean {
    const deadline = timeoutNs === undefined ? Infinity : this.now + Math.round(timeoutNs);
    while (!cond()) {
      if (this.times.length === 0 || this.times[0]! > deadline) {
        if (deadline === Infinity) throw new DeadlockError(what, this.now);
        if (this.now > deadline) this.lateNs += this.now - deadline;
        this.moveTo(deadline);
        return false;
      }
      this.step();
    }
    return true;
  }

  /** Run every event up to and including time `until` (default: until the queue is empty). */
  run(until = Infinity): void {
    while (this.times.length > 0 && this.times[0]! <= until) this.step();
    if (until !== Infinity && this.now > until) this.lateNs += this.now - until;
    if (until !== Infinity && until > this.now) this.moveTo(until);
  }

  /** Run the earliest event. Returns false if there was none. */
  step(): boolean {
    if (this.times.length === 0) return false;
    const t = this.times[0]!;
    const seq = this.seqs[0]!;
    const fn = this.fns[0]!;
    const arg = this.args[0];
    this.pop();
    if (this.cancelled !== null && this.cancelled.delete(seq)) return true;
    if (t > this.now) this.moveTo(t);
    this.eventsRun++;
    const outer = this.dispatching;
    this.dispatching = true;
    try {
      fn(arg);
    } finally {
      this.dispatching = outer;
    }
    return true;
  }

  /**
   * Run `fn(arg)` as a task, from an event: a concurrent call that starts while another task sleeps. It
   * may charge time and sleep (its events run nested); the interrupted task resumes when it returns.
   */
  runTask<A, R>(fn: (arg: A) => R, arg: A): R {
    if (this.taskDepth + 1 >= MAX_TASK_DEPTH) throw new RangeError(`Sim.runTask: more than ${MAX_TASK_DEPTH - 1} concurrent calls nested in one another`);
    const outer = this.dispatching;
    this.dispatching = false;
    this.taskDepth++;
    try {
      return fn(arg);
    } finally {
      this.taskDepth--;
      this.dispatching = outer;
    }
  }

  /** True while an event handler runs (interrupt-like context: it must not sleep). */
  get inEvent(): boolean {
    return this.dispatching;
  }

  private runEventsUntil(target: number): void {
    while (this.times.length > 0 && this.times[0]! <= target) this.step();
  }

  private push(t: number, fn: EventFn, arg: unknown): number {
    const seq = this.nextSeq++;
    const times = this.times;
    let i = times.length;
    times.push(t);
    this.seqs.push(seq);
    this.fns.push(fn);
    this.args.push(arg);
    // sift up
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.less(p, i)) break;
      this.swap(i, p);
      i = p;
    }
    return seq;
  }

  private pop(): void {
    const last = this.times.length - 1;
    if (last > 0) this.swap(0, last);
    this.times.pop();
    this.seqs.pop();
    this.fns.pop();
    this.args.pop();
    const n = this.times.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.less(r, l) ? r : l;
      if (this.less(i, c)) break;
      this.swap(i, c);
      i = c;
    }
  }

  private less(a: number, b: number): boolean {
    const ta = this.times[a]!;
    const tb = this.times[b]!;
    return ta < tb || (ta === tb && this.seqs[a]! < this.seqs[b]!);
  }

  private swap(a: number, b: number): void {
    const t = this.times[a]!;
    this.times[a] = this.times[b]!;
    this.times[b] = t;
    const s = this.seqs[a]!;
    this.seqs[a] = this.seqs[b]!;
    this.seqs[b] = s;
    const f = this.fns[a]!;
    this.fns[a] = this.fns[b]!;
    this.fns[b] = f;
    const g = this.args[a];
    this.args[a] = this.args[b];
    this.args[b] = g;
  }
}
