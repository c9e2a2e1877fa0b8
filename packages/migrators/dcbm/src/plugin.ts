/**
 * dcbm as a migrator module (`--migrator dcbm`, the shape every migrator plug-in has): loading it is
 * dcbm_init(); writing 1 to `offloading` registers it, `nr_dma_chan` takes the channel count.
 */
import { defineMigrator } from "@mmemu/driver-kit";
import { Dcbm, DCBM_SYSFS_ATTRS, type DcbmVariant } from "./dcbm.js";

export default defineMigrator({
  kind: "migrator",
  name: "dcbm",
  description: "DMA Core Batch Migrator: batch copies through dmaengine channels (the series' dcbm)",
  usesDma: true,
  enableAttr: "offloading",
  channelsAttr: "nr_dma_chan",
  // The review's corrections (DcbmOptions); each default is the posted driver.
  moduleParams: {
    callbackOnLastOnly: { doc: "DMA_PREP_INTERRUPT and the callback on each channel's last descriptor only (posted: true; false: on every descriptor)", default: true },
    checkResults: { doc: "callback_result: a copy the engine reported failed fails the batch with -EIO (posted: false)", default: false },
    variant: { doc: "v5-request-per-batch (the series) or amdese-find-channel (the AMDESE tree's SDXI-oriented variant)", default: "v5-request-per-batch", values: ["v5-request-per-batch", "amdese-find-channel"] },
  },
  load(ctx) {
    if (ctx.dmaengine === null) throw new Error("dcbm needs the DMA engines (a machine built with dma)");
    const p = ctx.modparams;
    const d = new Dcbm(ctx.m, ctx.dmaengine, {
      callbackOnLastOnly: p.callbackOnLastOnly as boolean, checkResults: p.checkResults as boolean, variant: p.variant as DcbmVariant,
    });
    return { attrs: DCBM_SYSFS_ATTRS, sysfsRead: (a) => d.sysfsRead(a), sysfsWrite: (a, b) => d.sysfsWrite(a, b), rmmod: () => d.rmmod() };
  },
});
