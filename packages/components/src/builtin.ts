/**
 * The built-in components' parameter sections, in the order profile files list them. Adding a device
 * model or a migrator means adding its section here (or loading it as a plug-in), never editing the
 * timing package.
 */
import type { ParamSchema, ParamSection } from "@mmemu/kernel";
import { FABRIC_SECTION } from "@mmemu/platform";
import { DMAENGINE_SECTION } from "@mmemu/dmaengine";
import { PTDMA_SECTION } from "@mmemu/ptdma";
import { SDXI_SECTION } from "@mmemu/sdxi";
import { MTCOPY_SECTION } from "@mmemu/mtcopy";
import { CPU_COST_SECTION, profileSchema } from "@mmemu/timing";

export const BUILTIN_SECTIONS: readonly ParamSection[] = Object.freeze([
  CPU_COST_SECTION, DMAENGINE_SECTION, PTDMA_SECTION, SDXI_SECTION, FABRIC_SECTION, MTCOPY_SECTION,
]);

/** The profile schema of the built-in components alone (immutable; plug-ins extend it with `.with()`). */
export const BUILTIN_SCHEMA: ParamSchema = profileSchema(BUILTIN_SECTIONS);
