import type { KernelCore } from "@mmemu/driver-kit";
import type { DmaEngine } from "@mmemu/driver-kit";
import type { Fabric, IommuMode } from "@mmemu/driver-kit";
import { Ae4dmaFunction, ae4dmaFaults } from "./ae4dma-hw.js";
import { Ae4DmaDevice, type Ae4GlueSwitches } from "./ae4dma-dmaengine.js";
import { ae4dmaParams, type Ae4dmaParamOverrides } from "./ae4dma-params.js";

/**
 * Probing AE4DMA functions, after drivers/dma/amd/ae4dma/ae4dma-pci.c (ae4_pci_probe(): BAR0, one
 * MSI-X vector per queue, a 48-bit DMA mask, ae4_core_init(), registration with dmaengine). One call
 * creates a machine's functions in PCI order, so dma<N> numbering follows it.
 */
export interface Ae4dmaProbeOptions {
  readonly core: KernelCore;
  readonly engine: DmaEngine;
  readonly fabric: Fabric;
  /** The NUMA node of each function, in PCI order (EPYC 9004: 4 per node, spec 2.1). */
  readonly nodes: readonly number[];
  /** Overrides of AE4DMA_PARAMS, shared by all functions. */
  readonly params?: Ae4dmaParamOverrides;
  readonly switches?: Partial<Ae4GlueSwitches>;
  /** IOMMU mode of every function. @default "off" */
  readonly iommu?: IommuMode;
}

/** One probed function: the hardware and its dmaengine device (one channel per queue). */
export interface Ae4dmaEngine {
  readonly hw: Ae4dmaFunction;
  readonly dma: Ae4DmaDevice;
}

/** Mirrors ae4_pci_probe() for each function; registers every one with dmaengine. */
export function createAe4dmaEngines(o: Ae4dmaProbeOptions): Ae4dmaEngine[] {
  const params = ae4dmaParams(o.params);
  const faults = ae4dmaFaults(o.core);
  if (o.nodes.length === 0) throw new RangeError("ae4dma: at least one function (a node in `nodes`) is required");
  return o.nodes.map((node, i) => {
    if (o.engine.mem.node(node) === undefined) throw new RangeError(`ae4dma function ${i}: node ${node} does not exist`);
    const name = `ae4dma${i}`;
    const dev = o.engine.createDevice(name, { numaNode: node, dmaMaskBits: 48, iommu: o.iommu ?? "off" });
    const hw = new Ae4dmaFunction({
      core: o.core, iommu: o.engine.map.iommu, fabric: o.fabric, dev, params, faults, name,
      engineServer: o.fabric.addServer(`${name}.engine`, params.engine_bw),
    });
    const dma = new Ae4DmaDevice(o.engine, hw, params, o.switches);
    const ret = o.engine.dmaAsyncDeviceRegister(dma);
    if (ret !== 0) throw new Error(`${name}: dma_async_device_register failed with ${ret}`);
    return { hw, dma };
  });
}
