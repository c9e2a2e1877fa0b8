/**
 * Calibration: fit a profile's declared free parameters to a measurements file by running the emulator
 * on the measured configurations.
 *
 * Procedure (deterministic, documented in docs/timing.md):
 *  - Objective: mean over the published cells of a robust (pseudo-Huber) loss of l = ln(emulated /
 *    published): quadratic within ~5%, linear beyond, so a 10% miss costs the same on a 3 GB/s cell as
 *    on a 65 GB/s one and a cell the model cannot follow does not drag every parameter toward it.
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
import { deriveProfile, getParam, paramSpec, withParams, type HardwareProfile } from "@mmemu/timing";
import { buildSurrogate } from "./surrogate.js";
import { measurementCells, type Cell, type Measurements } from "./measurements.js";
import { cellSpec, cellValue, scaledSpec, specKey } from "./points.js";
import type { PointSpec, WorkloadOptions } from "./workload.js";

/** Runs points on a profile, results in spec order: the local PointPool, or a sweep engine's EngineRunner. */
export interface PointRunner {
  runAll(profile: HardwareProfile, specs: readonly PointSpec[], opts?: WorkloadOptions): Promise<ReadonlyArray<{ readonly GBps: number; readonly firstUs: number }>>;
}

export interface CalibrateOptions {
  readonly base: HardwareProfile;
  readonly measurements: Measurements;
  readonly pool: PointRunner;
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
  /** Called after every evaluation with the stage's evaluations so far and its budget (progress bars). */
  readonly onEvaluation?: (stage: CalibrateStage, used: number, budget: number) => void;
  /** Called with the profile after every accepted step (checkpoints). */
  readonly onImprove?: (p: HardwareProfile) => void;
  /** Largest run (folios) used while fitting. @default DEFAULT_MAX_FOLIOS */
  readonly maxFolios?: number;
  /** Stages to run, in order. @default ["cpu", "dma", "joint"] */
  readonly stages?: readonly CalibrateStage[];
  /** Fit only these cells (cross-validation folds); default every cell of the measurements. */
  readonly include?: (c: Cell) => boolean;
  /**
   * How a profile's cells are evaluated; default running the emulator (evaluateCells). Cross-validation
   * passes a linearised surrogate (./surrogate.ts) here.
   */
  readonly evaluate?: CellEvaluator;
}

/**
 * Largest run used while fitting: longer points run at 8192 and 4096 folios and are extrapolated
 * (evaluateCells). 8192 rather than 4096 since a call starts with its working set cold (cpu.warm_set_*,
 * fading over ~1300 folios): at 4096 the warm-up biased the extrapolation (~3% on 4K throughput) and
 * the per-batch median first-folio latency of long calls (+30%).
 */
export const DEFAULT_MAX_FOLIOS = 8192;

/**
 * `mmemu calibrate`'s default method: 4 iterations of successive linearisation (calibrateLinearised),
 * the method the shipped zen3-ptdma was fitted with, so the default command reproduces it. Each
 * iteration costs 1 + P emulator evaluations of every cell against the hundreds per stage of
 * coordinate descent on the emulator, which stays available (`--descent`).
 */
export const DEFAULT_LINEARISED = 4;
/** Default evaluation budget per stage: against the linearised emulator (milliseconds each), and on the emulator itself. */
export const DEFAULT_LINEARISED_MAX_EVALS = 1000;
export const DEFAULT_DESCENT_MAX_EVALS = 150;
/** Emulator evaluations of every cell that a linearised fit of `free` parameters uses at most. */
export const linearisedEvaluations = (outer: number, free: number): number => 1 + outer * (free + 1);

/** Evaluates cells on a profile. */
export type CellEvaluator = (p: HardwareProfile, cells: readonly Cell[]) => Promise<CellEval[]>;

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
 * Scale of the robust objective, in log error: a cell missing by less than ~5% costs about l^2/2 (least
 * squares), one missing by more costs about delta |l| (least absolute deviations), so a few cells the
 * model cannot follow (a mechanism it lacks, a noisy measurement) pull the fit no harder than their
 * size, instead of dragging every parameter toward them.
 */
export const ROBUST_DELTA = 0.05;

/**
 * Objective of a set of cell evaluations: the mean pseudo-Huber loss delta^2 (sqrt(1 + (l/delta)^2) - 1)
 * of l = ln(emulated/published). The log makes a 10% miss cost the same on a 3 GB/s cell as on a
 * 65 GB/s one; nothing in it refers to an acceptance tolerance.
 */
export function objectiveOf(evals: readonly CellEval[]): number {
  if (evals.length === 0) return 0;
  const d2 = ROBUST_DELTA * ROBUST_DELTA;
  let s = 0;
  for (const e of evals) {
    const l = Math.log(Math.max(e.emulated, 1e-12) / e.cell.value);
    s += d2 * (Math.sqrt(1 + (l * l) / d2) - 1);
  }
  return s / evals.length;
}

