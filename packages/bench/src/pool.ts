/**
 * Points run in parallel on a piscina worker pool (one thread per core by default). Workers load the
 * TypeScript sources as ES modules through tsx (see worker-entry.mjs for why not as CommonJS). Results
 * come back in submission order whatever the finishing order, so output is deterministic.
 */
import { availableParallelism } from "node:os";
import { Piscina } from "piscina";
import { profileToFile, type HardwareProfile } from "@mmemu/timing";
import { BUILTIN_COMPONENTS, type Components } from "@mmemu/components";
import { intOption } from "./output.js";
import type { PointResult, PointSpec, WorkloadOptions } from "./workload.js";
import type { PointTask, PointTaskResult } from "./worker.js";

export type PoolResult = PointResult & { peakRssMB: number };

/** The --threads option: absent means one worker per core; otherwise a whole number from 1 to 256. */
export function parseThreads(text: string | undefined): number {
  if (text === undefined) return availableParallelism();
  return intOption("--threads", text, 1, 256);
}

export class PointPool {
  private readonly pool: Piscina;
  /** Worker threads the pool runs (it starts them all). */
  readonly size: number;

  /** `components`: what every point runs with (workers load the same selection). */
  constructor(threads = availableParallelism(), readonly components: Components = BUILTIN_COMPONENTS) {
    if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
      throw new RangeError(`--threads must be a whole number from 1 to 256, got ${threads}`);
    }
    this.size = threads;
    this.pool = new Piscina({
      // No `--import tsx` here: the entry registers tsx's ESM hooks, and the CommonJS hook would
      // only let piscina's require() of the entry load the emulator as CommonJS again.
      filename: new URL("./worker-entry.mjs", import.meta.url).href,
      execArgv: [],
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 60_000,
    });
  }

  get threads(): number {
    return this.pool.threads.length;
  }

  /** Run specs on a profile; `onDone` is called as each finishes (progress bars). */
  async runAll(profile: HardwareProfile, specs: readonly PointSpec[], opts: WorkloadOptions = {}, onDone?: (i: number, r: PoolResult) => void): Promise<PoolResult[]> {
    const file = profileToFile(profile);
    // Longest first keeps both cores busy to the end.
    const order = specs.map((s, i) => i).sort((a, b) => weight(specs[b]!) - weight(specs[a]!) || a - b);
    const out = new Array<PoolResult>(specs.length);
    await Promise.all(order.map(async (i) => {
      const task: PointTask = { profile: file, spec: specs[i]!, opts, components: this.components.selection };
      const r = (await this.pool.run(task)) as PoolResult;
      out[i] = r;
      onDone?.(i, r);
    }));
    return out;
  }

  /** Run one task (a sweep point, whose profile and options are its own). */
  async run(task: PointTask): Promise<PointTaskResult> {
    return (await this.pool.run(task)) as PointTaskResult;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

/** Rough relative cost of a point: folios moved, DMA points dearer (engines run the longest first). */
export function weight(s: PointSpec): number {
  const order = { "4K": 0, "16K": 2, "64K": 4, "256K": 6, "1M": 8, "2M": 9 }[s.folioSize];
  const folios = s.totalBytes / (4096 << order);
  return (folios + (s.config === "dcbm" ? folios * 0.5 + 2000 : 0) + 500) * (order === 0 ? 1.3 : 1);
}
