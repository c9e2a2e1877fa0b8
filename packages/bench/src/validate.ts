/**
 * Cross-validation of the calibration: does a profile fitted to some published cells predict the
 * others? Two schemes, both starting every fold's fit from the same base profile (never from a
 * profile already fitted to the held-out cells, which would leak them):
 *  - leave one table out: the measurements' tables (each published sub-table: the vanilla and dcbm
 *    rows of the throughput table, the 4K and 2M rows of each latency table) are held out in turn;
 *    the fit sees the others and predicts the held-out one. This is the question a user asks of a
 *    configuration nobody measured.
 *  - k-fold over cells: the cells are dealt into k folds by a seeded shuffle; each fold is predicted
 *    by a fit to the other k-1.
 * Every cell is predicted exactly once per scheme, so the per-table out-of-sample figures are the
 * median and 90th percentile of |error| over that table's cells. The in-sample figures beside them
 * are those of a reference profile fitted to every cell (the shipped profile, normally).
 *
 * Folds are fitted concurrently on one worker pool (each fit's evaluations queue on the same threads,
 * so both cores stay busy), with a reduced per-stage evaluation budget: cross-validation asks how
 * well the model structure predicts, and the figures are stated with the budget that produced them.
 */
import { Prng } from "@mmemu/kernel";
import { getParam, type HardwareProfile } from "@mmemu/timing";
import { calibrate, DEFAULT_MAX_FOLIOS, evaluateCells, type CalibrateStage, type CellEval, type CellEvaluator } from "./calibrate.js";
import { buildSurrogate } from "./surrogate.js";
import { cellKey, measurementCells, type Cell, type Measurements } from "./measurements.js";
import type { PointPool } from "./pool.js";
import type { WorkloadOptions } from "./workload.js";

/** The published sub-table a cell belongs to (the unit leave-one-table-out holds out). */
export function tableOf(c: Cell): string {
  switch (c.table) {
    case "throughput_by_folio_size":
      return `throughput ${c.config}`;
    case "first_folio_latency_vanilla":
      return `latency vanilla ${c.folioSize}`;
    case "first_folio_latency_offload":
      return `latency dcbm ${c.folioSize}`;
  }
}

export type ValidationScheme = "table" | "kfold";
export const VALIDATION_SCHEMES: readonly ValidationScheme[] = ["table", "kfold"];

/**
 * How a fold is fitted: "linear" runs the optimiser against the emulator linearised around the
 * reference (./surrogate.ts: 1 + P emulator evaluations for every fold together), "refit" against the
 * emulator itself (the budget's evaluations per stage and fold). Both predict the held-out cells with
 * the emulator at the fold's parameters.
 */
export type ValidationMethod = "linear" | "refit";
export const VALIDATION_METHODS: readonly ValidationMethod[] = ["linear", "refit"];

export interface ValidateOptions {
  /** Profile every fold's fit starts from (its `free` list and `bounds` are what is fitted). */
  readonly base: HardwareProfile;
  /** Profile fitted to every cell, whose errors are the in-sample figures. */
  readonly reference: HardwareProfile;
  readonly measurements: Measurements;
  readonly pool: PointPool;
  readonly configs: ReadonlySet<string>;
  readonly workload?: WorkloadOptions;
  /** Evaluation budget per stage of each fold's fit. */
  readonly maxEvals: number;
  /** @default "linear" */
  readonly method?: ValidationMethod;
  /** Largest run (folios) used while fitting and predicting. @default DEFAULT_MAX_FOLIOS */
  readonly maxFolios?: number;
  readonly stages?: readonly CalibrateStage[];
  /** Schemes to run. @default both */
  readonly schemes?: readonly ValidationScheme[];
  /** Folds of the k-fold scheme. @default 5 */
  readonly k?: number;
  /** Seed of the k-fold shuffle. @default 1 */
  readonly seed?: number;
  readonly log?: (line: string) => void;
}

