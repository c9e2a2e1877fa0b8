/**
 * The seed benchmark's points (what the published runs moved) and the mapping from published cells to
 * points. A point is identified by its spec; cells sharing a run share one point.
 */
import { FOLIO_SIZE_NAMES, folioBytes, GiB, type FolioSizeName, type PointResult, type PointSpec } from "./workload.js";
import type { Cell } from "./measurements.js";

export const SEED_CHANNELS = [1, 2, 4, 8, 12, 16] as const;
export const SEED_VANILLA_N_4K = [1, 4, 8, 16, 64, 256, 512, 2048, 4096, 16384, 65536, 262144] as const;
export const SEED_VANILLA_N_2M = [1, 4, 8, 16, 64, 256, 512] as const;
export const SEED_OFFLOAD_N = [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144] as const;
export const SEED_OFFLOAD_CHANNELS = [1, 4, 16] as const;
/** The series' testing patch raises the batch limit to HPAGE_PUD_NR for the dcbm throughput rows. */
const DCBM_THROUGHPUT_BATCH = 262144;
const VANILLA_BATCH = 512;

/** One result record of the JSON output (the three shapes of issue 5). */
export type ResultRecord = (
  | { table: "throughput_by_folio_size"; config: "vanilla" | "dcbm"; channels: number | null; folio_size: FolioSizeName; GBps: number }
  | { table: "first_folio_latency_vanilla"; folio_size: "4K" | "2M"; n: number; GBps: number; first_us: number }
  | { table: "first_folio_latency_offload"; folio_size: "4K" | "2M"; N: number; channels: number; GBps: number; first_us: number }
) & RecordExtras;

/** What `bench seed --json` adds to each record: the published values and errors, the phase breakdown, the counters and CPU fallbacks. */
export interface RecordExtras {
  /** The published value of each metric that has one, and the emulated value's relative error. */
  published?: { GBps?: number; first_us?: number };
  error?: { GBps?: number; first_us?: number };
  /** Virtual ns of the point by phase; they add up to virtual_ns. */
  phases_ns?: Record<string, number>;
  virtual_ns?: number;
  /** /proc/vmstat's migration lines after the point, and the migrator's and engines' counters. */
  vmstat?: Record<string, number>;
  stats?: Record<string, Record<string, number>>;
  /** Folios the CPU copied although their batch went to the migrator, by cause. */
  fallback?: Record<string, number>;
}

/** A point of the seed benchmark and the record it produces. */
export interface SeedPoint {
  readonly table: "throughput_by_folio_size" | "first_folio_latency_vanilla" | "first_folio_latency_offload";
  readonly spec: PointSpec;
  readonly record: (r: PointResult) => ResultRecord;
}

export function throughputSpec(config: "vanilla" | "dcbm", channels: number | null, fs: FolioSizeName): PointSpec {
  return { config, channels, folioSize: fs, totalBytes: GiB, batchPages: config === "vanilla" ? VANILLA_BATCH : DCBM_THROUGHPUT_BATCH };
}

export function vanillaLatencySpec(fs: FolioSizeName, n: number): PointSpec {
  return { config: "vanilla", channels: null, folioSize: fs, totalBytes: n * folioBytes(fs), perCall: n, batchPages: VANILLA_BATCH };
}

export function offloadSpec(fs: FolioSizeName, N: number, channels: number): PointSpec {
  return { config: "dcbm", channels, folioSize: fs, totalBytes: GiB, batchPages: N };
}

