/**
 * Worker-pool task: run one point on a profile with a set of components. Profiles cross the thread
 * boundary as their file form and components as their selection (built-in names and absolute plug-in
 * paths): the worker loads the same modules (once per selection) and validates the profile again
 * against their schema, so a worker never runs on unchecked data.
 */
import { loadComponents, type ComponentSelection, type Components } from "@mmemu/components";
import { migrateOffloadOf } from "@mmemu/offload-api";
import { resolveProfile, type ProfileFile } from "@mmemu/timing";
import { preparePoint, runPrepared, type PointResult, type PointSpec, type WorkloadOptions } from "./workload.js";

export interface PointTask {
  readonly profile: ProfileFile;
  readonly spec: PointSpec;
  readonly opts: WorkloadOptions;
  readonly components: ComponentSelection;
  /** Also return where the virtual time went and the run's counters (sweeps ask for them). */
  readonly detail?: boolean;
}

/** Where a run's virtual time went and what it counted. */
export interface PointDetail {
  /** Charged cost kinds: units charged and virtual ns. */
  readonly cost: Record<string, { units: number; ns: number }>;
  /** vm events (pgmigrate_success, ...) and the offload core's counters of the batch copies (offload.*). */
  readonly counters: Record<string, number>;
}

export type PointTaskResult = PointResult & { peakRssMB: number; detail?: PointDetail };

/** This thread's loaded component sets, by selection. */
const loaded = new Map<string, Promise<Components>>();

export default async function runPointTask(task: PointTask): Promise<PointTaskResult> {
  const key = JSON.stringify(task.components);
  let c = loaded.get(key);
  if (c === undefined) loaded.set(key, (c = loadComponents(task.components)));
  const components = await c;
  const pp = preparePoint(resolveProfile(task.profile, components.schema), task.spec, task.opts, components);
  const r = runPrepared(pp, task.spec);
  const out = { ...r, peakRssMB: process.memoryUsage().rss / 2 ** 20 };
  if (task.detail !== true) return out;
  const cost: PointDetail["cost"] = {};
  for (const l of pp.em.timing.breakdown()) cost[l.kind] = { units: l.units, ns: l.ns };
  const counters: Record<string, number> = { ...pp.m.vmEvents };
  const offload = migrateOffloadOf(pp.m);
  // Numbers only: fallbackFolios (by cause) travels in the result's own `fallback` field.
  if (offload !== null) for (const [k, v] of Object.entries(offload.stats)) if (typeof v === "number") counters[`offload.${k}`] = v;
  return { ...out, detail: { cost, counters } };
}
