import { defineParamSection, type ParamTable } from "@mmemu/kernel";

/** Timing of the dmaengine core's deferred callback contexts (spec 5.4). */
export const DMAENGINE_PARAMS = {
  tasklet_latency: {
    unit: "ns", default: 1000, min: 0, max: 1_000_000, integer: true,
    doc: "Delay from vchan_cookie_complete() to the channel tasklet running its callbacks (softirq scheduling).",
    source: "spec dma-hardware.md 5.4 tasklet_latency, a starting value [U].",
  },
  workqueue_latency: {
    unit: "ns", default: 5000, min: 0, max: 10_000_000, integer: true,
    doc: "Delay until a workqueue item runs callbacks, for providers whose callback context is a workqueue (AE4DMA).",
    source: "spec 5.4 workqueue_latency, a starting value [U].",
  },
} as const satisfies ParamTable;

/** The dmaengine core's profile section. */
export const DMAENGINE_SECTION = defineParamSection("dmaengine", "The dmaengine core's callback contexts (tasklet, workqueue)", DMAENGINE_PARAMS);
