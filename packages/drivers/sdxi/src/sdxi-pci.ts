import type { KernelCore } from "@mmemu/kernel";
import type { DmaEngine } from "@mmemu/dmaengine";
import type { Fabric, IommuMode } from "@mmemu/platform";
import { SdxiFunction, sdxiFaults } from "./sdxi-fn.js";
import { SdxiDevice, SdxiDmaDevice } from "./sdxi-dma.js";
import { sdxiParams, sdxiSwitches, type SdxiParamOverrides, type SdxiSwitches } from "./sdxi-params.js";
import { SDXI_MAX_CXT } from "./sdxi-hw.js";

/**
 * Probing SDXI functions, after drivers/dma/sdxi/pci.c (class 0x120100, 64-bit DMA mask): each
 * function is activated and registered as a dmaengine device with `dmaChannels` public channels.
 */
export interface SdxiProbeOptions {
  readonly core: KernelCore;
  readonly engine: DmaEngine;
  readonly fabric: Fabric;
  /** NUMA node of each function. */
  readonly nodes: readonly number[];
  /** The `dma_channels` module parameter: channels (client contexts) per function. @default 1 */
  readonly dmaChannels?: number;
  readonly params?: SdxiParamOverrides;
  readonly switches?: Readonly<Partial<SdxiSwitches>>;
  /** @default "off" */
  readonly iommu?: IommuMode;
}

export interface SdxiEngine {
  readonly fn: SdxiFunction;
  readonly sdxi: SdxiDevice;
  readonly dma: SdxiDmaDevice;
}

/** Mirrors sdxi_pci_probe() for each function. */
export function createSdxiFunctions(o: SdxiProbeOptions): SdxiEngine[] {
  const params = sdxiParams(o.params);
  const switches = sdxiSwitches(o.switches);
  const faults = sdxiFaults(o.core);
  const nch = o.dmaChannels ?? 1;
  if (!Number.isInteger(nch) || nch < 1 || nch > SDXI_MAX_CXT) throw new RangeError(`sdxi: dmaChannels must be an integer in 1..${SDXI_MAX_CXT}, got ${nch}`);
  if (o.nodes.length === 0) throw new RangeError("sdxi: at least one function (node) is required");
  return o.nodes.map((node, i) => {
    if (o.engine.mem.node(node) === undefined) throw new RangeError(`sdxi function ${i}: node ${node} does not exist`);
    const name = `sdxi${i}`;
    const dev = o.engine.createDevice(name, { numaNode: node, dmaMaskBits: 64, iommu: o.iommu ?? "off" });
    const fn = new SdxiFunction({
      core: o.core, mem: o.engine.mem, iommu: o.engine.map.iommu, fabric: o.fabric, dev, params, switches, faults, name,
      engineServer: o.fabric.addServer(`${name}.engine`, params.chan_bw),
    });
    const sdxi = new SdxiDevice(o.engine, fn);
    const dma = new SdxiDmaDevice(sdxi, switches, nch);
    const ret = o.engine.dmaAsyncDeviceRegister(dma);
    if (ret !== 0) throw new Error(`${name}: dma_async_device_register failed with ${ret}`);
    return { fn, sdxi, dma };
  });
}
