/**
 * SDXI as an engine module (`--engine sdxi`): one function per `topology.sdxi` entry of the profile,
 * with `topology.sdxi_dma_channels` contexts each, timed by the profile's `sdxi` section. Probed
 * after PTDMA by default, so dma_request_chan_by_mask() hands out PTDMA channels first on a machine
 * with both (as PCI enumeration order would decide on real hardware).
 */
import { defineEngine } from "@mmemu/driver-kit";
import { createSdxiFunctions } from "./sdxi-pci.js";
import { SDXI_SECTION, type SdxiSwitches } from "./sdxi-params.js";

export default defineEngine({
  kind: "engine",
  name: "sdxi",
  description: "SNIA SDXI functions (drivers/dma/sdxi), at the profile's topology.sdxi nodes",
  params: SDXI_SECTION,
  // Fidelity switches (spec 5.7 items 7-8).
  moduleParams: {
    irqReportsErrors: { doc: "the IRQ handler reports a CST_BLK with ER as DMA_TRANS_ABORTED (v4 plan: true; v3: false)", default: true },
    completionOrder: { doc: "inOrder: one descriptor at a time per context; outOfOrderWithoutFence: unfenced descriptors run concurrently and may complete out of order", default: "inOrder", values: ["inOrder", "outOfOrderWithoutFence"] },
  },
  probe(ctx) {
    const t = ctx.profile.topology;
    if (t.sdxi.length === 0) return [];
    const fns = createSdxiFunctions({
      core: ctx.core, engine: ctx.dmaengine, fabric: ctx.fabric, nodes: t.sdxi.map((f) => f.node),
      dmaChannels: t.sdxi_dma_channels, params: ctx.params, iommu: ctx.iommu.mode,
      switches: ctx.modparams as unknown as Partial<SdxiSwitches>,
    });
    for (const e of fns) e.fn.dev.maxSegSize = ctx.iommu.max_seg_size;
    return fns;
  },
});
