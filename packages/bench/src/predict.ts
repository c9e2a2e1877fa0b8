/**
 * `mmemu bench predict`: configurations the series did not publish, run the same way as the seed
 * benchmark's points — vanilla first-folio latency against n folios per call for 16K and 64K folios,
 * and dcbm first-folio latency and throughput against the batch size N for 16K, 64K, 256K and 1M
 * folios with 1, 4 and 16 channels (the 4K and 2M offload rows are part of `bench seed`). Nothing
 * here is compared with anything: these are the model's predictions (docs/timing.md discusses them).
 */
import type { HardwareProfile } from "@mmemu/timing";
import { offloadSpec, SEED_OFFLOAD_CHANNELS, SEED_OFFLOAD_N, SEED_VANILLA_N_4K, specKey, vanillaLatencySpec } from "./points.js";
import type { PointPool, PoolResult } from "./pool.js";
import { presetSweep, type PresetOptions } from "./sweep/preset.js";
import type { Sweep } from "./sweep/spec.js";
import { folioBytes, GiB, type FolioSizeName, type PointSpec } from "./workload.js";

export const PREDICT_VANILLA_SIZES: readonly FolioSizeName[] = ["16K", "64K"];
export const PREDICT_OFFLOAD_SIZES: readonly FolioSizeName[] = ["16K", "64K", "256K", "1M"];

/** One predicted row. */
export interface PredictRow {
  readonly table: "vanilla" | "offload";
  readonly folioSize: FolioSizeName;
  /** n folios per call (vanilla) or N pages per batch (offload). */
  readonly n: number;
  readonly channels: number | null;
  readonly spec: PointSpec;
}

/** The rows of `bench predict`, in print order (vanilla calls never move more than 1 GiB). */
export function predictRows(): PredictRow[] {
  const rows: PredictRow[] = [];
  for (const fs of PREDICT_VANILLA_SIZES) {
    for (const n of SEED_VANILLA_N_4K) {
      if (n * folioBytes(fs) > GiB) continue;
      rows.push({ table: "vanilla", folioSize: fs, n, channels: null, spec: vanillaLatencySpec(fs, n) });
    }
  }
  for (const fs of PREDICT_OFFLOAD_SIZES) {
    for (const N of SEED_OFFLOAD_N) {
      // A batch holds at least one folio.
      if (N * 4096 < folioBytes(fs)) continue;
      for (const ch of SEED_OFFLOAD_CHANNELS) rows.push({ table: "offload", folioSize: fs, n: N, channels: ch, spec: offloadSpec(fs, N, ch) });
    }
  }
  return rows;
}

/** Run the predictions on the local pool (shared points run once); results in row order, with phases and counters. */
export async function runPredict(
  pool: PointPool, profile: HardwareProfile, seed: number, onProgress?: (done: number, total: number) => void, strictOffload = false,
): Promise<{ rows: PredictRow[]; results: PoolResult[] }> {
  const rows = predictRows();
  const unique = new Map<string, PointSpec>();
  for (const r of rows) unique.set(specKey(r.spec), r.spec);
  const keys = [...unique.keys()];
  let done = 0;
  const res = await pool.runAll(profile, keys.map((k) => unique.get(k)!), { seed, strictOffload }, () => onProgress?.(++done, keys.length));
  const byKey = new Map(keys.map((k, i) => [k, res[i]!]));
  return { rows, results: rows.map((r) => byKey.get(specKey(r.spec))!) };
}

/** The predictions as a preset sweep (one point per row; shared points run once). */
export function predictSweep(o: PresetOptions): Sweep {
  return presetSweep("predict", "unpublished configurations: vanilla and dcbm first-folio latency and throughput", predictRows().map((r) => r.spec), o);
}

/** The predictions as text tables. */
export function formatPredict(rows: readonly PredictRow[], results: ReadonlyArray<{ GBps: number; firstUs: number }>): string {
  const out: string[] = [];
  const f = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  for (const fs of PREDICT_VANILLA_SIZES) {
    out.push(`vanilla ${fs}: n folios per call (NR_MAX_BATCHED_MIGRATION 512 pages); predicted`);
    out.push("n".padEnd(9) + "GiB/s".padEnd(10) + "first_us");
    rows.forEach((r, i) => {
      if (r.table === "vanilla" && r.folioSize === fs) out.push(String(r.n).padEnd(9) + f(results[i]!.GBps).padEnd(10) + f(results[i]!.firstUs));
    });
    out.push("");
  }
  for (const fs of PREDICT_OFFLOAD_SIZES) {
    out.push(`dcbm ${fs}: N = NR_MAX_BATCHED_MIGRATION pages, 1 GiB moved; predicted GiB/s and first_us per channel count`);
    out.push("N".padEnd(9) + SEED_OFFLOAD_CHANNELS.map((c) => `${c} ch GiB/s`.padEnd(12) + `${c} ch first_us`.padEnd(16)).join(""));
    for (const N of SEED_OFFLOAD_N) {
      const cells: string[] = [];
      for (const ch of SEED_OFFLOAD_CHANNELS) {
        const i = rows.findIndex((r) => r.table === "offload" && r.folioSize === fs && r.n === N && r.channels === ch);
        if (i < 0) continue;
        cells.push(f(results[i]!.GBps).padEnd(12) + f(results[i]!.firstUs).padEnd(16));
      }
      if (cells.length > 0) out.push(String(N).padEnd(9) + cells.join(""));
    }
    out.push("");
  }
  return out.join("\n");
}