/**
 * Run the points of `cells` on a profile and compare. A point whose run is longer than `maxFolios`
 * folios is run twice, at `maxFolios` and at half that (same batch structure), and its time is
 * extrapolated to the full size: move_pages() time is affine in the folios moved once the run has
 * more than a few batches (fixed per-call and per-batch costs plus a steady cost per folio), so two
 * sizes give the full-size time, where one reduced run would spread the fixed costs over too few
 * folios (-3% on 4K dcbm throughput at 4096 folios). First-folio latency is a per-batch median and
 * is taken from the larger run.
 */
export async function evaluateCells(pool: PointRunner, profile: HardwareProfile, cells: readonly Cell[], workload: WorkloadOptions, maxFolios: number): Promise<CellEval[]> {
  const specs = new Map<string, PointSpec>();
  const add = (s: PointSpec) => {
    const k = specKey(s);
    specs.set(k, s);
    return k;
  };
  const plan = cells.map((c) => {
    const full = cellSpec(c);
    const big = scaledSpec(full, maxFolios);
    if (big === full) return { full, big: add(big), small: null, smallSpec: null, bigSpec: big };
    const smallSpec = scaledSpec(full, maxFolios >> 1);
    return { full, big: add(big), small: add(smallSpec), smallSpec, bigSpec: big };
  });
  const keys = [...specs.keys()];
  const results = await pool.runAll(profile, keys.map((k) => specs.get(k)!), workload);
  const byKey = new Map(keys.map((k, i) => [k, results[i]!]));
  return cells.map((cell, i) => {
    const p = plan[i]!;
    const rb = byKey.get(p.big)!;
    let emulated = cellValue(cell, rb);
    if (p.small !== null && cell.metric === "GBps") {
      // Times (bytes / throughput, any one unit) extrapolated linearly in the folios moved.
      const tb = p.bigSpec.totalBytes / rb.GBps;
      const ts = p.smallSpec!.totalBytes / byKey.get(p.small)!.GBps;
      const fb = p.bigSpec.totalBytes, fs = p.smallSpec!.totalBytes, ff = p.full.totalBytes;
      emulated = ff / (tb + ((tb - ts) * (ff - fb)) / (fb - fs));
    }
    return { cell, emulated, error: (emulated - cell.value) / cell.value };
  });
}

