/**
 * The seed benchmark: every point of the published tables, run on a profile, joined with the
 * published cells, printed in the published layout and summarised against the fidelity targets
 * (every published cell within 25%, median absolute error at most 10%).
 */
import { createRequire } from "node:module";
import type { HardwareProfile } from "@mmemu/timing";
import type { CellEval } from "./calibrate.js";
import { GIGABYTE_UNITS, gigabyteUnitOf, measurementCells, type Cell, type Measurements } from "./measurements.js";
import { cellSpec, cellValue, seedPoints, specKey, type ResultRecord, type SeedPoint } from "./points.js";
import type { PointPool, PoolResult } from "./pool.js";
import { FOLIO_SIZE_NAMES, type PointSpec } from "./workload.js";

export const BENCH_VERSION: string = (createRequire(import.meta.url)("../package.json") as { version: string }).version;

export interface SeedOutput {
  readonly profile: string;
  readonly seed: number;
  readonly version: string;
  readonly results: ResultRecord[];
}

export interface SeedRun {
  readonly json: SeedOutput;
  readonly points: readonly SeedPoint[];
  readonly results: readonly PoolResult[];
  /** Published cells with their emulated values (cells whose point was run). */
  readonly cells: readonly CellEval[];
  readonly wallMs: number;
}

/** Run the seed benchmark (or the points `only` selects) on the pool. */
export async function runSeed(
  pool: PointPool, profile: HardwareProfile, seed: number, measurements: Measurements | null,
  onProgress?: (done: number, total: number) => void,
  opts: {
    /** Record batches that fell back to the CPU as failures (PointResult.strictFailures). @default false */
    readonly strictOffload?: boolean;
    /** Run only the points whose spec passes (tests and quick looks). @default every point */
    readonly only?: (spec: PointSpec) => boolean;
  } = {},
): Promise<SeedRun> {
  const only = opts.only;
  const points = only === undefined ? seedPoints() : seedPoints().filter((p) => only(p.spec));
  const t0 = performance.now();
  let done = 0;
  // Points shared by two tables (the 262144-page offload rows are the throughput rows) run once.
  const unique = new Map<string, PointSpec>();
  for (const p of points) unique.set(specKey(p.spec), p.spec);
  const keys = [...unique.keys()];
  const uniqueResults = await pool.runAll(profile, keys.map((k) => unique.get(k)!), { seed, strictOffload: opts.strictOffload === true }, () => onProgress?.(++done, keys.length));
  const wallMs = performance.now() - t0;
  const byKey = new Map<string, PoolResult>(keys.map((k, i) => [k, uniqueResults[i]!]));
  const results = points.map((p) => byKey.get(specKey(p.spec))!);
  const cells: CellEval[] = [];
  for (const c of measurements ? measurementCells(measurements) : []) {
    const r = byKey.get(specKey(cellSpec(c)));
    if (r === undefined) continue;
    const emulated = cellValue(c, r);
    cells.push({ cell: c, emulated, error: (emulated - c.value) / c.value });
  }
  const pub = new Map<string, Cell>();
  for (const c of measurements ? measurementCells(measurements) : []) pub.set(`${specKey(cellSpec(c))}#${c.table}#${c.metric}`, c);
  const records = points.map((p, i) => {
    const r = results[i]!;
    const rec: ResultRecord = p.record(r);
    for (const metric of ["GBps", "first_us"] as const) {
      const c = pub.get(`${specKey(p.spec)}#${p.table}#${metric}`);
      if (c === undefined || !(metric in rec)) continue;
      (rec.published ??= {})[metric] = c.value;
      (rec.error ??= {})[metric] = Math.round(((cellValue(c, r) - c.value) / c.value) * 10000) / 10000;
    }
    rec.virtual_ns = r.virtualNs;
    rec.phases_ns = r.phases;
    rec.vmstat = r.vmstat;
    rec.stats = r.stats;
    rec.fallback = { ...r.fallback };
    return rec;
  });
  return {
    json: { profile: profile.name, seed, version: BENCH_VERSION, results: records },
    points, results, cells, wallMs,
  };
}

/**
 * Whether a comparison against a measurements file is in-sample: a profile fitted to the same file
 * reproduces cells it was fitted to, which says how well it fits, not how well it predicts.
 */
export function sampleStatus(profile: HardwareProfile, measurementsFile: string): string {
  const cal = profile.calibration;
  const base = (f: string) => f.replace(/^.*[\\/]/, "");
  if (cal === undefined) return `not fitted: profile ${profile.name} records no calibration, so no cell below was fitted`;
  if (base(cal.measurements) === base(measurementsFile)) {
    return `IN-SAMPLE: profile ${profile.name} was fitted to these ${cal.cells} cells (${cal.command}); the errors say how well it fits them, ` +
      "not how it predicts. Out-of-sample errors: pnpm mmemu calibrate --validate (docs/timing.md)";
  }
  return `out-of-sample: profile ${profile.name} was fitted to ${cal.measurements}, not to ${base(measurementsFile)}`;
}

/** Median and max of |error|, and how many cells miss 25%. */
export function fidelity(cells: readonly CellEval[]) {
  const abs = cells.map((c) => Math.abs(c.error)).sort((a, b) => a - b);
  const n = abs.length;
  const med = n === 0 ? NaN : n % 2 ? abs[n >> 1]! : (abs[n / 2 - 1]! + abs[n / 2]!) / 2;
  return { cells: n, medianAbs: med, maxAbs: n ? abs[n - 1]! : NaN, over25: abs.filter((e) => e > 0.25).length };
}

