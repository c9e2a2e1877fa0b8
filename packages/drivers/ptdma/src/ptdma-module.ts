import type { DmaEngineModule } from "@mmemu/dmaengine";
import { PTDMA_SECTION } from "./ptdma-params.js";
import { createPtdmaEngines } from "./ptdma-pci.js";

/** PTDMA as an engine module: one function per node given, each in its own I/O-die quadrant. */
export const ptdmaEngineModule: DmaEngineModule = {
  name: "ptdma",
  section: PTDMA_SECTION,
  probe: (ctx) => createPtdmaEngines({
    core: ctx.core, engine: ctx.dma, fabric: ctx.fabric, placements: ctx.nodes.map((node, i) => ({ node, quadrant: i })),
    params: ctx.params, iommu: ctx.iommu,
  }).map((e) => e.dma),
};
