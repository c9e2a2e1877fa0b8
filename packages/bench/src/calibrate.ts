/**
 * Calibration: fit a profile's declared free parameters to a measurements file by running the emulator
 * on the measured configurations.
 *
 * Procedure (deterministic, documented in docs/timing.md):
 *  - Objective: mean over the published cells of l^2 with l = ln(emulated / published), so a 10% miss
 *    costs the same on a 3 GB/s cell as on a 65 GB/s one, plus 100 (|r| - 0.22)^2 for a cell whose
 *    relative error r = emulated / published - 1 is beyond 22% (the acceptance tolerance is 25% of r).
 *  - Points whose metrics do not depend on the amount moved are run smaller (scaledSpec); the seed
 *    benchmark then verifies the fit at full size.
 *  - Stages: CPU-side parameters against the vanilla cells first (they do not involve any DMA
 *    parameter), then the DMA/fabric/mapping parameters against the dcbm cells with the CPU fixed,
 *    then every parameter against every cell from there ("joint", starting with 10% steps): the CPU
 *    costs also shape the dcbm runs, which the first stage cannot see.
 *  - Optimiser: coordinate descent in log space within each parameter's plausible range (the
 *    profile's `bounds`, else the declared range). Each sweep
 *    tries every free parameter multiplied and divided by the current step factor, keeping a change
 *    only when it lowers the objective (ties keep the old value) and repeating an improving step
 *    while it keeps improving; a sweep with no improvement halves the log step. It stops when the
 *    step is below 0.5% or the evaluation budget is spent.
 */
import type { ParamSchema } from "@mmemu/kernel";
import { getParam, paramSpec, withParams, type HardwareProfile } from "@mmemu/timing";
import { measurementCells, type Cell, type Measurements } from "./measurements.js";
import { cellSpec, cellValue, scaledSpec, specKey } from "./points.js";
import type { PointPool } from "./pool.js";
import type { PointResult, PointSpec, WorkloadOptions } from "./workload.js";

export interface CalibrateOptions {
  readonly base: HardwareProfile;
  readonly measurements: Measurements;
  readonly pool: PointPool;
  /** Configs the emulator can run (cells of other configs are skipped and reported). */
  readonly configs: ReadonlySet<string>;
  readonly workload?: WorkloadOptions;
  /** Free parameters; default the profile's own `free` list. */
  readonly free?: readonly string[];
  /** Evaluation budget per stage. @default 150 */
  readonly maxEvals?: number;
  /** Starting log step factor. @default 1.5 */
  readonly initialStep?: number;
  /** Progress lines. */
  readonly log?: (line: string) => void;
  /** Called with the profile after every accepted step (checkpoints). */
  readonly onImprove?: (p: HardwareProfile) => void;
  /** Largest run (folios) used while fitting. @default 16384 */
  readonly maxFolios?: number;
  /** Stages to run, in order. @default ["cpu", "dma", "joint"] */
  readonly stages?: readonly CalibrateStage[];
}

/**
 * "cpu": CPU-side parameters against the vanilla cells; "dma": DMA-side parameters against the dcbm
 * cells; "joint": every free parameter against every cell, from where the first two ended (CPU costs
 * also shape the dcbm runs, which the cpu stage cannot see), with a smaller starting step.
 */
export type CalibrateStage = "cpu" | "dma" | "joint";
export const CALIBRATE_STAGES: readonly CalibrateStage[] = ["cpu", "dma", "joint"];
/** Starting log step factor of the joint stage: it refines a fit, so it starts with 10% moves. */
const JOINT_STEP = 1.1;

export interface CellEval {
  readonly cell: Cell;
  readonly emulated: number;
  readonly error: number;
}

export interface CalibrateResult {
  readonly profile: HardwareProfile;
  readonly objective: number;
  readonly evaluations: number;
  readonly cells: readonly CellEval[];
  readonly skipped: readonly Cell[];
}

/** Which stage a parameter belongs to, as its section declares: DMA-side parameters only move the offloaded cells. */
export function isDmaParam(schema: ParamSchema, path: string): boolean {
  return schema.stageOf(path) === "dma";
}

/**
 * Relative miss |emulated/published - 1| beyond which a cell is penalised: 22%, 3 points inside the
 * acceptance tolerance, which is stated on the relative error (so a 25% underestimate is as bad as a
 * 25% overestimate there, unlike in log space, where -25% is ln 0.75 = -0.29 and +25% is 0.22).
 */
const TOLERANCE_REL = 0.22;
/** Weight of the penalty on the part of a cell's relative error beyond {@link TOLERANCE_REL}. */
const TOLERANCE_WEIGHT = 100;

/**
 * Objective of a set of cell evaluations: the mean of l^2 + 100 max(0, |r| - 0.22)^2 with
 * l = ln(emulated/published) and r = emulated/published - 1. The first term is scale free (a 10% miss
 * costs the same on a 3 GB/s cell as on a 65 GB/s one); the second makes a cell near or beyond the
 * tolerance cost much more than spreading the same error over many cells, which is what the
 * acceptance criterion (every cell within 25%) asks for.
 */
export function objectiveOf(evals: readonly CellEval[]): number {
  if (evals.length === 0) return 0;
  let s = 0;
  for (const e of evals) {
    const ratio = Math.max(e.emulated, 1e-12) / e.cell.value;
    const l = Math.log(ratio);
    const over = Math.abs(ratio - 1) - TOLERANCE_REL;
    s += l * l + (over > 0 ? TOLERANCE_WEIGHT * over * over : 0);
  }
  return s / evals.length;
}

