/**
 * `mmemu dmatest --engine NAME [--seed N] [--in-flight N] [--iommu MODE] [--set name=value ...]`: the
 * engine conformance kit of @mmemu/dmaengine (after Linux's drivers/dma/dmatest.c) on every channel of
 * an engine. Prints one line per check and exits 1 if any failed. NAME is a built-in engine (ptdma,
 * sdxi, ae4dma).
 */
import { Command, Option } from "commander";
import { dmaEngineModuleProblems, dmatestEngine, formatDmatestReport, type DmaEngineModule } from "@mmemu/dmaengine";
import type { IommuMode } from "@mmemu/platform";
import { ae4dmaEngineModule } from "@mmemu/ae4dma";
import { ptdmaEngineModule } from "@mmemu/ptdma";
import { sdxiEngineModule } from "@mmemu/sdxi";

/** The built-in engines by name. */
export const BUILTIN_ENGINES: Readonly<Record<string, DmaEngineModule>> = {
  ptdma: ptdmaEngineModule,
  sdxi: sdxiEngineModule,
  ae4dma: ae4dmaEngineModule,
};

/** Resolve --engine: a built-in name, or a one-line error listing them. */
export function resolveEngine(name: string): DmaEngineModule {
  const mod = BUILTIN_ENGINES[name];
  if (mod === undefined) throw new Error(`--engine ${JSON.stringify(name)} is not a built-in engine (${Object.keys(BUILTIN_ENGINES).join(", ")})`);
  const problems = dmaEngineModuleProblems(mod);
  if (problems.length > 0) throw new Error(`--engine ${name}: ${problems.join("; ")}`);
  return mod;
}

/** --set name=value pairs as parameter overrides, each checked against the engine's declared table. */
function parseSets(mod: DmaEngineModule, sets: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of sets) {
    const m = /^([a-z_][a-z0-9_]*)=(.+)$/.exec(s);
    if (m === null) throw new Error(`--set ${JSON.stringify(s)}: expected name=value`);
    const spec = mod.section.table[m[1]!];
    if (spec === undefined) throw new Error(`--set ${m[1]}: ${mod.name} has no such parameter (known: ${Object.keys(mod.section.table).join(", ")})`);
    const v = Number(m[2]);
    if (!Number.isFinite(v) || v < spec.min || v > spec.max || (spec.integer === true && !Number.isInteger(v))) {
      throw new Error(`--set ${m[1]}=${m[2]}: must be ${spec.integer === true ? "an integer" : "a number"} in [${spec.min}, ${spec.max}] ${spec.unit}`);
    }
    out[m[1]!] = v;
  }
  return out;
}

function wholeNumber(opt: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new Error(`${opt} must be a whole number from ${min} to ${max}, got "${text}"`);
  return Number(text);
}

export function dmatestCommand(): Command {
  return new Command("dmatest")
    .description("engine conformance kit (after drivers/dma/dmatest.c): memcpy/memcpy_sg of varied sizes and alignments on every channel, many in flight, completion order, callbacks exactly once, terminate/synchronize, fault points, data verified byte for byte")
    .requiredOption("--engine <name>", `engine to test (${Object.keys(BUILTIN_ENGINES).join(", ")})`)
    .option("--seed <n>", "PRNG seed", "1")
    .option("--in-flight <n>", "descriptors submitted at once in the in-flight test", "64")
    .addOption(new Option("--iommu <mode>", "IOMMU mode of the engine's functions").choices(["off", "passthrough", "translate"]).default("off"))
    .option("--set <name=value...>", "override an engine parameter")
    .action((o: { engine: string; seed: string; inFlight: string; iommu: IommuMode; set?: string[] }) => {
      const mod = resolveEngine(o.engine);
      const seed = wholeNumber("--seed", o.seed, 0, 2 ** 31 - 1);
      const inFlight = wholeNumber("--in-flight", o.inFlight, 1, 1024);
      const params = parseSets(mod, o.set ?? []);
      const report = dmatestEngine(mod, { seed, inFlight, iommu: o.iommu, params });
      console.log(formatDmatestReport(report));
      if (report.failed > 0) process.exitCode = 1;
    });
}

export function registerDmatestCommand(program: Command): void {
  program.addCommand(dmatestCommand());
}
