import type { KernelCore } from "@mmemu/kernel";
import type { DmaEngine } from "@mmemu/dmaengine";
import type { Fabric, IommuMode } from "@mmemu/platform";
import { PtdmaFunction, ptdmaFaults, PTDMA_IRQ_BASE } from "./ptdma-hw.js";
import { PtDevice } from "./ptdma-dev.js";
import { PtDmaDevice } from "./ptdma-dmaengine.js";
import { ptdmaParams, ptdmaSwitches, type PtdmaParamOverrides, type PtdmaSwitches } from "./ptdma-params.js";

/**
 * Probing PTDMA functions, after drivers/dma/amd/ptdma/ptdma-pci.c (pt_pci_probe(): 48-bit DMA mask,
 * one MSI vector, pt_core_init(), pt_dmaengine_register()). One call creates a machine's engines
 * from their placements, in PCI enumeration order, so dma<N> numbering follows it.
 */

/** Where one PTDMA function sits: its NUMA node and its I/O-die quadrant (two engines per quadrant). */
export interface PtdmaPlacement {
  readonly node: number;
  readonly quadrant: number;
}

/**
 * The 16 PTDMA functions of a 2-socket Rome/Milan (spec 1.1): 8 per socket, two per root-complex
 * quadrant, in bus order (14/15, 24/25, 56/57, 64/65 on socket 0; 96/97, a1/a2, ce/cf, e3/e4 on 1).
 */
export const ZEN3_2S_PTDMA_PLACEMENTS: readonly PtdmaPlacement[] = Object.freeze(
  [0, 1].flatMap((node) => [0, 0, 1, 1, 2, 2, 3, 3].map((quadrant) => ({ node, quadrant }))),
);

export interface PtdmaProbeOptions {
  readonly core: KernelCore;
  readonly engine: DmaEngine;
  readonly fabric: Fabric;
  readonly placements: readonly PtdmaPlacement[];
  /** Overrides of PTDMA_PARAMS, shared by all engines. */
  readonly params?: PtdmaParamOverrides;
  /** Glue switches (spec 5.7), shared by all engines. */
  readonly switches?: Readonly<Partial<PtdmaSwitches>>;
  /** IOMMU mode of every function. @default "off" */
  readonly iommu?: IommuMode;
}

/** One probed function: the hardware, the driver core and its dmaengine device. */
export interface PtdmaEngine {
  readonly hw: PtdmaFunction;
  readonly pt: PtDevice;
  readonly dma: PtDmaDevice;
}

/** Mirrors pt_pci_probe() for each placement; registers every engine with dmaengine. */
export function createPtdmaEngines(o: PtdmaProbeOptions): PtdmaEngine[] {
  const params = ptdmaParams(o.params);
  const switches = ptdmaSwitches(o.switches);
  const faults = ptdmaFaults(o.core);
  if (o.placements.length === 0) throw new RangeError("ptdma: at least one placement is required");
  return o.placements.map((pl, i) => {
    if (!Number.isInteger(pl.quadrant) || pl.quadrant < 0) throw new RangeError(`ptdma placement ${i}: quadrant must be a non-negative integer, got ${pl.quadrant}`);
    if (o.engine.mem.node(pl.node) === undefined) throw new RangeError(`ptdma placement ${i}: node ${pl.node} does not exist`);
    const name = `ptdma${i}`;
    const dev = o.engine.createDevice(name, { numaNode: pl.node, dmaMaskBits: 48, iommu: o.iommu ?? "off" });
    const hw = new PtdmaFunction({
      core: o.core, mem: o.engine.mem, iommu: o.engine.map.iommu, fabric: o.fabric, dev, params, faults, name, index: i, irq: PTDMA_IRQ_BASE + i,
      engineServer: o.fabric.addServer(`${name}.engine`, params.chan_bw),
      quadrantServer: o.fabric.quadrantServer(pl.node, pl.quadrant),
    });
    const pt = new PtDevice(o.engine, hw, switches);
    const dma = new PtDmaDevice(pt);
    const ret = o.engine.dmaAsyncDeviceRegister(dma);
    if (ret !== 0) throw new Error(`${name}: dma_async_device_register failed with ${ret}`);
    return { hw, pt, dma };
  });
}
