/**
 * Worker-pool task: run one point on a profile with a set of components. Profiles cross the thread
 * boundary as their file form and components as their selection (built-in names and absolute plug-in
 * paths): the worker loads the same modules (once per selection) and validates the profile again
 * against their schema, so a worker never runs on unchecked data.
 */
import { loadComponents, type ComponentSelection, type Components } from "@mmemu/components";
import { resolveProfile, type ProfileFile } from "@mmemu/timing";
import { runPoint, type PointResult, type PointSpec, type WorkloadOptions } from "./workload.js";

export interface PointTask {
  readonly profile: ProfileFile;
  readonly spec: PointSpec;
  readonly opts: WorkloadOptions;
  readonly components: ComponentSelection;
}

/** This thread's loaded component sets, by selection. */
const loaded = new Map<string, Promise<Components>>();

export default async function runPointTask(task: PointTask): Promise<PointResult & { peakRssMB: number }> {
  const key = JSON.stringify(task.components);
  let c = loaded.get(key);
  if (c === undefined) loaded.set(key, (c = loadComponents(task.components)));
  const components = await c;
  const r = runPoint(resolveProfile(task.profile, components.schema), task.spec, task.opts, components);
  return { ...r, peakRssMB: process.memoryUsage().rss / 2 ** 20 };
}
