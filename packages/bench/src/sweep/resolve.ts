/**
 * From a sweep's points to runnable tasks: each point's profile loaded (by name or file), its `set`
 * parameters applied and its engine choice made, its workload as a PointSpec, and its identity hash.
 * Points that resolve to the same input (vanilla points on a channels axis, say) share one hash and
 * run once.
 */
import { dirname, resolve } from "node:path";
import { BUILTIN_SCHEMA } from "@mmemu/components";
import { deriveProfile, loadProfile, profileToFile, withParams, type HardwareProfile, type ProfileFile } from "@mmemu/timing";
import type { PointSpec, WorkloadOptions } from "../workload.js";
import type { EngineTask } from "./engine.js";
import { canonicalJson, mmemuVersion, sha256 } from "./identity.js";
import { describeAxes, SweepSpecError, type Sweep, type SweepPoint } from "./spec.js";

/** A point ready to run (`order` is the point's index). */
export interface ResolvedPoint extends EngineTask {
  readonly point: SweepPoint;
}

/** The identity of a run of `spec` with `opts` on a profile (its file form), by this mmemu build. */
export function pointHash(profile: ProfileFile, spec: PointSpec, opts: WorkloadOptions): string {
  return sha256(`{"version":${JSON.stringify(mmemuVersion())},"profile":${canonicalJson(profile)},"spec":${canonicalJson(spec)},"opts":${canonicalJson(opts)}}`);
}

/** The profile with only the chosen DMA engines ("auto": all it has). */
function withEngine(p: HardwareProfile, engine: string): HardwareProfile {
  if (engine === "auto") return p;
  const has = engine === "ptdma" ? p.topology.ptdma.length : p.topology.sdxi.length;
  if (has === 0) throw new Error(`engine ${engine}: profile ${p.name} has no ${engine === "ptdma" ? "PTDMA engines" : "SDXI functions"}`);
  return deriveProfile(p, (d) => {
    if (engine === "ptdma") d.topology.sdxi = [];
    else d.topology.ptdma = [];
  });
}

/**
 * A profile named by a path (a slash or .json, as loadProfile tells them apart) is relative to the
 * spec file's directory, so a spec and its profiles move together.
 */
function profileRef(sweep: Sweep, profile: string): string {
  const isPath = profile.includes("/") || profile.endsWith(".json");
  return isPath && !sweep.file.startsWith("<") ? resolve(dirname(sweep.file), profile) : profile;
}

/** Resolve every point; any point that cannot be built fails the whole sweep before it runs. */
export function resolveSweep(sweep: Sweep): ResolvedPoint[] {
  const profiles = new Map<string, ProfileFile>();
  const problems: string[] = [];
  const out: ResolvedPoint[] = [];
  for (const point of sweep.points) {
    const f = point.fields;
    if (f.migrator.includes("/") || f.engine.includes("/")) {
      problems.push(`point ${point.index} (${describeAxes(point)}): plug-in ${f.migrator.includes("/") ? `migrator ${f.migrator}` : `engine ${f.engine}`}: this build has no plug-in loader`);
      continue;
    }
    // The engine choice only matters to a DMA migrator; elsewhere it would split identical points.
    const engine = f.migrator === "dcbm" ? f.engine : "auto";
    const key = canonicalJson([f.profile, engine, f.set]);
    let prof = profiles.get(key);
    if (prof === undefined) {
      try {
        const base = loadProfile(profileRef(sweep, f.profile), BUILTIN_SCHEMA);
        const p = withEngine(Object.keys(f.set).length > 0 ? withParams(base, f.set) : base, engine);
        prof = profileToFile(p);
      } catch (e) {
        problems.push(`point ${point.index} (${describeAxes(point)}): ${(e as Error).message.split("\n").join("; ")}`);
        if (problems.length >= 20) break;
        continue;
      }
      profiles.set(key, prof);
    }
    const spec: PointSpec = {
      config: f.migrator as PointSpec["config"],
      channels: f.migrator === "vanilla" ? null : f.channels,
      folioSize: f.folio_size,
      totalBytes: f.amount,
      ...(f.per_call === "all" ? {} : { perCall: f.per_call }),
      batchPages: f.batch_pages,
    };
    const opts: WorkloadOptions = { seed: f.seed, otherMmCpus: f.other_mm_cpus };
    out.push({ point, order: point.index, hash: pointHash(prof, spec, opts), task: { profile: prof, spec, opts, detail: true } });
  }
  if (problems.length > 0) throw new SweepSpecError(sweep.file, problems);
  return out;
}
