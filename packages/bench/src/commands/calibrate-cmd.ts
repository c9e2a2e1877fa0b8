/** The commander form of `mmemu calibrate` (and of its cross-validation, `--validate`). */
import { Command } from "commander";
import { DEFAULT_MEASUREMENTS, runCalibrateCommand, runValidateCommand } from "./calibrate.js";
import { CALIBRATE_STAGES, DEFAULT_DESCENT_MAX_EVALS, DEFAULT_LINEARISED, DEFAULT_LINEARISED_MAX_EVALS, DEFAULT_MAX_FOLIOS, type CalibrateStage } from "../calibrate.js";
import { intOption, outputPath, UsageError } from "../output.js";
import { parseThreads } from "../pool.js";
import { DEFAULT_QUEUE_NAME } from "../sweep/queue.js";
import { queueOption } from "./sweep.js";
import { collectSet, componentOptions, componentsFrom, type ComponentFlags } from "./components.js";
import { addQuietOption, addTraceOptions, gigabyteOption, type TraceCliArgs } from "./cli-common.js";
import type { GigabyteUnit } from "../measurements.js";
import { VALIDATION_METHODS, VALIDATION_SCHEMES, type ValidationMethod, type ValidationScheme } from "../validate.js";
/** A comma-separated list whose items must be among `known`. */
function listOf<T extends string>(name: string, text: string, known: readonly T[]): T[] {
  const items = text.split(",").map((x) => x.trim());
  for (const it of items) if (!(known as readonly string[]).includes(it)) throw new Error(`${name}: unknown ${{ "--stages": "stage", "--schemes": "scheme" }[name] ?? "value"} "${it}" (${known.join(", ")})`);
  return items as T[];
}

/** The largest --max-evals accepted (per stage). */
export const MAX_EVALS_LIMIT = 100_000;

export function calibrateCommand(): Command {
  const cmd = componentOptions(new Command("calibrate")
    .description("fit a profile's free parameters to a measurements file by running the emulator; prints per-cell errors (with --validate: cross-validation, out-of-sample errors per table)")
    .option("--measurements <file>", "measurements file (shape of shared/calibration/zen3-ptdma-v5.json)", DEFAULT_MEASUREMENTS)
    .addOption(gigabyteOption())
    .option("--profile <name>", "profile to start from (name or file); with --validate, the start of every fold's fit", "zen3-ptdma-base")
    .option("--out <file>", "write the fitted profile here (with --validate: the report as JSON)")
    .option("--max-evals <n>", `evaluation budget per stage (per fold with --validate) (default: ${DEFAULT_LINEARISED_MAX_EVALS} against the linearised emulator, ${DEFAULT_DESCENT_MAX_EVALS} with --descent or --validate)`)
    .option("--max-folios <n>", "largest run, in folios, used while fitting (longer points run at n and n/2 folios and are extrapolated to their full size)", String(DEFAULT_MAX_FOLIOS))
    .option("--threads <n>", "worker threads")
    .addOption(queueOption())
    .option("--queue-name <name>", "queue name", DEFAULT_QUEUE_NAME)
    .option("--stages <list>", "stages to run, in order: cpu (vanilla cells), dma (dcbm cells), joint (everything)", CALIBRATE_STAGES.join(","))
    .option("--free <section.name>", "fit this parameter too (repeatable; e.g. a plug-in engine's xdma.chan_bw), besides the profile's free list", collectSet)
    .option("--linearised <n>", `fit by n iterations of successive linearisation (1 + P emulator runs each, the staged coordinate descent run against the linearised emulator) (default: ${DEFAULT_LINEARISED})`)
    .option("--descent", "fit by coordinate descent on the emulator itself (the staged descent, --max-evals emulator evaluations per stage) instead of successive linearisation")
    .option("--validate", "cross-validate instead of writing a fit: leave one table out and k-fold over cells, each fold fitted from --profile")
    .option("--reference <name>", "with --validate: the profile fitted to every cell, whose errors are the in-sample figures", "zen3-ptdma")
    .option("--schemes <list>", "with --validate: table (leave one table out), kfold", VALIDATION_SCHEMES.join(","))
    .option("--k <n>", "with --validate: folds of the k-fold scheme", "5")
    .option("--method <m>", "with --validate: linear (folds fitted against the emulator linearised around --reference; 1 + P emulator runs) or refit (folds fitted against the emulator)", "linear")
    .option("--markdown", "with --validate: print the report as a markdown table")
    .option("--json [file]", "the fitted parameters and per-cell errors as JSON (to stdout, or to FILE); the log goes to stderr"));
  return addQuietOption(addTraceOptions(cmd))
    .action(async (o: TraceCliArgs & ComponentFlags & { json?: string | boolean; quiet?: boolean } & {
      measurements: string; gb?: GigabyteUnit; profile: string; out?: string; maxEvals?: string; maxFolios: string; threads?: string; queue?: string; queueName: string; stages: string;
      free?: string[]; linearised?: string; descent?: boolean; validate?: boolean; reference: string; schemes: string; k: string; method: string; markdown?: boolean;
    }) => {
      if (o.queue !== undefined && o.threads !== undefined) throw new Error("--threads and --queue exclude each other (workers choose their own --concurrency)");
      const stages = listOf<CalibrateStage>("--stages", o.stages, CALIBRATE_STAGES);
      if (o.descent && o.linearised !== undefined) throw new UsageError("--descent and --linearised exclude each other (--descent fits on the emulator, --linearised on its linearisation)");
      if (o.validate && (o.descent || o.linearised !== undefined)) throw new UsageError("--descent and --linearised choose how a fit is made; with --validate the folds' method is --method");
      const linearised = o.descent || o.validate ? undefined : o.linearised !== undefined ? intOption("--linearised", o.linearised, 1, 1000) : DEFAULT_LINEARISED;
      const maxEvals = o.maxEvals !== undefined ? intOption("--max-evals", o.maxEvals, 1, MAX_EVALS_LIMIT) : linearised !== undefined ? DEFAULT_LINEARISED_MAX_EVALS : DEFAULT_DESCENT_MAX_EVALS;
      const maxFolios = intOption("--max-folios", o.maxFolios, 512, 262_144);
      if (o.out !== undefined) outputPath("--out", o.out, "file");
      if (typeof o.json === "string") outputPath("--json", o.json, "file");
      const components = await componentsFrom(o);
      const common = {
        measurements: o.measurements, ...(o.gb !== undefined ? { gb: o.gb } : {}), profile: o.profile, maxEvals, maxFolios, stages, components, free: o.free ?? [],
        trace: o, ...(o.json !== undefined ? { json: o.json } : {}), quiet: o.quiet === true,
        ...(o.out ? { out: o.out } : {}), ...(o.threads ? { threads: parseThreads(o.threads) } : {}),
        ...(o.queue !== undefined ? { queue: o.queue, queueName: o.queueName } : {}),
        ...(linearised !== undefined ? { linearised } : {}),
      };
      if (o.validate) {
        process.exitCode = await runValidateCommand({
          ...common, reference: o.reference, schemes: listOf<ValidationScheme>("--schemes", o.schemes, VALIDATION_SCHEMES),
          k: intOption("--k", o.k, 2, 1000), markdown: o.markdown === true,
          method: listOf<ValidationMethod>("--method", o.method, VALIDATION_METHODS)[0]!,
        });
        return;
      }
      process.exitCode = await runCalibrateCommand(common, process.argv.slice(2));
    });
}
