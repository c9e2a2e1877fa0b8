/**
 * dcbm as a migrator module (`--migrator dcbm`, the shape every migrator plug-in has): loading it is
 * dcbm_init(); writing 1 to `offloading` registers it, `nr_dma_chan` takes the channel count.
 */
import { defineMigrator } from "@mmemu/driver-kit";
import { Dcbm, DCBM_SYSFS_ATTRS } from "./dcbm.js";

export default defineMigrator({
  kind: "migrator",
  name: "dcbm",
  description: "DMA Core Batch Migrator: batch copies through dmaengine channels (the series' dcbm)",
  usesDma: true,
  enableAttr: "offloading",
  channelsAttr: "nr_dma_chan",
  load(ctx) {
    if (ctx.dmaengine === null) throw new Error("dcbm needs the DMA engines (a machine built with dma)");
    const d = new Dcbm(ctx.m, ctx.dmaengine);
    return { attrs: DCBM_SYSFS_ATTRS, sysfsRead: (a) => d.sysfsRead(a), sysfsWrite: (a, b) => d.sysfsWrite(a, b), rmmod: () => d.rmmod() };
  },
});