/** Every point of the seed benchmark, in table order. `configs` limits it to the configs available. */
export function seedPoints(configs: ReadonlySet<string> = new Set(["vanilla", "dcbm"])): SeedPoint[] {
  const pts: SeedPoint[] = [];
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  if (configs.has("vanilla")) {
    for (const fs of FOLIO_SIZE_NAMES) {
      pts.push({ table: "throughput_by_folio_size", spec: throughputSpec("vanilla", null, fs), record: (r) => ({ table: "throughput_by_folio_size", config: "vanilla", channels: null, folio_size: fs, GBps: r3(r.GBps) }) });
    }
  }
  if (configs.has("dcbm")) {
    for (const ch of SEED_CHANNELS) {
      for (const fs of FOLIO_SIZE_NAMES) {
        pts.push({ table: "throughput_by_folio_size", spec: throughputSpec("dcbm", ch, fs), record: (r) => ({ table: "throughput_by_folio_size", config: "dcbm", channels: ch, folio_size: fs, GBps: r3(r.GBps) }) });
      }
    }
  }
  if (configs.has("vanilla")) {
    for (const [fs, ns] of [["4K", SEED_VANILLA_N_4K], ["2M", SEED_VANILLA_N_2M]] as const) {
      for (const n of ns) {
        pts.push({ table: "first_folio_latency_vanilla", spec: vanillaLatencySpec(fs, n), record: (r) => ({ table: "first_folio_latency_vanilla", folio_size: fs, n, GBps: r3(r.GBps), first_us: r3(r.firstUs) }) });
      }
    }
  }
  if (configs.has("dcbm")) {
    for (const fs of ["4K", "2M"] as const) {
      for (const N of SEED_OFFLOAD_N) {
        for (const ch of SEED_OFFLOAD_CHANNELS) {
          pts.push({ table: "first_folio_latency_offload", spec: offloadSpec(fs, N, ch), record: (r) => ({ table: "first_folio_latency_offload", folio_size: fs, N, channels: ch, GBps: r3(r.GBps), first_us: r3(r.firstUs) }) });
        }
      }
    }
  }
  return pts;
}

/** The point a published cell was measured on. */
export function cellSpec(c: Cell): PointSpec {
  switch (c.table) {
    case "throughput_by_folio_size":
      return throughputSpec(c.config, c.channels, c.folioSize);
    case "first_folio_latency_vanilla":
      return vanillaLatencySpec(c.folioSize, c.n!);
    case "first_folio_latency_offload":
      return offloadSpec(c.folioSize, c.N!, c.channels!);
  }
}

/**
 * The same point made cheaper where its metrics do not depend on the amount moved: runs of more than
 * `maxFolios` folios in one call keep their batch structure but move `maxFolios` folios (the per-call
 * cost is then <1% of the run). Offload latency points are never scaled (their batch is the point).
 */
export function scaledSpec(s: PointSpec, maxFolios = 16384): PointSpec {
  const fb = folioBytes(s.folioSize);
  const folios = Math.floor(s.totalBytes / fb);
  const perCall = s.perCall ?? folios;
  if (folios <= maxFolios) return s;
  if (s.config === "dcbm" && (s.batchPages ?? 512) !== DCBM_THROUGHPUT_BATCH) return s;
  return { ...s, totalBytes: maxFolios * fb, perCall: Math.min(perCall, maxFolios) };
}

/** A readable name of a point: "dcbm 16ch 4K N=262144", "vanilla 2M n=64". */
export function specLabel(s: PointSpec): string {
  const folios = Math.floor(s.totalBytes / folioBytes(s.folioSize));
  const size = s.totalBytes >= GiB ? `${s.totalBytes / GiB} GiB` : `${folios} folios`;
  return `${s.config}${s.channels !== null ? ` ${s.channels}ch` : ""} ${s.folioSize} ${size}${s.perCall !== undefined ? ` n=${s.perCall}` : ""} N=${s.batchPages ?? 512}`;
}

/** Stable identity of a spec (cells and records are joined on it). */
export function specKey(s: PointSpec): string {
  return `${s.config}/${s.channels ?? "-"}/${s.folioSize}/${s.totalBytes}/${s.perCall ?? "all"}/${s.batchPages ?? 512}`;
}

/** The value a cell compares against in a point result. */
export function cellValue(c: Cell, r: Pick<PointResult, "GBps" | "firstUs">): number {
  return c.metric === "GBps" ? r.GBps : r.firstUs;
}
