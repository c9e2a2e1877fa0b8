import test from "ava";
import { formatSpeed, runPoint, SEED_TARGET_S, SPEED_POINTS, type SpeedReport } from "../src/index.js";
import { loadProfile } from "@mmemu/timing";
import { BUILTIN_SCHEMA } from "@mmemu/components";

// A real (small) run stands in for each point's result; the wall figures are set so each verdict is known.
const profile = loadProfile("zen3-ptdma", BUILTIN_SCHEMA);
const result = runPoint(profile, { ...SPEED_POINTS[0]!.spec, totalBytes: 1 << 20 });

function report(firstMs: number, wallMs: number, seedS: number, queue2: number | null): SpeedReport {
  return {
    hostLoad: 0.5, cores: 2,
    rows: SPEED_POINTS.map((p) => ({
      label: p.label, firstMs, firstTargetMs: p.firstTargetMs, wallMs, steadyCpuMs: wallMs * 0.9, steadyTargetMs: p.steadyTargetMs,
      foliosPerSec: 1e6, virtualMs: 1, virtualPerWall: 1, peakRssMiB: 100, result,
    })),
    seed: { wallS: seedS, points: 121, threads: 2, cores: 2, targetS: SEED_TARGET_S },
    engines: {
      points: 16, local1: 2, local2: 3.8, queue2, queueNote: queue2 === null ? "not timed: redis-server is not installed" : null,
      calibrate: [{ threads: 1, vanillaPerS: 1, dcbmPerS: 0.5 }, { threads: 2, vanillaPerS: 1.9, dcbmPerS: 0.95 }], calibrateDefaultMin: 4.7, calibrateDefaultEvals: 97,
    },
  };
}

test("bench speed judges every point, the seed benchmark and calibrate against the issue's targets", (t) => {
  const met = formatSpeed(report(200, 100, 8, 3.5));
  t.regex(met, /1 GiB 4K vanilla\s+200 \(<=250 met\)\s+100 \(<=150 met\)\s+90\s/);
  t.regex(met, /1 GiB 4K dcbm 16ch\s+200 \(<=250 met\)\s+100 \(<=150 met\)/);
  t.regex(met, /whole seed benchmark: 121 points, 8\.0 s wall .*target <= 10 s on 2 cores: met/);
  t.regex(met, /points\/s\): 1 local thread 2\.00; 2 local threads 3\.80 \(x1\.90\); 2 queue workers 3\.50 \(x1\.75\)/);
  t.regex(met, /at most 4\.7 min on 2 threads \(target <= 10 min: met\)/);
  // The 2M point has no target: no verdict on its line.
  t.notRegex(met.split("\n").find((l) => l.startsWith("1 GiB 2M"))!, /met|MISSED/);
  const missed = formatSpeed(report(300, 160, 11, null));
  t.regex(missed, /1 GiB 4K vanilla\s+300 \(<=250 MISSED\)\s+160 \(<=150 MISSED\)/);
  t.regex(missed, /target <= 10 s on 2 cores: MISSED/);
  t.regex(missed, /queue: not timed: redis-server is not installed/);
});