/** One fold: which cells it held out, what its fit predicted for them. */
export interface FoldResult {
  readonly scheme: ValidationScheme;
  readonly name: string;
  readonly trainCells: number;
  readonly evaluations: number;
  /** The fold's fitted profile. */
  readonly profile: HardwareProfile;
  /** Predictions of the held-out cells. */
  readonly predictions: readonly CellEval[];
}

export interface ErrorSummary {
  readonly cells: number;
  readonly median: number;
  readonly p90: number;
  readonly max: number;
}

export interface TableValidation {
  readonly table: string;
  readonly inSample: ErrorSummary;
  readonly table_out?: ErrorSummary;
  readonly kfold?: ErrorSummary;
}

export interface ValidationReport {
  readonly folds: readonly FoldResult[];
  readonly tables: readonly TableValidation[];
  /** Over every cell. */
  readonly overall: TableValidation;
  readonly maxEvals: number;
  readonly maxFolios: number;
  readonly k: number;
  readonly method: ValidationMethod;
  /** Emulator evaluations of the whole run (fold fits against the surrogate are not counted). */
  readonly emulatorEvaluations: number;
  readonly wallMs: number;
}

/** The fixed (not free) parameters on which two profiles differ: a reference must be a fit of the base. */
export function fixedDifferences(base: HardwareProfile, reference: HardwareProfile): string[] {
  const free = new Set(base.free);
  const out: string[] = [];
  for (const s of base.schema.sections) {
    for (const name of Object.keys(s.table)) {
      const path = `${s.name}.${name}`;
      if (!free.has(path) && getParam(base, path) !== getParam(reference, path)) out.push(`${path} (${getParam(base, path)} vs ${getParam(reference, path)})`);
    }
  }
  return out;
}

/** Quantile q of sorted values (linear interpolation between order statistics). */
function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Median, 90th percentile and max of |error| over some cell evaluations. */
export function summarise(evals: readonly CellEval[]): ErrorSummary {
  const abs = evals.map((e) => Math.abs(e.error)).sort((a, b) => a - b);
  return { cells: abs.length, median: quantile(abs, 0.5), p90: quantile(abs, 0.9), max: abs.length ? abs[abs.length - 1]! : NaN };
}

/** The k-fold assignment: a seeded shuffle of the cell indices dealt round robin into k folds. */
export function kfoldAssignment(n: number, k: number, seed: number): number[] {
  if (!Number.isInteger(k) || k < 2 || k > n) throw new RangeError(`--k must be a whole number from 2 to the number of cells (${n}), got ${k}`);
  const rng = new Prng(seed).stream("kfold");
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const fold = new Array<number>(n);
  order.forEach((cellIndex, pos) => { fold[cellIndex] = pos % k; });
  return fold;
}

