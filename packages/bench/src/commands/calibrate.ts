/**
 * `mmemu calibrate [--measurements FILE] [--profile NAME] [--out FILE]`: fit the profile's free
 * parameters to a measurements file and write the fitted profile (see ../calibrate.ts for the method).
 */
import { rmSync } from "node:fs";
import { relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BUILTIN_COMPONENTS, type Components } from "@mmemu/components";
import { BUILTIN_SCHEMA } from "@mmemu/components";
import { deriveProfile, loadProfile, paramSpec, profileToFile, type HardwareProfile } from "@mmemu/timing";
import { calibrate, calibrateLinearised, type CalibrateStage } from "../calibrate.js";
import { crossValidate, formatValidation, type ValidationMethod, type ValidationScheme } from "../validate.js";
import { measurementCells, readMeasurements, type GigabyteUnit } from "../measurements.js";
import { cellSpec, specLabel } from "../points.js";
import { checkTraceArgs, emitJson, progressBar, traceOnePoint, type TraceCliArgs } from "./cli-common.js";
import { writeFileAtomic } from "../output.js";
import { PointPool } from "../pool.js";
import { EngineRunner } from "../sweep/engine.js";
import { QueueEngine } from "../sweep/queue.js";
import { formatCellErrors } from "../tables.js";

/**
 * The published measurements of the series' V5 posting (a copy of shared/calibration/zen3-ptdma-v5.json
 * kept in the package, so the seed benchmark and calibration work from any directory and any clone).
 */
export const DEFAULT_MEASUREMENTS = fileURLToPath(new URL("../../data/zen3-ptdma-v5.json", import.meta.url));

export interface CalibrateArgs {
  readonly measurements: string;
  /** What the measurements' GB is (`--gb`); absent: the file's `units.gb`, else 2^30 bytes. */
  readonly gb?: GigabyteUnit;
  readonly profile: string;
  readonly out?: string;
  readonly name?: string;
  readonly maxEvals?: number;
  readonly maxFolios?: number;
  readonly threads?: number;
  /** Evaluate points on `mmemu worker`s through this Redis instead of local threads. */
  readonly queue?: string;
  readonly queueName?: string;
  readonly seed?: number;
  readonly stages?: readonly CalibrateStage[];
  /** The components every point runs with (their sections are in the profile). @default the built-ins */
  readonly components?: Components;
  /** Parameters fitted besides the profile's free list ("section.name"). */
  readonly free?: readonly string[];
  /** Outer iterations of the linearised fit; absent: coordinate descent on the emulator. */
  readonly linearised?: number;
  /** Trace one published cell's point on the fitted profile. */
  readonly trace?: TraceCliArgs;
  /** `--json`: true prints the result to stdout (the log then goes to stderr); a string names a file. */
  readonly json?: string | boolean;
  readonly quiet?: boolean;
}

