/**
 * PTDMA as an engine module, the shape every engine plug-in has (`--engine ptdma`): probes one
 * function per `topology.ptdma` placement of the profile, in PCI order, timed by the profile's `ptdma`
 * section, with the profile's IOMMU mode and max segment size.
 */
import { defineEngine } from "@mmemu/driver-kit";
import { createPtdmaEngines } from "./ptdma-pci.js";
import { PTDMA_SECTION } from "./ptdma-params.js";

export default defineEngine({
  kind: "engine",
  name: "ptdma",
  description: "AMD PTDMA (drivers/dma/amd/ptdma), at the profile's topology.ptdma placements",
  params: PTDMA_SECTION,
  probe(ctx) {
    const placements = ctx.profile.topology.ptdma;
    if (placements.length === 0) return [];
    const engines = createPtdmaEngines({ core: ctx.core, engine: ctx.dmaengine, fabric: ctx.fabric, placements, params: ctx.params, iommu: ctx.iommu.mode });
    for (const e of engines) e.hw.dev.maxSegSize = ctx.iommu.max_seg_size;
    return engines;
  },
});
