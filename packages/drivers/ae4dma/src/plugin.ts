/**
 * AE4DMA as an engine module, the shape every engine plug-in has (`--engine ae4dma`): probes
 * `ae4dma.functions_per_node` functions on each node of the profile (none by default: no shipped
 * profile places AE4DMA), timed by the profile's `ae4dma` section, with the profile's IOMMU mode and
 * max segment size. Like the rest of the package it uses only @mmemu/driver-kit.
 */
import { defineEngine } from "@mmemu/driver-kit";
import { createAe4dmaEngines } from "./ae4dma-pci.js";
import { AE4DMA_SECTION } from "./ae4dma-params.js";
import type { Ae4GlueSwitches } from "./ae4dma-dmaengine.js";

export default defineEngine({
  kind: "engine",
  name: "ae4dma",
  description: "AMD AE4DMA (drivers/dma/amd/ae4dma), ae4dma.functions_per_node functions on every node",
  params: AE4DMA_SECTION,
  // The glue's fidelity switch; the default is the driver as posted.
  moduleParams: {
    errorsVisibleToClient: { doc: "a descriptor error reaches the client as DMA_ERROR / a failed callback_result (the posted driver: false, it only logs)", default: false },
  },
  probe(ctx) {
    const per = ctx.params.functions_per_node;
    if (per === 0) return [];
    const nodes = ctx.profile.topology.nodes.flatMap((n) => Array<number>(per).fill(n.id));
    const engines = createAe4dmaEngines({ core: ctx.core, engine: ctx.dmaengine, fabric: ctx.fabric, nodes, params: ctx.params, iommu: ctx.iommu.mode,
      switches: ctx.modparams as unknown as Partial<Ae4GlueSwitches>,
    });
    for (const e of engines) e.hw.dev.maxSegSize = ctx.iommu.max_seg_size;
    return engines;
  },
});
