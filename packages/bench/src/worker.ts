/**
 * Worker-pool task: run one point on a profile. Profiles cross the thread boundary as their file form
 * and are validated again here, so a worker never runs on unchecked data.
 */
import { BUILTIN_SCHEMA } from "@mmemu/components";
import { resolveProfile, type ProfileFile } from "@mmemu/timing";
import { runPoint, type PointResult, type PointSpec, type WorkloadOptions } from "./workload.js";

export interface PointTask {
  readonly profile: ProfileFile;
  readonly spec: PointSpec;
  readonly opts: WorkloadOptions;
}

export default function runPointTask(task: PointTask): PointResult & { peakRssMB: number } {
  const r = runPoint(resolveProfile(task.profile, BUILTIN_SCHEMA), task.spec, task.opts);
  return { ...r, peakRssMB: process.memoryUsage().rss / 2 ** 20 };
}
