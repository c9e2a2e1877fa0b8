/**
 * `mmemu dmatest --engine NAME|FILE [--profile NAME] [--set section.name=value ...] [--seed N] [--in-flight N]`:
 * the engine conformance kit of @mmemu/dmaengine (after Linux's drivers/dma/dmatest.c) on every
 * channel of an engine, built-in or a plug-in file, loaded through @mmemu/components as every command
 * loads engines. The engine probes what the profile places; each built-in has a default that places
 * some (ptdma: zen3-ptdma-base; sdxi: example-sdxi; ae4dma: zen3-ptdma-base with one function per
 * node). Prints one line per check and exits 1 if any failed.
 */
import { Command } from "commander";
import { dmatestBuild, formatDmatestReport, type DmaDevice, type DmatestBuild } from "@mmemu/dmaengine";
import { createMachineWith, loadComponent, BUILTIN_SCHEMA } from "@mmemu/components";
import type { EngineModule } from "@mmemu/driver-kit";
import { intOption, loadProfileWith } from "@mmemu/bench";

/** Where each built-in engine finds devices to test, unless --profile/--set say otherwise. */
const BUILTIN_DEFAULTS: Readonly<Record<string, { profile: string; set: readonly string[] }>> = {
  ptdma: { profile: "zen3-ptdma-base", set: [] },
  sdxi: { profile: "example-sdxi", set: [] },
  ae4dma: { profile: "zen3-ptdma-base", set: ["ae4dma.functions_per_node=1"] },
};
const FALLBACK_PROFILE = "zen3-ptdma-base";
/** Node memory for the kit: its 16 MiB of buffers plus the engines' rings and slack. */
const KIT_PAGES_PER_NODE = 8192;

/** The kit's machine builder for a loaded engine module on a profile (the engine's devices only). */
export function engineBuild(mod: EngineModule, profileName: string, sets: readonly string[]): DmatestBuild {
  const schema = mod.params === undefined ? BUILTIN_SCHEMA : BUILTIN_SCHEMA.with([mod.params].filter((s) => !BUILTIN_SCHEMA.names.includes(s.name)));
  const profile = loadProfileWith(profileName, sets, schema);
  return (seed) => {
    const em = createMachineWith(profile, [mod], { seed, pagesPerNode: KIT_PAGES_PER_NODE });
    const dma = em.dmaengine!;
    if (dma.devices.length === 0) throw new Error(`--engine ${mod.name}: profile ${profile.name} places no ${mod.name} device (choose a --profile that does, or --set its placement)`);
    return { core: em.m.core, mem: em.m.mem, dma, devices: dma.devices as DmaDevice[] };
  };
}

export function dmatestCommand(): Command {
  return new Command("dmatest")
    .description("engine conformance kit (after drivers/dma/dmatest.c): memcpy/memcpy_sg of varied sizes and alignments on every channel, many in flight, completion order, callbacks exactly once, terminate/synchronize, fault points, data verified byte for byte")
    .requiredOption("--engine <name|file>", "engine to test: a built-in (ptdma, sdxi, ae4dma) or a plug-in file")
    .option("--profile <name>", "hardware profile placing the engine's devices (default: the built-in's, else zen3-ptdma-base)")
    .option("--set <section.name=value...>", "set a profile parameter (e.g. ae4dma.max_hw_q=4)")
    .option("--seed <n>", "PRNG seed", "1")
    .option("--in-flight <n>", "descriptors submitted at once in the in-flight test", "64")
    .action(async (o: { engine: string; profile?: string; set?: string[]; seed: string; inFlight: string }) => {
      const seed = intOption("--seed", o.seed, 0, 2 ** 31 - 1);
      const inFlight = intOption("--in-flight", o.inFlight, 1, 1024);
      const { module } = await loadComponent(o.engine, "engine");
      const mod = module as EngineModule;
      const dflt = BUILTIN_DEFAULTS[o.engine];
      const profile = o.profile ?? dflt?.profile ?? FALLBACK_PROFILE;
      const sets = [...(o.profile === undefined ? dflt?.set ?? [] : []), ...(o.set ?? [])];
      const report = dmatestBuild(mod.name, engineBuild(mod, profile, sets), { seed, inFlight });
      console.log(formatDmatestReport(report));
      if (report.failed > 0) process.exitCode = 1;
    });
}

export function registerDmatestCommand(program: Command): void {
  program.addCommand(dmatestCommand());
}
