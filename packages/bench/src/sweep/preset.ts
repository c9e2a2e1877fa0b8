/**
 * Preset sweeps: commands with a fixed design space (tune-batch, bench predict) build a sweep of
 * explicit points from PointSpecs and run it like any other, so they get the cache, the queue and
 * the same identities as a spec file describing the same points.
 */
import type { PointSpec } from "../workload.js";
import type { SweepRunResult } from "./run.js";
import { validateSweep, type FigureName, type Sweep } from "./spec.js";

export interface PresetOptions {
  /** Profile name or file. */
  readonly profile: string;
  /** Profile parameters by "section.name" (the --set options). */
  readonly set?: Readonly<Record<string, number>>;
  readonly seed?: number;
  /** --migrator (the offload points' migrator; default dcbm) and --engine (repeatable; default every built-in). */
  readonly components?: { readonly migrator?: string; readonly engine?: readonly string[] };
  /** --strict-offload. */
  readonly strictOffload?: boolean;
}

/** The spec fields of a PointSpec. */
export function fieldsOfSpec(s: PointSpec, migrator = "dcbm"): Record<string, string | number> {
  return {
    migrator: s.config === "vanilla" ? "vanilla" : migrator,
    ...(s.channels !== null ? { channels: s.channels } : {}),
    folio_size: s.folioSize,
    amount: s.totalBytes,
    ...(s.perCall !== undefined ? { per_call: s.perCall } : {}),
    batch_pages: s.batchPages ?? 512,
  };
}

/** A validated sweep of the given points, in order. */
export function presetSweep(name: string, description: string, specs: readonly PointSpec[], o: PresetOptions, figures: readonly FigureName[] = ["GBps", "first_us"]): Sweep {
  const set = o.set ?? {};
  const sweep = validateSweep({
    version: 1, name, description,
    base: {
      profile: o.profile, seed: o.seed ?? 1, ...(Object.keys(set).length > 0 ? { set } : {}),
      ...(o.components?.engine !== undefined ? { engine: o.components.engine.join("+") } : {}),
    },
    points: specs.map((s) => fieldsOfSpec(s, o.components?.migrator)),
    figures,
  }, `<${name}>`);
  return o.strictOffload === true ? { ...sweep, strictOffload: true } : sweep;
}

/** Throughput and first-folio latency per point, in point order (NaN where a point has none). */
export function throughputAndLatency(run: SweepRunResult): Array<{ GBps: number; firstUs: number; fallback: Readonly<Record<string, number>>; strictFailures: readonly string[] }> {
  const f = run.failed[0];
  if (f !== undefined) throw new Error(`point ${f.point.point.index} failed: ${f.error}`);
  return run.records.map((r, i) => {
    const out = run.outcomes[i];
    if (r === null || out === null || out === undefined) throw new Error("the sweep was stopped before every point ran");
    const f = r.figures as { GBps: number; first_us: number | null };
    return { GBps: f.GBps, firstUs: f.first_us ?? NaN, fallback: out.fallback, strictFailures: out.strictFailures };
  });
}
