/**
 * Worker-pool task: run one point on a profile. Profiles cross the thread boundary as their file form
 * and are validated again here, so a worker never runs on unchecked data.
 */
import { BUILTIN_SCHEMA } from "@mmemu/components";
import { resolveProfile, type ProfileFile } from "@mmemu/timing";
import { preparePoint, runPrepared, type PointResult, type PointSpec, type WorkloadOptions } from "./workload.js";

export interface PointTask {
  readonly profile: ProfileFile;
  readonly spec: PointSpec;
  readonly opts: WorkloadOptions;
  /** Also return where the virtual time went and the run's counters (sweeps ask for them). */
  readonly detail?: boolean;
}

/** Where a run's virtual time went and what it counted. */
export interface PointDetail {
  /** Charged cost kinds: units charged and virtual ns. */
  readonly cost: Record<string, { units: number; ns: number }>;
  /** vm events (pgmigrate_success, ...) and the batch migrator's counters, prefixed by its name. */
  readonly counters: Record<string, number>;
}

export type PointTaskResult = PointResult & { peakRssMB: number; detail?: PointDetail };

export default function runPointTask(task: PointTask): PointTaskResult {
  const pp = preparePoint(resolveProfile(task.profile, BUILTIN_SCHEMA), task.spec, task.opts);
  const r = runPrepared(pp, task.spec);
  const out = { ...r, peakRssMB: process.memoryUsage().rss / 2 ** 20 };
  if (task.detail !== true) return out;
  const cost: PointDetail["cost"] = {};
  for (const l of pp.em.timing.breakdown()) cost[l.kind] = { units: l.units, ns: l.ns };
  const counters: Record<string, number> = { ...pp.m.vmEvents };
  if (pp.offload !== null) {
    for (const [k, v] of Object.entries(pp.offload.stats)) if (typeof v === "number") counters[`${task.spec.config}.${k}`] = v;
  }
  return { ...out, detail: { cost, counters } };
}
