/** The commander form of `mmemu calibrate`. */
import { Command } from "commander";
import { DEFAULT_MEASUREMENTS, runCalibrateCommand } from "./calibrate.js";
import { CALIBRATE_STAGES, type CalibrateStage } from "../calibrate.js";
import { intOption, outputPath, UsageError } from "../output.js";
import { parseThreads } from "../pool.js";
import { collectSet, componentOptions, componentsFrom, type ComponentFlags } from "./components.js";

/** The largest --max-evals accepted (per stage; 150 is the default, a few hundred a thorough fit). */
export const MAX_EVALS_LIMIT = 100_000;

export function calibrateCommand(): Command {
  return componentOptions(new Command("calibrate")
    .description("fit a profile's free parameters to a measurements file by running the emulator; prints per-cell errors")
    .option("--measurements <file>", "measurements file (shape of shared/calibration/zen3-ptdma-v5.json)", DEFAULT_MEASUREMENTS)
    .option("--profile <name>", "profile to start from (name or file)", "zen3-ptdma-base")
    .option("--out <file>", "write the fitted profile here (without it, the fitted profile is printed as JSON at the end)")
    .option("--max-evals <n>", "evaluation budget per stage (a whole number from 1)", "150")
    .option("--threads <n>", "worker threads")
    .option("--stages <list>", "stages to run, in order: cpu (vanilla cells), dma (dcbm cells), joint (everything)", CALIBRATE_STAGES.join(","))
    .option("--free <section.name>", "fit this parameter too (repeatable; e.g. a plug-in engine's xdma.chan_bw), besides the profile's free list", collectSet))
    .action(async (o: ComponentFlags & { measurements: string; profile: string; out?: string; maxEvals: string; threads?: string; stages: string; free?: string[] }) => {
      // Every option is checked before anything runs (a calibration takes minutes to hours).
      const stages = o.stages.split(",").map((x) => x.trim());
      for (const st of stages) {
        if (!(CALIBRATE_STAGES as readonly string[]).includes(st)) throw new UsageError(`--stages: unknown stage "${st}" (${CALIBRATE_STAGES.join(", ")})`);
      }
      const maxEvals = intOption("--max-evals", o.maxEvals, 1, MAX_EVALS_LIMIT);
      if (o.out !== undefined) outputPath("--out", o.out, "file");
      const components = await componentsFrom(o);
      process.exitCode = await runCalibrateCommand({
        measurements: o.measurements, profile: o.profile, maxEvals, components, free: o.free ?? [],
        stages: stages as CalibrateStage[],
        ...(o.out ? { out: o.out } : {}), ...(o.threads ? { threads: parseThreads(o.threads) } : {}),
      }, process.argv.slice(2));
    });
}
