/**
 * Where a sweep's points run. An engine takes tasks and reports each one's outcome as it finishes;
 * the sweep runner (run.ts) decides what to run (cache, limits) and keeps the records in point order,
 * so output does not depend on the engine or on finishing order.
 *  - LocalEngine: the piscina worker pool of this process (one thread per core by default).
 *  - QueueEngine (queue.ts): BullMQ jobs on Redis, run by `mmemu worker` processes on any machine.
 */
import { BUILTIN_COMPONENTS, type Components } from "@mmemu/components";
import { profileToFile, type HardwareProfile } from "@mmemu/timing";
import { PointPool, weight } from "../pool.js";
import type { PointSpec, WorkloadOptions } from "../workload.js";
import type { PointTask } from "../worker.js";
import { outcomeOf, type PointOutcome } from "./cache.js";
import { pointHash } from "./resolve.js";

/** A point as an engine sees it: what to run, its identity, and its place in the submitter's order. */
export interface EngineTask {
  readonly hash: string;
  readonly task: PointTask & { readonly detail: true };
  readonly order: number;
}

/** One point's end: its outcome, or why it failed (after the engine's retries). */
export type PointEnd = { readonly ok: true; readonly outcome: PointOutcome } | { readonly ok: false; readonly error: string };

export interface PointEngine {
  /** "2 local threads", "queue redis://host:6379 (mmemu-points)". */
  readonly description: string;
  /** Run the points, calling `onEnd` once per point; stops submitting when `signal` aborts. */
  run<T extends EngineTask>(points: readonly T[], onEnd: (p: T, end: PointEnd) => void, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** Longest first keeps every worker busy to the end (the same order as the pool's runAll). */
export function longestFirst<T extends EngineTask>(points: readonly T[]): T[] {
  return [...points].sort((a, b) => weight(b.task.spec) - weight(a.task.spec) || a.order - b.order);
}

export class LocalEngine implements PointEngine {
  private readonly pool: PointPool;

  constructor(threads?: number) {
    this.pool = new PointPool(threads);
  }

  get description(): string {
    return `${this.pool.size} local thread${this.pool.size === 1 ? "" : "s"}`;
  }

  async run<T extends EngineTask>(points: readonly T[], onEnd: (p: T, end: PointEnd) => void, signal?: AbortSignal): Promise<void> {
    const queue = longestFirst(points);
    // Keep each thread busy with one task in hand, so an abort leaves little submitted work behind.
    const inFlight = this.pool.size * 2;
    let next = 0;
    const lane = async () => {
      while (next < queue.length && signal?.aborted !== true) {
        const p = queue[next++]!;
        let end: PointEnd;
        try {
          end = { ok: true, outcome: outcomeOf(await this.pool.run(p.task)) };
        } catch (e) {
          end = { ok: false, error: (e as Error).message };
        }
        onEnd(p, end);
      }
    };
    await Promise.all(Array.from({ length: Math.min(inFlight, queue.length) }, lane));
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/**
 * The pool interface calibration uses (runAll of specs on one profile), on any engine: `calibrate
 * --queue` evaluates its points on queue workers this way. Results come back in spec order; a
 * failed point fails the call.
 */
export class EngineRunner {
  /** `components`: what every point runs with (calibrate's --migrator/--engine). */
  constructor(readonly engine: PointEngine, readonly components: Components = BUILTIN_COMPONENTS) {}

  async runAll(profile: HardwareProfile, specs: readonly PointSpec[], opts: WorkloadOptions = {}): Promise<Array<{ GBps: number; firstUs: number }>> {
    const file = profileToFile(profile);
    const sel = this.components.selection;
    const tasks = specs.map((spec, order): EngineTask => ({ hash: pointHash(file, spec, opts, sel), task: { profile: file, spec, opts, components: sel, detail: true }, order }));
    const out = new Array<{ GBps: number; firstUs: number }>(specs.length);
    let failure: string | null = null;
    await this.engine.run(tasks, (t, end) => {
      if (end.ok) out[t.order] = { GBps: end.outcome.GBps, firstUs: end.outcome.firstUs ?? NaN };
      else failure ??= `point ${t.order} (${t.task.spec.config} ${t.task.spec.folioSize}): ${end.error}`;
    });
    if (failure !== null) throw new Error(failure);
    return out;
  }
}
