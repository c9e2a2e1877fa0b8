/**
 * SDXI as an engine module (`--engine sdxi`): one function per `topology.sdxi` entry of the profile,
 * with `topology.sdxi_dma_channels` contexts each, timed by the profile's `sdxi` section. Probed
 * after PTDMA by default, so dma_request_chan_by_mask() hands out PTDMA channels first on a machine
 * with both (as PCI enumeration order would decide on real hardware).
 */
import { defineEngine } from "@mmemu/driver-kit";
import { createSdxiFunctions } from "./sdxi-pci.js";
import { SDXI_SECTION } from "./sdxi-params.js";

export default defineEngine({
  kind: "engine",
  name: "sdxi",
  description: "SNIA SDXI functions (drivers/dma/sdxi), at the profile's topology.sdxi nodes",
  params: SDXI_SECTION,
  probe(ctx) {
    const t = ctx.profile.topology;
    if (t.sdxi.length === 0) return [];
    const fns = createSdxiFunctions({
      core: ctx.core, engine: ctx.dmaengine, fabric: ctx.fabric, nodes: t.sdxi.map((f) => f.node),
      dmaChannels: t.sdxi_dma_channels, params: ctx.params, iommu: ctx.iommu.mode,
    });
    for (const e of fns) e.fn.dev.maxSegSize = ctx.iommu.max_seg_size;
    return fns;
  },
});
