/**
 * `mmemu calibrate [--measurements FILE] [--profile NAME] [--out FILE]`: fit the profile's free
 * parameters to a measurements file and write the fitted profile (see ../calibrate.ts for the method).
 */
import { rmSync } from "node:fs";
import { relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BUILTIN_COMPONENTS, type Components } from "@mmemu/components";
import { deriveProfile, loadProfile, paramSpec, profileToFile } from "@mmemu/timing";
import { calibrate, type CalibrateStage } from "../calibrate.js";
import { readMeasurements } from "../measurements.js";
import { writeFileAtomic } from "../output.js";
import { PointPool } from "../pool.js";
import { formatCellErrors } from "../tables.js";

/**
 * The published measurements of the series' V5 posting (a copy of shared/calibration/zen3-ptdma-v5.json
 * kept in the package, so the seed benchmark and calibration work from any directory and any clone).
 */
export const DEFAULT_MEASUREMENTS = fileURLToPath(new URL("../../data/zen3-ptdma-v5.json", import.meta.url));

export interface CalibrateArgs {
  readonly measurements: string;
  readonly profile: string;
  readonly out?: string;
  readonly name?: string;
  readonly maxEvals?: number;
  readonly threads?: number;
  readonly seed?: number;
  readonly stages?: readonly CalibrateStage[];
  /** The components every point runs with (their sections are in the profile). @default the built-ins */
  readonly components?: Components;
  /** Parameters fitted besides the profile's free list ("section.name"). */
  readonly free?: readonly string[];
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
  const ms = readMeasurements(a.measurements);
  const pool = new PointPool(a.threads, components);
  const t0 = performance.now();
  try {
    const r = await calibrate({
      base, measurements: ms, pool, configs: new Set(["vanilla", "dcbm"]),
      workload: { seed: a.seed ?? 1 },
      ...(a.maxEvals !== undefined ? { maxEvals: a.maxEvals } : {}),
      ...(a.stages !== undefined ? { stages: a.stages } : {}),
      log: (l) => console.log(l),
      onImprove: (p) => {
        // A checkpoint beside the output, so hours of fitting survive an interruption; removed at the end.
        if (a.out) writeFileAtomic(`${a.out}.partial`, JSON.stringify({ ...profileToFile(p), name: "checkpoint" }, null, 1) + "\n");
      },
    });
    console.log(formatCellErrors(r.cells));
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
    console.log(`cells ${r.cells.length} (skipped ${r.skipped.length}), median |error| ${(med * 100).toFixed(1)}%, max ${((abs[abs.length - 1] ?? 0) * 100).toFixed(1)}%, objective ${r.objective.toFixed(5)}, ${r.evaluations} evaluations, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    const text = JSON.stringify(out, null, 1) + "\n";
    if (a.out) {
      writeFileAtomic(a.out, text);
      rmSync(`${a.out}.partial`, { force: true });
      console.log(`wrote ${a.out}`);
    } else {
      // Without --out the fit is not thrown away: it is printed, ready to save as a profile file.
      console.log("the fitted profile (no --out was given; save it to a file to use it with --profile):");
      process.stdout.write(text);
    }
    return 0;
  } finally {
    await pool.close();
  }
}
