/**
 * Loading a batch migrator for a point, as the published runs did: the module loaded, its channel or
 * thread count written, offloading switched on (which registers the migrator).
 */
import { Dcbm } from "@mmemu/dcbm";
import { sectionValues } from "@mmemu/kernel";
import { Mtcopy, MTCOPY_SECTION } from "@mmemu/mtcopy";
import type { EmulatedMachine } from "@mmemu/timing";

/** dcbm with `channels` DMA channels (nr_dma_chan), or mtcopy with `channels` copy threads. */
export function attachOffload(em: EmulatedMachine, migrator: "dcbm" | "mtcopy", channels: number): Dcbm | Mtcopy {
  if (migrator === "mtcopy") {
    // The profile's mtcopy section (worker wake-up, copy rate), so --set mtcopy.* reaches the migrator.
    const mt = new Mtcopy(em.m, { fabric: em.fabric, params: sectionValues(em.profile.params, MTCOPY_SECTION) });
    let rc = mt.setThreads(channels);
    if (rc !== 0) throw new RangeError(`mtcopy: threads ${channels} rejected (${rc})`);
    rc = mt.setOffloading(true);
    if (rc !== 0) throw new Error(`mtcopy: enabling offloading failed (${rc})`);
    return mt;
  }
  if (em.dmaengine === null) throw new Error("dcbm needs the DMA engines (createMachine with dma: true)");
  const dcbm = new Dcbm(em.m, em.dmaengine);
  let rc = dcbm.setNrDmaChan(channels);
  if (rc !== 0) throw new RangeError(`dcbm: nr_dma_chan ${channels} rejected (${rc})`);
  rc = dcbm.setOffloading(true);
  if (rc !== 0) throw new Error(`dcbm: enabling offloading failed (${rc})`);
  return dcbm;
}
