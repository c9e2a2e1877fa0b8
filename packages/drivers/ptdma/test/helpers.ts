import { KernelCore } from "@mmemu/kernel";
import { Fabric } from "@mmemu/platform";
import { PhysMem } from "@mmemu/mm-core";
import { DMA_MEMCPY, DmaEngine, dmaCapMaskOf, isErrPtr, type DmaChan } from "@mmemu/dmaengine";
import { ZEN3_2S_PTDMA_PLACEMENTS, createPtdmaEngines, type PtdmaEngine, type PtdmaProbeOptions } from "@mmemu/ptdma";

export interface Rig {
  core: KernelCore;
  mem: PhysMem;
  engine: DmaEngine;
  fabric: Fabric;
  pts: PtdmaEngine[];
}

/** A 2-socket machine (one node per socket) with PTDMA engines; `pagesPerNode` of memory each. */
export function rig(opts: Partial<Pick<PtdmaProbeOptions, "params" | "switches" | "iommu" | "placements">> & { pagesPerNode?: number } = {}): Rig {
  const core = new KernelCore({ seed: 7 });
  const pages = opts.pagesPerNode ?? 4096;
  const mem = new PhysMem([{ id: 0, pages, cpus: 2 }, { id: 1, pages, cpus: 2 }]);
  const engine = new DmaEngine({ core, mem });
  const fabric = new Fabric(core, { nodes: [{ id: 0, socket: 0 }, { id: 1, socket: 1 }] });
  const pts = createPtdmaEngines({
    core, engine, fabric,
    placements: opts.placements ?? ZEN3_2S_PTDMA_PLACEMENTS.slice(0, 1),
    ...(opts.params ? { params: opts.params } : {}),
    ...(opts.switches ? { switches: opts.switches } : {}),
    ...(opts.iommu ? { iommu: opts.iommu } : {}),
  });
  return { core, mem, engine, fabric, pts };
}

export function requestChan(r: Rig): DmaChan {
  const c = r.engine.dmaRequestChanByMask(dmaCapMaskOf(DMA_MEMCPY), "test");
  if (isErrPtr(c)) throw new Error(`no channel: ${c}`);
  return c;
}
