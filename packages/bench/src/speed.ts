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

export const SPEED_POINTS: ReadonlyArray<{ label: string; spec: PointSpec }> = [
  { label: "1 GiB 4K vanilla", spec: { config: "vanilla", channels: null, folioSize: "4K", totalBytes: GiB, batchPages: 512 } },
  { label: "1 GiB 4K dcbm 16ch", spec: { config: "dcbm", channels: 16, folioSize: "4K", totalBytes: GiB, batchPages: 262144 } },
  { label: "1 GiB 2M dcbm 16ch", spec: { config: "dcbm", channels: 16, folioSize: "2M", totalBytes: GiB, batchPages: 262144 } },
];

export async function runSpeed(profile: HardwareProfile, withSeed: boolean, components: Components = BUILTIN_COMPONENTS, strictOffload = false): Promise<void> {
  // Three timed runs per point after a small warm-up. The first is what a one-off run costs: on a
  // loaded 2-core host the JIT's optimising compiles (concurrent, and ~120 functions' worth) are
  // still running through much of it, so it can take twice as long. The next two, after the first
  // has warmed every path at full size, measure the emulator's steady speed (what long-lived
  // seed-benchmark workers see); "wall ms" and folios/s are the better of the two, as the machine
  // is shared.
  console.log(`host load ${loadavg()[0]!.toFixed(2)} (1-min average; wall times grow with other work on the machine)`);
  console.log("point                first ms   wall ms   folios/s      virtual ms  virtual/wall  peak RSS MiB");
  const opts = { strictOffload };
  const measured: PointResult[] = [];
  for (const { label, spec } of SPEED_POINTS) {
    runPoint(profile, { ...spec, totalBytes: GiB / 64 }, opts, components); // warm the JIT on the same path
    const first = runPoint(profile, spec, opts, components);
    const second = runPoint(profile, spec, opts, components);
    const third = runPoint(profile, spec, opts, components);
    measured.push(first);
    if (second.virtualNs !== first.virtualNs || third.virtualNs !== first.virtualNs) {
      throw new Error(`${label}: runs of the same point differ in virtual time (${first.virtualNs}, ${second.virtualNs}, ${third.virtualNs} ns)`);
    }
    const r = third.wallMs < second.wallMs ? third : second;
    const peak = process.resourceUsage().maxRSS / 1024;
    console.log(
      `${label.padEnd(20)}${first.wallMs.toFixed(0).padStart(9)}${r.wallMs.toFixed(0).padStart(10)}${(r.folios / (r.wallMs / 1000)).toExponential(2).padStart(11)}` +
        `${(r.virtualNs / 1e6).toFixed(2).padStart(16)}${(r.virtualNs / 1e6 / r.wallMs).toFixed(3).padStart(14)}${peak.toFixed(0).padStart(14)}`,
    );
  }
  console.log("targets: 1 GiB of 4K folios in < 500 ms wall; whole seed benchmark in < 60 s");
  console.log(fallbackLine(measured));
  checkStrictOffload(measured, SPEED_POINTS.map((p) => p.label));
  if (withSeed) {
    const pool = new PointPool(undefined, components);
    try {
      const t0 = performance.now();
      const run = await runSeed(pool, profile, 1, null, undefined, strictOffload);
      const wall = (performance.now() - t0) / 1000;
      console.log(`whole seed benchmark: ${run.points.length} points, ${wall.toFixed(1)} s wall on ${pool.threads} threads (${availableParallelism()} cores)`);
    } finally {
      await pool.close();
    }
  }
}
