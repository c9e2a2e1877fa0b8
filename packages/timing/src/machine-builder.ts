/**
 * Assemble an emulated machine from a hardware profile: the mm-core Machine with the profile's NUMA
 * nodes and CPUs, the TimingModel as its cost meter, the platform (the fabric's shared bandwidth
 * servers and the IOMMU), the dmaengine core, the PTDMA engines at their placements and the SDXI functions on their nodes. Memory
 * is sized to the workload (a real node's hundreds of GiB are not needed to move 1 GiB).
 */
import { Machine } from "@mmemu/mm-core";
import { DMAENGINE_SECTION, DmaEngine } from "@mmemu/dmaengine";
import { createPtdmaEngines, PTDMA_SECTION, type PtdmaEngine, type PtdmaSwitches } from "@mmemu/ptdma";
import { createSdxiFunctions, SDXI_SECTION, type SdxiEngine, type SdxiSwitches } from "@mmemu/sdxi";
import { sectionValues } from "@mmemu/kernel";
import { Fabric, FABRIC_SECTION, Iommu } from "@mmemu/platform";
import { CPU_COST_SECTION } from "./cpu-costs.js";
import type { HardwareProfile } from "./profile.js";
import { TimingModel } from "./timing-model.js";

export interface CreateMachineOptions {
  /** Emulated memory per node in 4 KiB pages, rounded up to NODE_ALIGN_PAGES. @default 1 GiB + 64 MiB worth of pages */
  readonly pagesPerNode?: number;
  /** PRNG seed. @default 1 */
  readonly seed?: number;
  /** Probe the DMA engines (dmaengine core, PTDMA engines, SDXI functions). @default true */
  readonly dma?: boolean;
  /** Use only the first `maxEngines` PTDMA engines of the profile. @default all */
  readonly maxEngines?: number;
  /**
   * The nodes' memory (pages) and CPUs, when not the profile's with `pagesPerNode` each (a scenario's
   * machine); ids must be the profile's, so engines, sockets and quadrants stay where the profile puts them.
   */
  readonly nodes?: ReadonlyArray<{ readonly id: number; readonly pages: number; readonly cpus: number }>;
  /** PTDMA glue switches (e.g. errorsVisibleToClient). @default the driver's */
  readonly ptdmaSwitches?: Readonly<Partial<PtdmaSwitches>>;
  /** SDXI switches (e.g. completionOrder). @default the driver's */
  readonly sdxiSwitches?: Readonly<Partial<SdxiSwitches>>;
}

/** What {@link createMachine} builds. */
export interface EmulatedMachine {
  readonly profile: HardwareProfile;
  readonly m: Machine;
  readonly timing: TimingModel;
  readonly fabric: Fabric;
  /** null when built with `dma: false`. */
  readonly dmaengine: DmaEngine | null;
  readonly ptdma: readonly PtdmaEngine[];
  readonly sdxi: readonly SdxiEngine[];
}

/** Pages per node that hold 1 GiB of workload plus page tables, rings and slack. */
export const DEFAULT_PAGES_PER_NODE = (1 << 18) + (1 << 14);

/** Node sizes are rounded up to this many pages (4 MiB, a MAX_ORDER block) so every node starts aligned. */
export const NODE_ALIGN_PAGES = 1024;

export function createMachine(profile: HardwareProfile, opts: CreateMachineOptions = {}): EmulatedMachine {
  // Real nodes start on a memory-section boundary, so a 2 MiB folio is 2 MiB aligned physically (and
  // can be mapped with a 2 MiB IOMMU page); an odd node size would shift every later node's pfns.
  const pages = Math.ceil((opts.pagesPerNode ?? DEFAULT_PAGES_PER_NODE) / NODE_ALIGN_PAGES) * NODE_ALIGN_PAGES;
  if (opts.nodes !== undefined) {
    const want = profile.topology.nodes.map((n) => n.id).join(",");
    const got = opts.nodes.map((n) => n.id).join(",");
    if (want !== got) throw new RangeError(`machine: the nodes must be the profile ${profile.name}'s (ids ${want}), got ids ${got}`);
  }
  const m = new Machine({
    nodes: opts.nodes ?? profile.topology.nodes.map((n) => ({ id: n.id, pages, cpus: n.cpus })),
    seed: opts.seed ?? 1,
  });
  // The model needs the machine's clock, so it is attached after construction.
  const timing = new TimingModel(m.core.sim, sectionValues(profile.params, CPU_COST_SECTION));
  m.core.cost = timing;
  const fabric = new Fabric(m.core, {
    nodes: profile.topology.nodes.map((n) => ({ id: n.id, socket: n.socket })),
    params: sectionValues(profile.params, FABRIC_SECTION),
  });
  let dmaengine: DmaEngine | null = null;
  let ptdma: PtdmaEngine[] = [];
  let sdxi: SdxiEngine[] = [];
  if (opts.dma !== false) {
    const iommu = new Iommu(m.core, m.mem);
    dmaengine = new DmaEngine({ core: m.core, mem: m.mem, iommu, params: sectionValues(profile.params, DMAENGINE_SECTION) });
    const placements = profile.topology.ptdma.slice(0, opts.maxEngines ?? profile.topology.ptdma.length);
    if (placements.length > 0) {
      ptdma = createPtdmaEngines({
        core: m.core, engine: dmaengine, fabric, placements, params: sectionValues(profile.params, PTDMA_SECTION), iommu: profile.iommu.mode,
        ...(opts.ptdmaSwitches !== undefined ? { switches: opts.ptdmaSwitches } : {}),
      });
      for (const e of ptdma) e.hw.dev.maxSegSize = profile.iommu.max_seg_size;
    }
    // Probed after the PTDMA engines, so dma_request_chan_by_mask() hands out PTDMA channels first
    // on a machine with both (as PCI enumeration order would decide on real hardware).
    if (profile.topology.sdxi.length > 0) {
      sdxi = createSdxiFunctions({
        core: m.core, engine: dmaengine, fabric, nodes: profile.topology.sdxi.map((f) => f.node),
        dmaChannels: profile.topology.sdxi_dma_channels, params: sectionValues(profile.params, SDXI_SECTION), iommu: profile.iommu.mode,
        ...(opts.sdxiSwitches !== undefined ? { switches: opts.sdxiSwitches } : {}),
      });
      for (const e of sdxi) e.fn.dev.maxSegSize = profile.iommu.max_seg_size;
    }
  }
  return { profile, m, timing, fabric, dmaengine, ptdma, sdxi };
}
