/**
 * A linearised surrogate of the emulator for affordable cross-validation: every cell's log value as
 * an affine function of the free parameters' logs, around a reference profile,
 *
 *   ln v_i(x) ~ ln v_i(x_ref) + sum_j J_ij (ln x_j - ln x_ref_j),
 *
 * with J from one forward difference per parameter (1 + P emulator evaluations in all, run
 * concurrently on the pool). A fold's fit then runs the same optimiser, objective, stages and bounds
 * as `calibrate` against the surrogate instead of the emulator (thousands of evaluations cost
 * milliseconds), starting from the base profile as a real refit would: a parameter the training
 * cells do not move stays at its base value, so nothing the held-out cells taught the reference
 * leaks into the fold. The fold's held-out cells are then predicted by the emulator itself at the
 * fold's parameters. This is the infinitesimal-jackknife / linearised cross-validation of statistics
 * (e.g. Giordano et al., "A Swiss Army Infinitesimal Jackknife", AISTATS 2019); its approximation is
 * the curvature of the model between the reference and a fold's optimum, which the final emulator
 * evaluation of the held-out cells does not share (it is exact at the fold's parameters).
 */
import { getParam, paramSpec, withParams, type HardwareProfile } from "@mmemu/timing";
import type { CellEval, CellEvaluator } from "./calibrate.js";
import { cellKey, type Cell } from "./measurements.js";

export interface Surrogate {
  readonly reference: HardwareProfile;
  readonly params: readonly string[];
  /** Cells it covers, in order. */
  readonly cells: readonly Cell[];
  /** ln of each cell's value at the reference. */
  readonly lnRef: Float64Array;
  /** J[i * P + j]: d ln v_i / d ln x_j. */
  readonly jacobian: Float64Array;
  /** The evaluator `calibrate` takes. */
  readonly evaluate: CellEvaluator;
}

/** Relative step of the forward differences (5%: well above the emulator's ns rounding, inside the curvature). */
export const JACOBIAN_STEP = 1.05;

export async function buildSurrogate(
  reference: HardwareProfile, params: readonly string[], cells: readonly Cell[],
  evaluate: CellEvaluator,
  /** The reference's own evaluation of `cells`, when the caller has it already. */
  atReference?: readonly CellEval[],
): Promise<Surrogate> {
  const P = params.length;
  const steps = params.map((path) => {
    const spec = paramSpec(reference.schema, path);
    const x = getParam(reference, path);
    // Step up unless that leaves the declared range; a parameter at 0 cannot be linearised in log space.
    if (!(x > 0)) throw new RangeError(`surrogate: ${path} is ${x}; only positive parameters can be linearised`);
    const round = (v: number) => (spec.integer === true ? Math.round(v) : Number(v.toPrecision(6)));
    let up = round(x * JACOBIAN_STEP);
    if (up === x) up = x + 1; // an integer too small for a 5% step
    return up <= spec.max ? up : round(x / JACOBIAN_STEP);
  });
  // Every variant is built (and validated) before anything is submitted to the pool.
  const variants = params.map((path, j) => withParams(reference, { [path]: steps[j]! }));
  const [base, ...moved] = await Promise.all([atReference ?? evaluate(reference, cells), ...variants.map((v) => evaluate(v, cells))]);
  const n = cells.length;
  const lnRef = new Float64Array(n);
  for (let i = 0; i < n; i++) lnRef[i] = Math.log(Math.max(base![i]!.emulated, 1e-12));
  const J = new Float64Array(n * P);
  params.forEach((path, j) => {
    const dx = Math.log(steps[j]! / getParam(reference, path));
    for (let i = 0; i < n; i++) J[i * P + j] = (Math.log(Math.max(moved[j]![i]!.emulated, 1e-12)) - lnRef[i]!) / dx;
  });
  const index = new Map<string, number>(cells.map((c, i) => [cellKey(c), i]));
  const lnX0 = params.map((p) => Math.log(getParam(reference, p)));
  const evaluateSurrogate: CellEvaluator = async (p, cs) => {
    const dl = params.map((path, j) => Math.log(getParam(p, path)) - lnX0[j]!);
    return cs.map((cell): CellEval => {
      const i = index.get(cellKey(cell));
      if (i === undefined) throw new RangeError("surrogate: a cell it was not built for");
      let l = lnRef[i]!;
      for (let j = 0; j < P; j++) l += J[i * P + j]! * dl[j]!;
      const emulated = Math.exp(l);
      return { cell, emulated, error: (emulated - cell.value) / cell.value };
    });
  };
  return { reference, params, cells, lnRef, jacobian: J, evaluate: evaluateSurrogate };
}
