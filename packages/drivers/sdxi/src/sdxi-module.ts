import type { DmaEngineModule } from "@mmemu/dmaengine";
import { SDXI_SECTION } from "./sdxi-params.js";
import { createSdxiFunctions } from "./sdxi-pci.js";

/** SDXI as an engine module: one function per node given, with the driver's default dma_channels (1). */
export const sdxiEngineModule: DmaEngineModule = {
  name: "sdxi",
  section: SDXI_SECTION,
  probe: (ctx) => createSdxiFunctions({ core: ctx.core, engine: ctx.dma, fabric: ctx.fabric, nodes: ctx.nodes, params: ctx.params, iommu: ctx.iommu }).map((e) => e.dma),
};
