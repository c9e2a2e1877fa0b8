/**
 * PTDMA as an engine module, the shape every engine plug-in has (`--engine ptdma`): probes one
 * function per `topology.ptdma` placement of the profile, in PCI order, timed by the profile's `ptdma`
 * section, with the profile's IOMMU mode and max segment size.
 */
import { defineEngine } from "@mmemu/driver-kit";
import { createPtdmaEngines } from "./ptdma-pci.js";
import { PTDMA_SECTION, type PtdmaSwitches } from "./ptdma-params.js";

export default defineEngine({
  kind: "engine",
  name: "ptdma",
  description: "AMD PTDMA (drivers/dma/amd/ptdma), at the profile's topology.ptdma placements",
  params: PTDMA_SECTION,
  // The glue's fidelity switches (spec 5.7); each default is the driver as merged.
  moduleParams: {
    errorsVisibleToClient: { doc: "a hardware error reaches the client as DMA_ERROR / a failed callback_result (the merged driver: false)", default: false },
    intEnPerDevice: { doc: "int_en is one flag per device, overwritten by every prep (the merged driver: true)", default: true },
    terminateStopsHardware: { doc: "terminate_all stops the engine and flushes the ring (the merged driver: false)", default: false },
    callbackContext: { doc: "where client callbacks run (the merged driver: hardirq)", default: "hardirq", values: ["hardirq", "tasklet", "workqueue"] },
  },
  probe(ctx) {
    const placements = ctx.profile.topology.ptdma;
    if (placements.length === 0) return [];
    const engines = createPtdmaEngines({ core: ctx.core, engine: ctx.dmaengine, fabric: ctx.fabric, placements, params: ctx.params, iommu: ctx.iommu.mode,
      switches: ctx.modparams as unknown as Partial<PtdmaSwitches>,
    });
    for (const e of engines) e.hw.dev.maxSegSize = ctx.iommu.max_seg_size;
    return engines;
  },
});
