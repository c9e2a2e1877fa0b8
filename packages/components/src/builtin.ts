/**
 * The built-in components. The machine's own sections (the CPU cost model, the dmaengine core, the
 * fabric) are always there; the built-in engines and migrators are modules of the plug-in shape
 * (@mmemu/driver-kit), looked up by name here exactly as a plug-in file is loaded by path. Adding a
 * device model or a migrator means adding one line here (or loading it as a plug-in), never editing
 * the timing package.
 */
import type { ParamSchema, ParamSection } from "@mmemu/kernel";
import { FABRIC_SECTION } from "@mmemu/platform";
import { DMAENGINE_SECTION } from "@mmemu/dmaengine";
import { CPU_COST_SECTION, profileSchema } from "@mmemu/timing";
import type { EngineModule, MigratorModule } from "@mmemu/driver-kit";
import ptdma from "@mmemu/ptdma/plugin";
import sdxi from "@mmemu/sdxi/plugin";
import ae4dma from "@mmemu/ae4dma/plugin";
import dcbm from "@mmemu/dcbm/plugin";
import mtcopy from "@mmemu/mtcopy/plugin";

/** Built-in DMA engine drivers by name, in probe order (PCI enumeration order on the modelled machines). */
export const BUILTIN_ENGINES: ReadonlyMap<string, EngineModule> = new Map<string, EngineModule>([
  ["ptdma", ptdma as EngineModule],
  ["sdxi", sdxi as EngineModule],
  ["ae4dma", ae4dma as EngineModule],
]);

/** Built-in migrators by name. */
export const BUILTIN_MIGRATORS: ReadonlyMap<string, MigratorModule> = new Map<string, MigratorModule>([
  ["dcbm", dcbm as MigratorModule],
  ["mtcopy", mtcopy as MigratorModule],
]);

/** The migrator the benchmarks' offload points load unless told otherwise (the published runs'). */
export const DEFAULT_MIGRATOR = "dcbm";

/** Sections every machine has, whatever is loaded. */
export const CORE_SECTIONS: readonly ParamSection[] = Object.freeze([CPU_COST_SECTION, DMAENGINE_SECTION]);

/** The sections of a set of modules, after the core ones and before the fabric (the order files list them). */
export function sectionsOf(modules: ReadonlyArray<EngineModule | MigratorModule>): ParamSection[] {
  const out: ParamSection[] = [...CORE_SECTIONS];
  const mods = [...modules];
  for (const m of mods) if (m.kind === "engine" && m.params !== undefined) out.push(m.params);
  out.push(FABRIC_SECTION);
  for (const m of mods) if (m.kind === "migrator" && m.params !== undefined) out.push(m.params);
  return out;
}

/** Every built-in component's section. */
export const BUILTIN_SECTIONS: readonly ParamSection[] = Object.freeze(sectionsOf([...BUILTIN_ENGINES.values(), ...BUILTIN_MIGRATORS.values()]));

/** The profile schema of the built-in components alone (immutable; plug-ins extend it with `.with()`). */
export const BUILTIN_SCHEMA: ParamSchema = profileSchema(BUILTIN_SECTIONS);