/** Run the cross-validation. */
export async function crossValidate(o: ValidateOptions): Promise<ValidationReport> {
  const t0 = performance.now();
  const log = o.log ?? (() => {});
  const workload = o.workload ?? {};
  const maxFolios = o.maxFolios ?? DEFAULT_MAX_FOLIOS;
  const k = o.k ?? 5;
  const schemes = o.schemes ?? VALIDATION_SCHEMES;
  const cells = measurementCells(o.measurements).filter((c) => o.configs.has(c.config));
  const index = new Map<string, number>(cells.map((c, i) => [cellKey(c), i]));
  const tables = [...new Set(cells.map(tableOf))];

  const folds: Array<{ scheme: ValidationScheme; name: string; held: (c: Cell) => boolean }> = [];
  if (schemes.includes("table")) {
    if (tables.length < 2) throw new Error("cross-validation: leaving one table out needs cells from at least two tables");
    for (const t of tables) folds.push({ scheme: "table", name: `without ${t}`, held: (c) => tableOf(c) === t });
  }
  if (schemes.includes("kfold")) {
    const assign = kfoldAssignment(cells.length, k, o.seed ?? 1);
    for (let f = 0; f < k; f++) folds.push({ scheme: "kfold", name: `fold ${f + 1}/${k}`, held: (c) => assign[index.get(cellKey(c))!] === f });
  }

  const method = o.method ?? "linear";
  let emulatorEvaluations = 0;
  const emulate: CellEvaluator = (p, cs) => {
    emulatorEvaluations++;
    return evaluateCells(o.pool, p, cs, workload, maxFolios);
  };
  let reference: CellEval[];
  let fitEval: CellEvaluator | undefined;
  if (method === "linear") {
    const differ = fixedDifferences(o.base, o.reference);
    if (differ.length > 0) throw new Error(`cross-validation: reference ${o.reference.name} is not a fit of ${o.base.name}: fixed parameters differ: ${differ.join(", ")}`);
    log(`linearising around ${o.reference.name}: ${o.base.free.length + 1} emulator evaluations`);
    const sur = await buildSurrogate(o.reference, o.base.free, cells, emulate);
    reference = await sur.evaluate(o.reference, cells);
    fitEval = sur.evaluate;
  } else {
    reference = await emulate(o.reference, cells);
  }
  // Every fold's fit runs concurrently (on the same pool when refitting).
  const results = await Promise.all(
    folds.map(async (f): Promise<FoldResult> => {
      const train = (c: Cell) => !f.held(c);
      const fit = await calibrate({
        base: o.base, measurements: o.measurements, pool: o.pool, configs: o.configs, workload,
        maxEvals: o.maxEvals, maxFolios, include: train,
        ...(fitEval ? { evaluate: fitEval } : {}),
        ...(o.stages ? { stages: o.stages } : {}),
      });
      if (!fitEval) emulatorEvaluations += fit.evaluations;
      const heldOut = cells.filter(f.held);
      const predictions = await emulate(fit.profile, heldOut);
      const s = summarise(predictions);
      log(`${f.scheme === "table" ? "leave-one-table-out" : "k-fold"} ${f.name}: ${fit.cells.length} cells fitted (${fit.evaluations} evaluations), ` +
        `${heldOut.length} predicted: median |error| ${(s.median * 100).toFixed(1)}%, p90 ${(s.p90 * 100).toFixed(1)}%`);
      return { scheme: f.scheme, name: f.name, trainCells: fit.cells.length, evaluations: fit.evaluations, profile: fit.profile, predictions };
    }),
  );

  const outOf = (scheme: ValidationScheme, pick: (c: Cell) => boolean) =>
    results.filter((r) => r.scheme === scheme).flatMap((r) => r.predictions.filter((p) => pick(p.cell)));
  const row = (label: string, pick: (c: Cell) => boolean): TableValidation => ({
    table: label,
    inSample: summarise(reference.filter((e) => pick(e.cell))),
    ...(schemes.includes("table") ? { table_out: summarise(outOf("table", pick)) } : {}),
    ...(schemes.includes("kfold") ? { kfold: summarise(outOf("kfold", pick)) } : {}),
  });
  return {
    folds: results,
    tables: tables.map((t) => row(t, (c) => tableOf(c) === t)),
    overall: row("all cells", () => true),
    maxEvals: o.maxEvals, maxFolios, k, method, emulatorEvaluations,
    wallMs: performance.now() - t0,
  };
}

const pc = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? "-" : `${(x * 100).toFixed(1)}%`);

/** The per-table report: in-sample beside out-of-sample median and p90 |error|. */
export function formatValidation(r: ValidationReport, markdown = false): string {
  const head = ["table", "cells", "in-sample median", "in-sample p90", "leave-table-out median", "leave-table-out p90", `${r.k}-fold median`, `${r.k}-fold p90`];
  const rows = [...r.tables, r.overall].map((t) => [
    t.table, String(t.inSample.cells), pc(t.inSample.median), pc(t.inSample.p90),
    pc(t.table_out?.median), pc(t.table_out?.p90), pc(t.kfold?.median), pc(t.kfold?.p90),
  ]);
  if (markdown) {
    return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((x) => `| ${x.join(" | ")} |`)].join("\n");
  }
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i]!.length)));
  const line = (x: string[]) => x.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  ");
  return [line(head), ...rows.map(line)].join("\n");
}
