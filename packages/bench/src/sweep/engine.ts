/**
 * Where a sweep's points run. An engine takes tasks and reports each one's outcome as it finishes;
 * the sweep runner (run.ts) decides what to run (cache, limits) and keeps the records in point order,
 * so output does not depend on the engine or on finishing order.
 *  - LocalEngine: the piscina worker pool of this process (one thread per core by default).
 *  - QueueEngine (queue.ts): BullMQ jobs on Redis, run by `mmemu worker` processes on any machine.
 */
import { PointPool, weight } from "../pool.js";
import { outcomeOf, type PointOutcome } from "./cache.js";
import type { ResolvedPoint } from "./resolve.js";

/** One point's end: its outcome, or why it failed (after the engine's retries). */
export type PointEnd = { readonly ok: true; readonly outcome: PointOutcome } | { readonly ok: false; readonly error: string };

export interface PointEngine {
  /** "2 local threads", "queue redis://host:6379 (mmemu-points)". */
  readonly description: string;
  /** Run the points, calling `onEnd` once per point; stops submitting when `signal` aborts. */
  run(points: readonly ResolvedPoint[], onEnd: (p: ResolvedPoint, end: PointEnd) => void, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** Longest first keeps every worker busy to the end (the same order as the pool's runAll). */
export function longestFirst(points: readonly ResolvedPoint[]): ResolvedPoint[] {
  return [...points].sort((a, b) => weight(b.task.spec) - weight(a.task.spec) || a.point.index - b.point.index);
}

export class LocalEngine implements PointEngine {
  private readonly pool: PointPool;

  constructor(threads?: number) {
    this.pool = new PointPool(threads);
  }

  get description(): string {
    return `${this.pool.size} local thread${this.pool.size === 1 ? "" : "s"}`;
  }

  async run(points: readonly ResolvedPoint[], onEnd: (p: ResolvedPoint, end: PointEnd) => void, signal?: AbortSignal): Promise<void> {
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
