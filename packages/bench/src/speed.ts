/**
 * `mmemu bench speed`: how fast the emulator is. Each 1 GiB point runs in this process (so peak RSS
 * is its own); wall-clock timing lives only here, in the harness, never in emulator code.
 */
import { availableParallelism, loadavg } from "node:os";
import type { HardwareProfile } from "@mmemu/timing";
import { BUILTIN_COMPONENTS, type Components } from "@mmemu/components";
import { PointPool } from "./pool.js";
import { runSeed } from "./seed.js";
import { GiB, runPoint, type PointResult, type PointSpec } from "./workload.js";
import { checkStrictOffload, fallbackLine } from "./fallback.js";
import { specLabel } from "./points.js";

export const SPEED_POINTS: ReadonlyArray<{ label: string; spec: PointSpec }> = [
  { label: "1 GiB 4K vanilla", spec: { config: "vanilla", channels: null, folioSize: "4K", totalBytes: GiB, batchPages: 512 } },
  { label: "1 GiB 4K dcbm 16ch", spec: { config: "dcbm", channels: 16, folioSize: "4K", totalBytes: GiB, batchPages: 262144 } },
  { label: "1 GiB 2M dcbm 16ch", spec: { config: "dcbm", channels: 16, folioSize: "2M", totalBytes: GiB, batchPages: 262144 } },
];

/** One point's speed figures. */
export interface SpeedRow {
  readonly label: string;
  /** Wall ms of the first full-size run, and the better of the next two (steady). */
  readonly firstMs: number;
  readonly wallMs: number;
  readonly foliosPerSec: number;
  readonly virtualMs: number;
  readonly virtualPerWall: number;
  readonly peakRssMiB: number;
  /** The steady run's result (phases, counters). */
  readonly result: PointResult;
}

export interface SpeedReport {
  readonly hostLoad: number;
  readonly rows: SpeedRow[];
  /** The whole seed benchmark's wall seconds, points and threads (null with --no-seed). */
  readonly seed: { readonly wallS: number; readonly points: number; readonly threads: number; readonly cores: number } | null;
}

export async function runSpeed(
  profile: HardwareProfile, withSeed: boolean, components: Components = BUILTIN_COMPONENTS, onPoint?: (done: number, total: number) => void,
  /** Fail (throw) when a batch the migrator should have copied fell back to the CPU. */
  strictOffload = false,
): Promise<SpeedReport> {
  // Three timed runs per point after a small warm-up. The first is what a one-off run costs: on a
  // loaded 2-core host the JIT's optimising compiles (concurrent, and ~120 functions' worth) are
  // still running through much of it, so it can take twice as long. The next two, after the first
  // has warmed every path at full size, measure the emulator's steady speed (what long-lived
  // seed-benchmark workers see); "wall ms" and folios/s are the better of the two, as the machine
  // is shared.
  const hostLoad = loadavg()[0]!;
  const rows: SpeedRow[] = [];
  const opts = { strictOffload };
  for (const { label, spec } of SPEED_POINTS) {
    runPoint(profile, { ...spec, totalBytes: GiB / 64 }, opts, components); // warm the JIT on the same path
    const first = runPoint(profile, spec, opts, components);
    const second = runPoint(profile, spec, opts, components);
    const third = runPoint(profile, spec, opts, components);
    if (second.virtualNs !== first.virtualNs || third.virtualNs !== first.virtualNs) {
      throw new Error(`${label}: runs of the same point differ in virtual time (${first.virtualNs}, ${second.virtualNs}, ${third.virtualNs} ns)`);
    }
    const r = third.wallMs < second.wallMs ? third : second;
    rows.push({
      label, firstMs: first.wallMs, wallMs: r.wallMs, foliosPerSec: r.folios / (r.wallMs / 1000), virtualMs: r.virtualNs / 1e6,
      virtualPerWall: r.virtualNs / 1e6 / r.wallMs, peakRssMiB: process.resourceUsage().maxRSS / 1024, result: r,
    });
    onPoint?.(rows.length, SPEED_POINTS.length + (withSeed ? 1 : 0));
  }
  checkStrictOffload(rows.map((r) => r.result), rows.map((r) => r.label));
  let seed: SpeedReport["seed"] = null;
  if (withSeed) {
    const pool = new PointPool(undefined, components);
    try {
      const t0 = performance.now();
      const run = await runSeed(pool, profile, 1, null, undefined, { strictOffload });
      checkStrictOffload(run.results, run.points.map((p) => specLabel(p.spec)));
      seed = { wallS: (performance.now() - t0) / 1000, points: run.points.length, threads: pool.threads, cores: availableParallelism() };
    } finally {
      await pool.close();
    }
  }
  return { hostLoad, rows, seed };
}

/** The report as text. */
export function formatSpeed(s: SpeedReport): string {
  const out = [
    `host load ${s.hostLoad.toFixed(2)} (1-min average; wall times grow with other work on the machine)`,
    "point                first ms   wall ms   folios/s      virtual ms  virtual/wall  peak RSS MiB",
  ];
  for (const r of s.rows) {
    out.push(
      `${r.label.padEnd(20)}${r.firstMs.toFixed(0).padStart(9)}${r.wallMs.toFixed(0).padStart(10)}${r.foliosPerSec.toExponential(2).padStart(11)}` +
        `${r.virtualMs.toFixed(2).padStart(16)}${r.virtualPerWall.toFixed(3).padStart(14)}${r.peakRssMiB.toFixed(0).padStart(14)}`,
    );
  }
  out.push("targets: 1 GiB of 4K folios in < 500 ms wall; whole seed benchmark in < 60 s");
  out.push(fallbackLine(s.rows.map((r) => r.result)));
  if (s.seed !== null) out.push(`whole seed benchmark: ${s.seed.points} points, ${s.seed.wallS.toFixed(1)} s wall on ${s.seed.threads} threads (${s.seed.cores} cores)`);
  return out.join("\n");
}