export async function runCalibrateCommand(a: CalibrateArgs, argv: readonly string[]): Promise<number> {
  const components = a.components ?? BUILTIN_COMPONENTS;
  const loaded = loadProfile(a.profile, components.schema);
  for (const f of a.free ?? []) {
    try {
      paramSpec(components.schema, f);
    } catch {
      throw new Error(`--free ${f}: no parameter "${f}" (sections: ${components.schema.names.join(", ")})`);
    }
  }
  const extra = (a.free ?? []).filter((f) => !loaded.free.includes(f));
  const base = extra.length === 0 ? loaded : deriveProfile(loaded, (d) => void d.free.push(...extra));
  const ms = readMeasurements(a.measurements, a.gb);
  const cellsAll = measurementCells(ms);
  const traced = a.trace !== undefined ? checkTraceArgs(a.trace, cellsAll.length) : null;
  const engine = a.queue !== undefined ? await QueueEngine.open({ url: a.queue, ...(a.queueName !== undefined ? { name: a.queueName } : {}) }) : null;
  const local = engine === null ? new PointPool(a.threads, components) : null;
  const pool = engine !== null ? new EngineRunner(engine, components) : local!;
  const t0 = performance.now();
  // With --json on stdout, everything else goes to stderr.
  const bar = progressBar("calibrate", a.quiet === true);
  const say = a.json === true ? (l: string) => console.error(l) : bar.log;
  try {
    const opts = {
      base, measurements: ms, pool, configs: new Set(["vanilla", "dcbm"]),
      workload: { seed: a.seed ?? 1 },
      ...(a.maxEvals !== undefined ? { maxEvals: a.maxEvals } : {}),
      ...(a.maxFolios !== undefined ? { maxFolios: a.maxFolios } : {}),
      ...(a.stages !== undefined ? { stages: a.stages } : {}),
      log: say,
      onEvaluation: (_stage: CalibrateStage, used: number, budget: number) => bar.update(used, budget),
      onImprove: (p: HardwareProfile) => {
        if (a.out) writeFileAtomic(`${a.out}.partial`, JSON.stringify({ ...profileToFile(p), name: "checkpoint" }, null, 1) + "\n");
      },
    };
    const r = a.linearised !== undefined ? await calibrateLinearised({ ...opts, outer: a.linearised }) : await calibrate(opts);
    bar.stop();
    say(formatCellErrors(r.cells));
    const abs = r.cells.map((c) => Math.abs(c.error)).sort((x, y) => x - y);
    const med = abs.length ? (abs.length % 2 ? abs[abs.length >> 1]! : (abs[abs.length / 2 - 1]! + abs[abs.length / 2]!) / 2) : 0;
    const name = a.name ?? (a.out ? a.out.replace(/^.*\//, "").replace(/\.json$/, "") : base.name);
    const file = profileToFile(r.profile);
    const out = {
      ...file,
      name,
      // A refit of a fitted profile says so once, naming the profile it started from.
      description: base.description.replace(/ Uncalibrated starting point[^.]*\.[^.]*\./, "").replace(/ Fitted by mmemu calibrate from [^ ]*\.$/, "") + ` Fitted by mmemu calibrate from ${base.name}.`,
      calibration: {
        // Relative to where the command ran (the repository root in the docs), so the file names no host path.
        measurements: relative(process.cwd(), resolve(a.measurements)),
        command: `pnpm mmemu ${argv.join(" ")}`,
        base: base.name,
        cells: r.cells.length,
        median_abs_error: Number(med.toFixed(4)),
        max_abs_error: Number((abs[abs.length - 1] ?? 0).toFixed(4)),
        objective: Number(r.objective.toFixed(6)),
        evaluations: r.evaluations,
      },
    };
    if (a.out) rmSync(`${a.out}.partial`, { force: true });
    say(`cells ${r.cells.length} (skipped ${r.skipped.length}), median |error| ${(med * 100).toFixed(1)}%, max ${((abs[abs.length - 1] ?? 0) * 100).toFixed(1)}%, objective ${r.objective.toFixed(5)}, ${r.evaluations} evaluations, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    if (a.out) {
      writeFileAtomic(a.out, JSON.stringify(out, null, 1) + "\n");
      say(`wrote ${a.out}`);
    } else if (a.json === undefined) {
      // Without --out (or --json) the fit is not thrown away: it is printed, ready to save as a profile file.
      console.log("the fitted profile (no --out was given; save it to a file to use it with --profile):");
      process.stdout.write(JSON.stringify(out, null, 1) + "\n");
    }
    const note = emitJson(a.json, {
      profile: out, cells: r.cells.map((c) => ({ table: c.cell.table, metric: c.cell.metric, config: c.cell.config, channels: c.cell.channels, folio_size: c.cell.folioSize, ...(c.cell.n !== undefined ? { n: c.cell.n } : {}), ...(c.cell.N !== undefined ? { N: c.cell.N } : {}), published: c.cell.value, emulated: c.emulated, error: c.error })),
    });
    if (note !== null) say(note);
    if (traced !== null && a.trace !== undefined) {
      const spec = cellSpec(cellsAll[traced.index]!);
      say(traceOnePoint(r.profile, components, spec, specLabel(spec), a.seed ?? 1, a.trace));
    }
    return 0;
  } finally {
    bar.stop();
    await engine?.close();
    await local?.close();
  }
}

export interface ValidateArgs extends CalibrateArgs {
  readonly reference: string;
  readonly schemes: readonly ValidationScheme[];
  readonly k: number;
  readonly markdown: boolean;
  readonly method: ValidationMethod;
}

/** `mmemu calibrate --validate`: cross-validation, per-table out-of-sample errors beside in-sample ones. */
export async function runValidateCommand(a: ValidateArgs): Promise<number> {
  const base = loadProfile(a.profile, BUILTIN_SCHEMA);
  const reference = loadProfile(a.reference, BUILTIN_SCHEMA);
  const ms = readMeasurements(a.measurements, a.gb);
  const pool = new PointPool(a.threads);
  try {
    const r = await crossValidate({
      base, reference, measurements: ms, pool, configs: new Set(["vanilla", "dcbm"]),
      workload: { seed: a.seed ?? 1 }, maxEvals: a.maxEvals ?? 150, schemes: a.schemes, k: a.k, method: a.method,
      ...(a.maxFolios !== undefined ? { maxFolios: a.maxFolios } : {}),
      ...(a.stages !== undefined ? { stages: a.stages } : {}),
      log: (l) => console.log(l),
    });
    console.log(`\nin-sample: ${reference.name} (fitted to every cell); out-of-sample: folds fitted from ${base.name} ` +
      `(${r.method === "linear" ? `against the emulator linearised around ${reference.name}` : "against the emulator"}, ${r.maxEvals} evaluations per stage), ` +
      `held-out cells predicted by the emulator; runs of at most ${r.maxFolios} folios; ${r.emulatorEvaluations} emulator evaluations, ${(r.wallMs / 1000).toFixed(0)} s on ${pool.threads} threads`);
    console.log(formatValidation(r, a.markdown));
    if (a.out) {
      const json = {
        base: base.name, reference: reference.name, method: r.method, emulator_evaluations: r.emulatorEvaluations, max_evals: r.maxEvals, max_folios: r.maxFolios, k: r.k, wall_s: Math.round(r.wallMs / 1000),
        tables: [...r.tables, r.overall],
        folds: r.folds.map((f) => ({
          scheme: f.scheme, name: f.name, train_cells: f.trainCells, evaluations: f.evaluations,
          predictions: f.predictions.map((p) => ({ ...p.cell, emulated: p.emulated, error: p.error })),
          profile: profileToFile(f.profile),
        })),
      };
      writeFileAtomic(a.out, JSON.stringify(json, null, 1) + "\n");
      console.log(`wrote ${a.out}`);
    }
    return 0;
  } finally {
    await pool.close();
  }
}
