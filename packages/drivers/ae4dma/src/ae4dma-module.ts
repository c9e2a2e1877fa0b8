import type { DmaEngineModule } from "@mmemu/dmaengine";
import { AE4DMA_SECTION } from "./ae4dma-params.js";
import { createAe4dmaEngines } from "./ae4dma-pci.js";

/** AE4DMA as an engine module: one function per node given, `max_hw_q` queues (channels) each. */
export const ae4dmaEngineModule: DmaEngineModule = {
  name: "ae4dma",
  section: AE4DMA_SECTION,
  probe: (ctx) => createAe4dmaEngines({ core: ctx.core, engine: ctx.dma, fabric: ctx.fabric, nodes: ctx.nodes, params: ctx.params, iommu: ctx.iommu }).map((e) => e.dma),
};
