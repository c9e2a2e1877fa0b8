/**
 * Assemble an emulated machine from a hardware profile and the loaded components: the mm-core Machine
 * with the profile's NUMA nodes and CPUs, the TimingModel as its cost meter, the platform (the fabric's
 * shared bandwidth servers and the IOMMU), the dmaengine core, and each DMA engine module's probe (built-in or plug-in, in
 * the order given; each probes the devices it finds in the profile). Memory is sized to the workload
 * (a real node's hundreds of GiB are not needed to move 1 GiB).
 */
import { sectionValues } from "@mmemu/kernel";
import { Fabric, FABRIC_SECTION, Iommu } from "@mmemu/platform";
import { Machine } from "@mmemu/mm-core";
import { DMAENGINE_SECTION, DmaEngine } from "@mmemu/dmaengine";
import { CPU_COST_SECTION, TimingModel, type HardwareProfile } from "@mmemu/timing";
import type { EngineModule } from "@mmemu/driver-kit";
import { BUILTIN_ENGINES } from "./builtin.js";
import { pluginError } from "./load.js";

export interface CreateMachineOptions {
  /** Emulated memory per node in 4 KiB pages, rounded up to NODE_ALIGN_PAGES. @default 1 GiB + 64 MiB worth of pages */
  readonly pagesPerNode?: number;
  /** PRNG seed. @default 1 */
  readonly seed?: number;
  /** Probe the DMA engines (dmaengine core and every engine module). @default true */
  readonly dma?: boolean;
  /** The DMA engine drivers, probed in this order. @default every built-in engine */
  readonly engines?: readonly EngineModule[];
  /** 2 MiB hugetlb pool per node id (nr_hugepages). */
  readonly hugetlbPages?: Readonly<Record<number, number>>;
  /** ZONE_MOVABLE pages per node id (movablecore=). */
  readonly movablePages?: Readonly<Record<number, number>>;
  /** vm.watermark_scale_factor. @default 10 */
  readonly watermarkScaleFactor?: number;
}

/** What {@link createMachine} builds. */
export interface EmulatedMachine {
  readonly profile: HardwareProfile;
  readonly m: Machine;
  readonly timing: TimingModel;
  readonly fabric: Fabric;
  /** null when built with `dma: false`. */
  readonly dmaengine: DmaEngine | null;
  /** What each engine module's probe returned, by module name. */
  readonly engines: ReadonlyMap<string, readonly object[]>;
}

/** Pages per node that hold 1 GiB of workload plus page tables, rings and slack. */
export const DEFAULT_PAGES_PER_NODE = (1 << 18) + (1 << 14);

/** Node sizes are rounded up to this many pages (4 MiB, a MAX_ORDER block) so every node starts aligned. */
export const NODE_ALIGN_PAGES = 1024;

export function createMachineWith(profile: HardwareProfile, engines: readonly EngineModule[], opts: Omit<CreateMachineOptions, "engines"> = {}): EmulatedMachine {
  // Real nodes start on a memory-section boundary, so a 2 MiB folio is 2 MiB aligned physically (and
  // can be mapped with a 2 MiB IOMMU page); an odd node size would shift every later node's pfns.
  const pages = Math.ceil((opts.pagesPerNode ?? DEFAULT_PAGES_PER_NODE) / NODE_ALIGN_PAGES) * NODE_ALIGN_PAGES;
  const m = new Machine({
    nodes: profile.topology.nodes.map((n) => ({ id: n.id, pages, cpus: n.cpus })),
    seed: opts.seed ?? 1,
    ...(opts.hugetlbPages !== undefined ? { hugetlbPages: opts.hugetlbPages } : {}),
    ...(opts.movablePages !== undefined ? { movablePages: opts.movablePages } : {}),
    ...(opts.watermarkScaleFactor !== undefined ? { watermarkScaleFactor: opts.watermarkScaleFactor } : {}),
  });
  // The model needs the machine's clock, so it is attached after construction.
  const timing = new TimingModel(m.core.sim, sectionValues(profile.params, CPU_COST_SECTION));
  m.core.cost = timing;
  const fabric = new Fabric(m.core, {
    nodes: profile.topology.nodes.map((n) => ({ id: n.id, socket: n.socket })),
    params: sectionValues(profile.params, FABRIC_SECTION),
  });
  let dmaengine: DmaEngine | null = null;
  const probed = new Map<string, readonly object[]>();
  if (opts.dma !== false) {
    const iommu = new Iommu(m.core, m.mem);
    dmaengine = new DmaEngine({ core: m.core, mem: m.mem, iommu, params: sectionValues(profile.params, DMAENGINE_SECTION) });
    for (const e of engines) {
      const params = e.params === undefined ? {} : sectionValues(profile.params, e.params);
      try {
        probed.set(e.name, e.probe({ m, core: m.core, fabric, profile, dmaengine, params, iommu: profile.iommu }));
      } catch (err) {
        throw pluginError(err, `engine ${e.name}: probe`);
      }
    }
  }
  return { profile, m, timing, fabric, dmaengine, engines: probed };
}

/** A machine with the given engine modules (default: every built-in engine, each probing what the profile places). */
export function createMachine(profile: HardwareProfile, opts: CreateMachineOptions = {}): EmulatedMachine {
  return createMachineWith(profile, opts.engines ?? [...BUILTIN_ENGINES.values()], opts);
}
