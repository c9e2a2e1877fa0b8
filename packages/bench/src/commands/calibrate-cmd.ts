/** The commander form of `mmemu calibrate`. */
import { Command } from "commander";
import { DEFAULT_MEASUREMENTS, runCalibrateCommand } from "./calibrate.js";
import { CALIBRATE_STAGES, type CalibrateStage } from "../calibrate.js";
import { parseThreads } from "../pool.js";
import { collectSet, componentOptions, componentsFrom, type ComponentFlags } from "./components.js";
import { addQuietOption, addTraceOptions, type TraceCliArgs } from "./cli-common.js";

export function calibrateCommand(): Command {
  const cmd = componentOptions(new Command("calibrate")
    .description("fit a profile's free parameters to a measurements file by running the emulator; prints per-cell errors")
    .option("--measurements <file>", "measurements file (shape of shared/calibration/zen3-ptdma-v5.json)", DEFAULT_MEASUREMENTS)
    .option("--profile <name>", "profile to start from (name or file)", "zen3-ptdma-base")
    .option("--out <file>", "write the fitted profile here")
    .option("--max-evals <n>", "evaluation budget per stage", "150")
    .option("--threads <n>", "worker threads")
    .option("--stages <list>", "stages to run, in order: cpu (vanilla cells), dma (dcbm cells), joint (everything)", CALIBRATE_STAGES.join(","))
    .option("--free <section.name>", "fit this parameter too (repeatable; e.g. a plug-in engine's xdma.chan_bw), besides the profile's free list", collectSet)
    .option("--json [file]", "the fitted parameters and per-cell errors as JSON (to stdout, or to FILE); the log goes to stderr"));
  return addQuietOption(addTraceOptions(cmd))
    .action(async (o: TraceCliArgs & ComponentFlags & { measurements: string; profile: string; out?: string; maxEvals: string; threads?: string; stages: string; free?: string[]; json?: string | boolean; quiet?: boolean }) => {
      const stages = o.stages.split(",").map((x) => x.trim());
      for (const st of stages) {
        if (!(CALIBRATE_STAGES as readonly string[]).includes(st)) throw new Error(`--stages: unknown stage "${st}" (${CALIBRATE_STAGES.join(", ")})`);
      }
      const components = await componentsFrom(o);
      process.exitCode = await runCalibrateCommand({
        measurements: o.measurements, profile: o.profile, maxEvals: Number(o.maxEvals), components, free: o.free ?? [],
        stages: stages as CalibrateStage[], trace: o, ...(o.json !== undefined ? { json: o.json } : {}), quiet: o.quiet === true,
        ...(o.out ? { out: o.out } : {}), ...(o.threads ? { threads: parseThreads(o.threads) } : {}),
      }, process.argv.slice(2));
    });
}
