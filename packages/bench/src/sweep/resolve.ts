/**
 * From a sweep's points to runnable tasks: each point's components loaded (its migrator and DMA engine
 * drivers, built-in or plug-in files relative to the spec), its profile loaded (by name or file)
 * against their parameter schema with its `set` parameters applied, its workload as a PointSpec, and
 * its identity hash. Points that resolve to the same input (vanilla points on a channels axis, say)
 * share one hash and run once.
 */
import { readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { isPluginPath, loadComponents, type ComponentSelection, type Components } from "@mmemu/components";
import { loadProfile, profileToFile, withParams, type ProfileFile } from "@mmemu/timing";
import type { PointSpec, WorkloadOptions } from "../workload.js";
import type { EngineTask } from "./engine.js";
import { canonicalJson, mmemuVersion, sha256 } from "./identity.js";
import { describeAxes, SweepSpecError, type Sweep, type SweepPoint } from "./spec.js";

/** A point ready to run (`order` is the point's index). */
export interface ResolvedPoint extends EngineTask {
  readonly point: SweepPoint;
}

const fileDigests = new Map<string, string>();

/** SHA-256 of each plug-in file of a selection, by absolute path (read again only when the file changes). */
export function pluginDigests(sel: ComponentSelection): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of [sel.migrator ?? "", ...(sel.engines ?? [])]) {
    if (!isPluginPath(spec)) continue;
    const st = statSync(spec);
    const key = `${spec}\0${st.size}\0${st.mtimeMs}`;
    let d = fileDigests.get(key);
    if (d === undefined) fileDigests.set(key, (d = sha256(readFileSync(spec))));
    out[spec] = d;
  }
  return out;
}

/**
 * The identity of a run of `spec` with `opts` on a profile (its file form) with a selection of
 * components (plug-in files by content), by this mmemu build.
 */
export function pointHash(profile: ProfileFile, spec: PointSpec, opts: WorkloadOptions, components: ComponentSelection): string {
  return sha256(canonicalJson({ version: mmemuVersion(), profile, spec, opts, components, plugins: pluginDigests(components) }));
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
export async function resolveSweep(sweep: Sweep): Promise<ResolvedPoint[]> {
  const cwd = sweep.file.startsWith("<") ? process.cwd() : dirname(resolve(sweep.file));
  const componentSets = new Map<string, Promise<Components>>();
  const profiles = new Map<string, ProfileFile>();
  const problems: string[] = [];
  const out: ResolvedPoint[] = [];
  for (const point of sweep.points) {
    const f = point.fields;
    try {
      // Vanilla registers no migrator; the built-in set then serves (its engines are not probed).
      const offload = f.migrator !== "vanilla";
      const want: ComponentSelection = {
        ...(offload ? { migrator: f.migrator } : {}),
        ...(offload && f.engine !== "auto" ? { engines: f.engine.split("+") } : {}),
      };
      const wantKey = canonicalJson(want);
      let loading = componentSets.get(wantKey);
      if (loading === undefined) componentSets.set(wantKey, (loading = loadComponents(want, cwd)));
      let components = await loading;
      // The engine choice only matters to a migrator that copies with DMA; elsewhere it would split identical points.
      if (offload && !components.migrator.usesDma && want.engines !== undefined) {
        const key = canonicalJson({ migrator: f.migrator });
        let l = componentSets.get(key);
        if (l === undefined) componentSets.set(key, (l = loadComponents({ migrator: f.migrator }, cwd)));
        components = await l;
      }
      const selection: ComponentSelection = { migrator: components.selection.migrator, engines: components.selection.engines };
      const profKey = canonicalJson([f.profile, f.set, selection]);
      let prof = profiles.get(profKey);
      if (prof === undefined) {
        const base = loadProfile(profileRef(sweep, f.profile), components.schema);
        prof = profileToFile(Object.keys(f.set).length > 0 ? withParams(base, f.set) : base);
        profiles.set(profKey, prof);
      }
      const spec: PointSpec = {
        config: offload ? "dcbm" : "vanilla",
        channels: offload ? f.channels : null,
        folioSize: f.folio_size,
        totalBytes: f.amount,
        ...(f.per_call === "all" ? {} : { perCall: f.per_call }),
        batchPages: f.batch_pages,
      };
      const opts: WorkloadOptions = { seed: f.seed, otherMmCpus: f.other_mm_cpus, ...(sweep.strictOffload === true ? { strictOffload: true } : {}) };
      out.push({ point, order: point.index, hash: pointHash(prof, spec, opts, selection), task: { profile: prof, spec, opts, components: selection, detail: true } });
    } catch (e) {
      problems.push(`point ${point.index} (${describeAxes(point)}): ${(e as Error).message.split("\n").join("; ")}`);
      if (problems.length >= 20) break;
    }
  }
  if (problems.length > 0) throw new SweepSpecError(sweep.file, problems);
  return out;
}