/** Run the points of `cells` on a profile and compare. */
export async function evaluateCells(pool: PointPool, profile: HardwareProfile, cells: readonly Cell[], workload: WorkloadOptions, maxFolios: number): Promise<CellEval[]> {
  const specs = new Map<string, PointSpec>();
  const keyOf = cells.map((c) => {
    const s = scaledSpec(cellSpec(c), maxFolios);
    const k = specKey(s);
    specs.set(k, s);
    return k;
  });
  const keys = [...specs.keys()];
  const results = await pool.runAll(profile, keys.map((k) => specs.get(k)!), workload);
  const byKey = new Map<string, PointResult>(keys.map((k, i) => [k, results[i]!]));
  return cells.map((cell, i) => {
    const emulated = cellValue(cell, byKey.get(keyOf[i]!)!);
    return { cell, emulated, error: (emulated - cell.value) / cell.value };
  });
}

export async function calibrate(o: CalibrateOptions): Promise<CalibrateResult> {
  const log = o.log ?? (() => {});
  const workload = o.workload ?? {};
  const maxFolios = o.maxFolios ?? 16384;
  const all = measurementCells(o.measurements);
  const cells = all.filter((c) => o.configs.has(c.config));
  const skipped = all.filter((c) => !o.configs.has(c.config));
  const free = o.free ?? o.base.free;
  for (const f of free) paramSpec(o.base.schema, f); // unknown names fail here, by name
  let profile = o.base;
  let evaluations = 0;
  const stages: Array<{ name: CalibrateStage; params: string[]; cells: Cell[]; step: number }> = [
    { name: "cpu", params: free.filter((f) => !isDmaParam(o.base.schema, f)), cells: cells.filter((c) => c.config === "vanilla"), step: o.initialStep ?? 1.5 },
    { name: "dma", params: free.filter((f) => isDmaParam(o.base.schema, f)), cells: cells.filter((c) => c.config === "dcbm"), step: o.initialStep ?? 1.5 },
    { name: "joint", params: [...free], cells, step: JOINT_STEP },
  ];
  const wanted = new Set(o.stages ?? CALIBRATE_STAGES);
  const budget = o.maxEvals ?? 150;
  // The most work the run can do, in cell runs: each requested stage's budget over its cells, plus the final evaluation.
  const plannedCellRuns = stages.reduce((n, st) => n + (wanted.has(st.name) && st.params.length > 0 ? budget * st.cells.length : 0), 0) + cells.length;
  log(`plan: at most ${budget} evaluations per stage (${[...wanted].join(", ")}), ${plannedCellRuns} cell runs in all; the first evaluation is timed to estimate the duration`);
  let estimated = false;
  for (const stage of stages) {
    if (!wanted.has(stage.name)) {
      log(`stage ${stage.name}: not requested`);
      continue;
    }
    if (stage.params.length === 0 || stage.cells.length === 0) {
      log(`stage ${stage.name}: skipped (${stage.params.length} parameters, ${stage.cells.length} cells)`);
      continue;
    }
    const evalProfile = async (p: HardwareProfile) => {
      evaluations++;
      return objectiveOf(await evaluateCells(o.pool, p, stage.cells, workload, maxFolios));
    };
    const t0 = performance.now();
    let best = await evalProfile(profile);
    if (!estimated) {
      estimated = true;
      const perCell = (performance.now() - t0) / 1000 / stage.cells.length;
      log(`expected duration: at most about ${formatDuration(perCell * plannedCellRuns)} (${perCell.toFixed(2)} s per cell run on the first evaluation; the search usually stops earlier)`);
    }
    log(`stage ${stage.name}: ${stage.params.length} parameters, ${stage.cells.length} cells, start objective ${best.toFixed(5)}`);
    let step = Math.log(stage.step);
    let used = 1;
    while (step > Math.log(1.005) && used < budget) {
      let improved = false;
      for (const path of stage.params) {
        const spec = paramSpec(o.base.schema, path);
        // The plausible physical range the profile declares for this machine, inside the declared one.
        const b = profile.bounds[path];
        const lo = b ? Math.max(spec.min, b[0]) : spec.min;
        const hi = b ? Math.min(spec.max, b[1]) : spec.max;
        for (const dir of [1, -1]) {
          // A step that improves is repeated in the same direction while it keeps improving.
          let moved = false;
          for (;;) {
            if (used >= budget) break;
            const cur = getParam(profile, path);
            // Parameters at 0 start from a small fraction of their range instead of staying at 0.
            const from = cur > 0 ? cur : Math.max(lo, hi * 1e-4);
            let next = Math.exp(Math.log(from) + dir * step);
            next = Math.min(hi, Math.max(lo, next));
            if (spec.integer === true) next = Math.round(next);
            next = Number(next.toPrecision(6));
            if (next === cur) break;
            const trial = withParams(profile, { [path]: next });
            const obj = await evalProfile(trial);
            used++;
            if (!(obj < best)) break;
            best = obj;
            profile = trial;
            improved = true;
            moved = true;
            log(`  ${path} ${cur} -> ${next}: objective ${obj.toFixed(5)} (evaluation ${used})`);
            o.onImprove?.(profile);
          }
          if (moved) break;
        }
      }
      if (!improved) step /= 2;
    }
    log(`stage ${stage.name}: objective ${best.toFixed(5)} after ${used} evaluations`);
  }
  const final = await evaluateCells(o.pool, profile, cells, workload, maxFolios);
  evaluations++;
  return { profile, objective: objectiveOf(final), evaluations, cells: final, skipped };
}

/** "42 s", "12 min", "2.5 h". */
export function formatDuration(s: number): string {
  if (s < 120) return `${Math.ceil(s)} s`;
  if (s < 7200) return `${Math.ceil(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
