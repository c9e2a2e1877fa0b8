// The sections of the components the shipped profiles use, declared by those components (timing itself
// knows none of them but its own CPU section).
import { FABRIC_SECTION } from "@mmemu/platform";
import { DMAENGINE_SECTION } from "@mmemu/dmaengine";
import { PTDMA_SECTION } from "@mmemu/ptdma";
import { SDXI_SECTION } from "@mmemu/sdxi";
import { CPU_COST_SECTION, loadProfile, profileSchema } from "../src/index.js";

export const schema = profileSchema([CPU_COST_SECTION, DMAENGINE_SECTION, PTDMA_SECTION, SDXI_SECTION, FABRIC_SECTION]);
export const load = (name: string) => loadProfile(name, schema);
