/**
 * Points run in parallel on a piscina worker pool (one thread per core by default). Workers run the
 * emulator prebuilt as one ES module (worker-bundle.ts); points with a plug-in run in workers that load
 * the TypeScript sources as ES modules through tsx (see worker-entry.mjs for why not as CommonJS), so
 * the plug-in and the emulator share one copy of every module. Results come back in submission order
 * whatever the finishing order, so output is deterministic.
 */
import { availableParallelism } from "node:os";
import { Piscina } from "piscina";
import { profileToFile, type HardwareProfile } from "@mmemu/timing";
import { BUILTIN_COMPONENTS, isPluginPath, type ComponentSelection, type Components } from "@mmemu/components";
import { intOption } from "./output.js";
import type { PointResult, PointSpec, WorkloadOptions } from "./workload.js";
import type { PointTask, PointTaskResult } from "./worker.js";
import { workerBundle } from "./worker-bundle.js";

export type PoolResult = PointResult & { peakRssMB: number };

/** The --threads option: absent means one worker per core; otherwise a whole number from 1 to 256. */
export function parseThreads(text: string | undefined): number {
  if (text === undefined) return availableParallelism();
  return intOption("--threads", text, 1, 256);
}

/** The worker entry that loads the sources (plug-ins, or when the bundle cannot be built). */
const SOURCE_ENTRY = new URL("./worker-entry.mjs", import.meta.url).href;

/** Whether a selection loads a plug-in file. */
function hasPlugins(sel: ComponentSelection): boolean {
  return (sel.migrator !== undefined && isPluginPath(sel.migrator)) || (sel.engines ?? []).some(isPluginPath);
}

let bundleWarned = false;

/** The bundle's URL, or null (said once on stderr) when it cannot be built: workers then load the sources. */
async function bundleUrl(): Promise<string | null> {
  try {
    return (await workerBundle()).url;
  } catch (e) {
    if (!bundleWarned) process.stderr.write(`mmemu: workers load the TypeScript sources (slower start): the worker bundle could not be built: ${(e as Error).message.split("\n")[0]}\n`);
    bundleWarned = true;
    return null;
  }
}

export class PointPool {
  /** Runs every task when the pool was made for plug-ins or has no bundle, else the built-in tasks. */
  private readonly main: Promise<Piscina>;
  /** Runs tasks with a plug-in when `main` runs the bundle; started at the first such task. */
  private sources: Piscina | null = null;
  /** Whether `main` runs the bundle (known once `main` is settled). */
  private bundled = false;
  /** Worker threads the pool runs (it starts them all). */
  readonly size: number;

  /** `components`: what every point runs with (workers load the same selection). */
  constructor(threads = availableParallelism(), readonly components: Components = BUILTIN_COMPONENTS) {
    if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
      throw new RangeError(`--threads must be a whole number from 1 to 256, got ${threads}`);
    }
    this.size = threads;
    this.main = (hasPlugins(components.selection) ? Promise.resolve(null) : bundleUrl()).then((bundle) => {
      this.bundled = bundle !== null;
      return this.start(bundle ?? SOURCE_ENTRY);
    });
  }

  private start(filename: string): Piscina {
    return new Piscina({
      // No `--import tsx` here: the source entry registers tsx's ESM hooks, and the CommonJS hook
      // would only let piscina's require() of the entry load the emulator as CommonJS again.
      filename,
      execArgv: [],
      minThreads: this.size,
      maxThreads: this.size,
      idleTimeout: 60_000,
    });
  }

  /** The pool a task runs in: a plug-in never runs in the bundle. */
  private async poolFor(task: PointTask): Promise<Piscina> {
    const main = await this.main;
    if (!this.bundled || !hasPlugins(task.components)) return main;
    return (this.sources ??= this.start(SOURCE_ENTRY));
  }

  get threads(): number {
    return this.size;
  }

  /** Whether built-in points run in the prebuilt bundle (false: every worker loads the sources). */
  async runsBundle(): Promise<boolean> {
    await this.main;
    return this.bundled;
  }

  /** Run specs on a profile; `onDone` is called as each finishes (progress bars). */
  async runAll(profile: HardwareProfile, specs: readonly PointSpec[], opts: WorkloadOptions = {}, onDone?: (i: number, r: PoolResult) => void): Promise<PoolResult[]> {
    const file = profileToFile(profile);
    // Longest first keeps both cores busy to the end.
    const order = specs.map((s, i) => i).sort((a, b) => weight(specs[b]!) - weight(specs[a]!) || a - b);
    const out = new Array<PoolResult>(specs.length);
    await Promise.all(order.map(async (i) => {
      const task: PointTask = { profile: file, spec: specs[i]!, opts, components: this.components.selection };
      const r = (await (await this.poolFor(task)).run(task)) as PoolResult;
      out[i] = r;
      onDone?.(i, r);
    }));
    return out;
  }

  /** Run one task (a sweep point, whose profile and options are its own). */
  async run(task: PointTask): Promise<PointTaskResult> {
    return (await (await this.poolFor(task)).run(task)) as PointTaskResult;
  }

  async close(): Promise<void> {
    await Promise.all([(await this.main).destroy(), this.sources?.destroy()]);
  }
}

/** Rough relative cost of a point: folios moved, DMA points dearer (engines run the longest first). */
export function weight(s: PointSpec): number {
  const order = { "4K": 0, "16K": 2, "64K": 4, "256K": 6, "1M": 8, "2M": 9 }[s.folioSize];
  const folios = s.totalBytes / (4096 << order);
  return (folios + (s.config === "dcbm" ? folios * 0.5 + 2000 : 0) + 500) * (order === 0 ? 1.3 : 1);
}
