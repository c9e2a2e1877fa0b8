/**
 * Running a sweep: points already in the cache are taken from it, the rest go to the engine (each
 * distinct input once), every outcome is cached as it arrives, and the records come out in point
 * order. An interrupted sweep (killed, aborted, or stopped by a limit) resumes from the cache: only
 * the points without a cached outcome run again, and the records equal an uninterrupted run's.
 */
import type { PointCache, PointOutcome } from "./cache.js";
import type { PointEngine } from "./engine.js";
import { mmemuVersion } from "./identity.js";
import type { ResolvedPoint } from "./resolve.js";
import type { FigureName, PointFields, Sweep } from "./spec.js";

/** One JSON-lines record: a point, its input and the figures the sweep asked for. */
export interface SweepRecord {
  readonly sweep: string;
  readonly point: number;
  readonly hash: string;
  readonly axes: Readonly<Record<string, string | number>>;
  readonly input: PointFields;
  readonly figures: Readonly<Record<string, unknown>>;
}

export interface SweepRunOptions {
  readonly engine: PointEngine;
  readonly cache: PointCache | null;
  /** Run at most this many points not in the cache, then stop (resume later). */
  readonly limit?: number;
  readonly signal?: AbortSignal;
  /** Called as points finish: finished and total of those to run. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface SweepRunResult {
  /** One per point in point order; null where the point has no outcome (failed or not run). */
  readonly records: ReadonlyArray<SweepRecord | null>;
  /** Each point's whole outcome (fallbacks included), in point order; null where it has none. */
  readonly outcomes: ReadonlyArray<PointOutcome | null>;
  /** Distinct inputs taken from the cache, run, failed, and left for a later run. */
  readonly cached: number;
  readonly ran: number;
  readonly failed: ReadonlyArray<{ readonly point: ResolvedPoint; readonly error: string }>;
  readonly remaining: number;
  readonly wallMs: number;
}

/** The figures a sweep asked for, from an outcome. */
export function figuresOf(o: PointOutcome, wanted: readonly FigureName[]): Record<string, unknown> {
  const all: Record<FigureName, unknown> = {
    GBps: o.GBps, first_us: o.firstUs, virtual_ms: o.virtualNs / 1e6, calls: o.calls, batches: o.batches, folios: o.folios,
    cost: o.detail.cost, counters: o.detail.counters,
  };
  return Object.fromEntries(wanted.map((f) => [f, all[f]]));
}

export async function runSweep(sweep: Sweep, points: readonly ResolvedPoint[], o: SweepRunOptions): Promise<SweepRunResult> {
  const t0 = performance.now();
  const version = mmemuVersion();
  const outcomes = new Map<string, PointOutcome>();
  const toRun: ResolvedPoint[] = [];
  const seen = new Set<string>();
  for (const p of points) {
    if (seen.has(p.hash)) continue;
    seen.add(p.hash);
    const c = o.cache?.get(p.hash) ?? null;
    if (c !== null) outcomes.set(p.hash, c);
    else toRun.push(p);
  }
  const cached = outcomes.size;
  const batch = o.limit !== undefined ? toRun.slice(0, o.limit) : toRun;
  const failed: Array<{ point: ResolvedPoint; error: string }> = [];
  let done = 0;
  o.onProgress?.(0, batch.length);
  await o.engine.run(batch, (p, end) => {
    if (end.ok) {
      outcomes.set(p.hash, end.outcome);
      o.cache?.put(p.hash, version, end.outcome);
    } else {
      failed.push({ point: p, error: end.error });
    }
    o.onProgress?.(++done, batch.length);
  }, o.signal);
  failed.sort((a, b) => a.point.point.index - b.point.point.index);
  const records = points.map((p): SweepRecord | null => {
    const out = outcomes.get(p.hash);
    if (out === undefined) return null;
    return { sweep: sweep.name, point: p.point.index, hash: p.hash, axes: p.point.axes, input: p.point.fields, figures: figuresOf(out, sweep.figures) };
  });
  const ran = outcomes.size - cached;
  return { records, outcomes: points.map((p) => outcomes.get(p.hash) ?? null), cached, ran, failed, remaining: toRun.length - ran - failed.length, wallMs: performance.now() - t0 };
}
