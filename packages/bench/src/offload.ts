/**
 * Loading dcbm for a dcbm point, as the published runs did: the module loaded, nr_dma_chan written,
 * offloading switched on (which registers the migrator).
 */
import { Dcbm } from "@mmemu/dcbm";
import type { EmulatedMachine } from "@mmemu/timing";

export function attachOffload(em: EmulatedMachine, channels: number): Dcbm {
  if (em.dmaengine === null) throw new Error("dcbm needs the DMA engines (createMachine with dma: true)");
  const dcbm = new Dcbm(em.m, em.dmaengine);
  let rc = dcbm.setNrDmaChan(channels);
  if (rc !== 0) throw new RangeError(`dcbm: nr_dma_chan ${channels} rejected (${rc})`);
  rc = dcbm.setOffloading(true);
  if (rc !== 0) throw new Error(`dcbm: enabling offloading failed (${rc})`);
  return dcbm;
}
