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
import { moduleParamValues, type EngineModule, type MigratorInstance, type MigratorModule } from "@mmemu/driver-kit";
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
  /**
   * The nodes' memory (pages) and CPUs, when not the profile's with `pagesPerNode` each (a scenario's
   * machine); ids must be the profile's, so engines, sockets and quadrants stay where the profile puts them.
   */
  readonly nodes?: ReadonlyArray<{ readonly id: number; readonly pages: number; readonly cpus: number }>;
  /** Module parameters of the engine modules, by module name (`modprobe ptdma errorsVisibleToClient=1`). */
  readonly modparams?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
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
  if (opts.nodes !== undefined) {
    const want = profile.topology.nodes.map((n) => n.id).join(",");
    const got = opts.nodes.map((n) => n.id).join(",");
    if (want !== got) throw new RangeError(`machine: the nodes must be the profile ${profile.name}'s (ids ${want}), got ids ${got}`);
  }
  const m = new Machine({
    nodes: opts.nodes ?? profile.topology.nodes.map((n) => ({ id: n.id, pages, cpus: n.cpus })),
    seed: opts.seed ?? 1,
    ...(opts.hugetlbPages !== undefined ? { hugetlbPages: opts.hugetlbPages } : {}),
    ...(opts.movablePages !== undefined ? { movablePages: opts.movablePages } : {}),
    ...(opts.watermarkScaleFactor !== undefined ? { watermarkScaleFactor: opts.watermarkScaleFactor } : {}),
  });
  // The model needs the machine's clock, so it is attached after construction.
  const cpu = sectionValues(profile.params, CPU_COST_SECTION);
  const timing = new TimingModel(m.core.sim, cpu);
  m.core.cost = timing;
  const fabric = new Fabric(m.core, {
    nodes: profile.topology.nodes.map((n) => ({
      id: n.id, socket: n.socket,
      ...(n.mem_bw !== undefined ? { memBw: n.mem_bw } : {}), ...(n.mem_latency !== undefined ? { memLatency: n.mem_latency } : {}),
    })),
    params: sectionValues(profile.params, FABRIC_SECTION),
    cpuCopyBw: cpu.cpu_copy_bw,
  });
  // Every CPU copy (folio_mc_copy, mtcopy's workers) runs through the fabric at cpu.cpu_copy_bw.
  timing.attachFabric(fabric);
  let dmaengine: DmaEngine | null = null;
  const probed = new Map<string, readonly object[]>();
  if (opts.dma !== false) {
    const iommu = new Iommu(m.core, m.mem);
    dmaengine = new DmaEngine({ core: m.core, mem: m.mem, iommu, params: sectionValues(profile.params, DMAENGINE_SECTION) });
    for (const e of engines) {
      const params = e.params === undefined ? {} : sectionValues(profile.params, e.params);
      const modparams = moduleParamValues(e, opts.modparams?.[e.name]);
      try {
        probed.set(e.name, e.probe({ m, core: m.core, fabric, profile, dmaengine, params, iommu: profile.iommu, modparams }));
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

/**
 * Mirrors insmod of a migrator module on a machine (its module_init): its profile section and its
 * module parameters (`modparams`, checked against what it declares) handed to its load(). Nothing is
 * registered yet: writing its enable attribute does that.
 */
export function loadMigrator(em: EmulatedMachine, mod: MigratorModule, modparams?: Readonly<Record<string, unknown>>, at?: string): MigratorInstance {
  if (mod.usesDma && em.dmaengine === null) throw new Error(`${mod.name} needs the DMA engines (a machine built with dma)`);
  const params = mod.params === undefined ? {} : sectionValues(em.profile.params, mod.params);
  const values = moduleParamValues(mod, modparams, at);
  try {
    return mod.load({ m: em.m, core: em.m.core, fabric: em.fabric, profile: em.profile, dmaengine: em.dmaengine, params, modparams: values });
  } catch (e) {
    throw pluginError(e, `migrator ${mod.name}: load`);
  }
}