export async function calibrate(o: CalibrateOptions): Promise<CalibrateResult> {
  const log = o.log ?? (() => {});
  const workload = o.workload ?? {};
  const maxFolios = o.maxFolios ?? DEFAULT_MAX_FOLIOS;
  const all = measurementCells(o.measurements);
  const include = o.include ?? (() => true);
  const cells = all.filter((c) => o.configs.has(c.config) && include(c));
  const skipped = all.filter((c) => !o.configs.has(c.config));
  const free = o.free ?? o.base.free;
  const evaluate: CellEvaluator = o.evaluate ?? ((p, cs) => evaluateCells(o.pool, p, cs, workload, maxFolios));
  for (const f of free) paramSpec(o.base.schema, f); // unknown names fail here, by name
  let profile = clampToBounds(o.base, free, log);
  let evaluations = 0;
  const stages: Array<{ name: CalibrateStage; params: string[]; cells: Cell[]; step: number }> = [
    { name: "cpu", params: free.filter((f) => !isDmaParam(o.base.schema, f)), cells: cells.filter((c) => c.config === "vanilla"), step: o.initialStep ?? 1.5 },
    { name: "dma", params: free.filter((f) => isDmaParam(o.base.schema, f)), cells: cells.filter((c) => c.config === "dcbm"), step: o.initialStep ?? 1.5 },
    { name: "joint", params: [...free], cells, step: JOINT_STEP },
  ];
  const wanted = new Set(o.stages ?? CALIBRATE_STAGES);
  const budget = o.maxEvals ?? DEFAULT_DESCENT_MAX_EVALS;
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
    const budgetOfStage = o.maxEvals ?? DEFAULT_DESCENT_MAX_EVALS;
    let stageEvals = 0;
    const evalProfile = async (p: HardwareProfile) => {
      evaluations++;
      const obj = objectiveOf(await evaluate(p, stage.cells));
      o.onEvaluation?.(stage.name, ++stageEvals, budgetOfStage);
      return obj;
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
  const final = await evaluate(profile, cells);
  evaluations++;
  return { profile, objective: objectiveOf(final), evaluations, cells: final, skipped };
}

/** "42 s", "12 min", "2.5 h". */
export function formatDuration(s: number): string {
  if (s < 120) return `${Math.ceil(s)} s`;
  if (s < 7200) return `${Math.ceil(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** A free parameter's plausible range: the profile's `bounds` inside the declared range. */
export function fitRange(p: HardwareProfile, path: string): [number, number] {
  const spec = paramSpec(p.schema, path);
  const b = p.bounds[path];
  return b ? [Math.max(spec.min, b[0]), Math.min(spec.max, b[1])] : [spec.min, spec.max];
}

/** The profile with every free parameter moved into its plausible range (a start from an older fit). */
export function clampToBounds(p: HardwareProfile, free: readonly string[], log: (l: string) => void = () => {}): HardwareProfile {
  const moved: Record<string, number> = {};
  for (const path of free) {
    const [lo, hi] = fitRange(p, path);
    const x = getParam(p, path);
    if (x < lo || x > hi) {
      moved[path] = x < lo ? lo : hi;
      log(`start: ${path} ${x} is outside its plausible range [${lo}, ${hi}]; starting from ${moved[path]}`);
    }
  }
  return Object.keys(moved).length > 0 ? withParams(p, moved) : p;
}

export interface LinearisedOptions extends CalibrateOptions {
  /** Outer iterations: each linearises the emulator around the current profile and fits the surrogate. */
  readonly outer: number;
  /** Largest factor a parameter may move by in one outer iteration at first. @default 2 */
  readonly trust?: number;
}

/**
 * Calibration by successive linearisation (a derivative-free Gauss-Newton with a trust region, as
 * parameter-estimation tools such as PEST do it): each outer iteration builds the linearised surrogate
 * of ./surrogate.ts around the current profile (1 + P emulator evaluations), runs the same staged
 * coordinate descent as {@link calibrate} against it with every free parameter confined to within a
 * trust factor of its current value (and to its plausible range), and evaluates the result with the
 * emulator. An improvement is kept; otherwise the trust factor is halved (in log) and the iteration
 * repeated. Same objective, stages, bounds and determinism as `calibrate`, at ~P + 2 emulator
 * evaluations per iteration instead of hundreds per stage.
 */
export async function calibrateLinearised(o: LinearisedOptions): Promise<CalibrateResult> {
  const log = o.log ?? (() => {});
  const workload = o.workload ?? {};
  const maxFolios = o.maxFolios ?? DEFAULT_MAX_FOLIOS;
  const all = measurementCells(o.measurements);
  const include = o.include ?? (() => true);
  const cells = all.filter((c) => o.configs.has(c.config) && include(c));
  const skipped = all.filter((c) => !o.configs.has(c.config));
  const free = o.free ?? o.base.free;
  if (!Number.isInteger(o.outer) || o.outer < 1) throw new RangeError(`--linearised must be a whole number of iterations >= 1, got ${o.outer}`);
  let evaluations = 0;
  const emulate: CellEvaluator = (p, cs) => {
    evaluations++;
    return evaluateCells(o.pool, p, cs, workload, maxFolios);
  };
  let profile = clampToBounds(o.base, free, log);
  let current = await emulate(profile, cells);
  let best = objectiveOf(current);
  let trust = Math.log(o.trust ?? 2);
  log(`linearised fit: ${free.length} parameters, ${cells.length} cells, start objective ${best.toFixed(5)}`);
  for (let it = 1; it <= o.outer && trust > Math.log(1.01); it++) {
    const sur = await buildSurrogate(profile, free, cells, emulate, current);
    const region = deriveProfile(profile, (d) => {
      for (const path of free) {
        const [lo, hi] = fitRange(profile, path);
        const x = getParam(profile, path);
        d.bounds[path] = [Math.max(lo, x / Math.exp(trust)), Math.min(hi, x * Math.exp(trust))];
      }
    });
    const fit = await calibrate({ ...o, base: region, free, evaluate: sur.evaluate, log: () => {}, onImprove: () => {} });
    const candidate = deriveProfile(fit.profile, (d) => { d.bounds = { ...o.base.bounds } as typeof d.bounds; });
    const evals = await emulate(candidate, cells);
    const obj = objectiveOf(evals);
    const predicted = fit.objective;
    if (obj < best) {
      log(`iteration ${it}: objective ${best.toFixed(5)} -> ${obj.toFixed(5)} (surrogate predicted ${predicted.toFixed(5)}), trust x${Math.exp(trust).toFixed(3)}; ${evaluations} emulator evaluations`);
      best = obj;
      profile = candidate;
      current = evals;
      o.onImprove?.(profile);
    } else {
      log(`iteration ${it}: objective ${obj.toFixed(5)} not below ${best.toFixed(5)} (surrogate predicted ${predicted.toFixed(5)}); trust x${Math.exp(trust).toFixed(3)} -> x${Math.exp(trust / 2).toFixed(3)}`);
      trust /= 2;
    }
  }
  return { profile, objective: best, evaluations, cells: current, skipped };
}