/**
 * The fidelity summary line. `plugged` names a selection other than the built-ins (plug-ins or other
 * built-ins): the published cells were measured with dcbm on PTDMA, so there the errors are how far the
 * selection is from that hardware, and the fidelity targets (which judge the built-in models) do not apply.
 */
export function fidelityLine(fid: ReturnType<typeof fidelity>, plugged: { migrator: string; engines: readonly string[] } | null): string {
  const spread = `median |error| ${(fid.medianAbs * 100).toFixed(1)}%`;
  if (plugged !== null) {
    return `difference from the ${fid.cells} published cells (measured with dcbm on PTDMA, not with migrator ${plugged.migrator}, engines ${plugged.engines.join(", ")}): ` +
      `${spread}, max ${(fid.maxAbs * 100).toFixed(1)}%, ${fid.over25} cells beyond 25%; the fidelity targets apply to the built-in models only`;
  }
  return `fidelity: ${fid.cells} published cells, ${spread} (target <= 10%: ${fid.medianAbs <= 0.1 ? "met" : "MISSED"}), ` +
    `max ${(fid.maxAbs * 100).toFixed(1)}%, ${fid.over25} cells beyond 25% (target 0: ${fid.over25 === 0 ? "met" : "MISSED"})`;
}

const f2 = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const pct = (e: number) => `${e >= 0 ? "+" : ""}${(e * 100).toFixed(0)}%`;

function cellText(emu: number, pub: Cell | undefined): string {
  if (!pub) return f2(emu);
  const e = (emu - pub.value) / pub.value;
  return `${f2(emu)} (${f2(pub.value)} ${pct(e)}${Math.abs(e) > 0.25 ? "!" : ""})`;
}

/** The three tables as text, published value and error beside each emulated cell. */
export function formatSeedTables(run: SeedRun, measurements: Measurements | null): string {
  const pub = new Map<string, Cell>();
  for (const c of measurements ? measurementCells(measurements) : []) pub.set(`${specKey(cellSpec(c))}#${c.metric}`, c);
  const resultOf = new Map<string, PoolResult>(run.points.map((p, i) => [specKey(p.spec), run.results[i]!]));
  const get = (spec: PointSpec, metric: "GBps" | "first_us") => {
    const r = resultOf.get(specKey(spec));
    if (!r) return "";
    return cellText(metric === "GBps" ? r.GBps : r.firstUs, pub.get(`${specKey(spec)}#${metric}`));
  };
  const out: string[] = [];
  const w = 22;
  // Throughput is GiB/s (the series' unit) throughout; 10^9-byte figures appear converted, which the reader must be told.
  if (measurements && gigabyteUnitOf(measurements) === "GB") out.push(`published GB/s read as 10^9 bytes/s (--gb GB or the file's units.gb) and shown converted to GiB/s (x ${(GIGABYTE_UNITS.GB / GIGABYTE_UNITS.GiB).toFixed(4)})`);
  out.push("throughput_by_folio_size: GiB/s, 1 GiB moved; emulated (published error)");
  out.push("config".padEnd(12) + FOLIO_SIZE_NAMES.map((s) => s.padEnd(w)).join(""));
  const rows: Array<[string, PointSpec[]]> = [];
  const tpRows = new Map<string, PointSpec[]>();
  for (const p of run.points) {
    if (p.table !== "throughput_by_folio_size") continue;
    const label = p.spec.config === "vanilla" ? "vanilla" : `dcbm ${p.spec.channels}ch`;
    if (!tpRows.has(label)) tpRows.set(label, []);
    tpRows.get(label)!.push(p.spec);
  }
  rows.push(...tpRows.entries());
  for (const [label, specs] of rows) out.push(label.padEnd(12) + specs.map((s) => get(s, "GBps").padEnd(w)).join(""));
  out.push("");
  for (const fs of ["4K", "2M"] as const) {
    out.push(`first_folio_latency_vanilla ${fs}: n folios per call; emulated (published error)`);
    out.push("n".padEnd(9) + "GiB/s".padEnd(w) + "first_us".padEnd(w));
    for (const p of run.points) {
      if (p.table !== "first_folio_latency_vanilla" || p.spec.folioSize !== fs) continue;
      out.push(String(p.spec.perCall).padEnd(9) + get(p.spec, "GBps").padEnd(w) + get(p.spec, "first_us").padEnd(w));
    }
    out.push("");
  }
  for (const fs of ["4K", "2M"] as const) {
    out.push(`first_folio_latency_offload ${fs}: N = NR_MAX_BATCHED_MIGRATION pages, 1 GiB moved; emulated (published error)`);
    out.push("N".padEnd(9) + "ch".padEnd(4) + "GiB/s".padEnd(w) + "first_us".padEnd(w));
    for (const p of run.points) {
      const s = p.spec;
      if (p.table !== "first_folio_latency_offload" || s.folioSize !== fs) continue;
      out.push(String(s.batchPages).padEnd(9) + String(s.channels).padEnd(4) + get(s, "GBps").padEnd(w) + get(s, "first_us").padEnd(w));
    }
    out.push("");
  }
  return out.join("\n");
}
