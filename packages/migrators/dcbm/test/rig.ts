/** A machine with PTDMA engines and dcbm loaded, for dcbm's tests. */
import { Fabric, type IommuMode } from "@mmemu/platform";
import { InvariantChecker, Machine, MIGRATE_SYNC, MR, type MmStruct } from "@mmemu/mm-core";
import { migrateRange as sharedMigrateRange } from "@mmemu/test-support";
import { DmaEngine, DmaengineDebug } from "@mmemu/dmaengine";
import { createPtdmaEngines, ZEN3_2S_PTDMA_PLACEMENTS, type PtdmaEngine, type PtdmaSwitches } from "@mmemu/ptdma";
import { migrateOffloadInit, type OffloadSeries } from "@mmemu/offload-api";
import { Dcbm, type DcbmOptions } from "@mmemu/dcbm";

export interface Rig {
  m: Machine;
  mm: MmStruct;
  dma: DmaEngine;
  pts: PtdmaEngine[];
  dcbm: Dcbm;
  checker: InvariantChecker;
  /** dmaengine's protocol and leak checks, reporting to the checker. */
  dbg: DmaengineDebug;
}

export interface RigOptions {
  engines?: number;
  pages?: number;
  series?: OffloadSeries;
  switches?: Partial<PtdmaSwitches>;
  iommu?: IommuMode;
  dcbm?: DcbmOptions;
  /** Register dcbm (offloading=1) with this many channels. @default 1 */
  channels?: number;
  /** Leave offloading off. */
  off?: boolean;
  /** Collect invariant violations instead of throwing at the first. */
  collectViolations?: boolean;
}

export function rig(o: RigOptions = {}): Rig {
  const pages = o.pages ?? 1 << 13;
  const m = new Machine({ nodes: [{ id: 0, pages, cpus: 4 }, { id: 1, pages, cpus: 4 }] });
  migrateOffloadInit(m, { series: o.series ?? "v5" });
  const dma = new DmaEngine({ core: m.core, mem: m.mem });
  const fabric = new Fabric(m.core, { nodes: [{ id: 0, socket: 0 }, { id: 1, socket: 1 }] });
  const n = o.engines ?? 16;
  const pts = n === 0 ? [] : createPtdmaEngines({
    core: m.core, engine: dma, fabric, placements: ZEN3_2S_PTDMA_PLACEMENTS.slice(0, n),
    ...(o.switches ? { switches: o.switches } : {}), ...(o.iommu ? { iommu: o.iommu } : {}),
  });
  const dcbm = new Dcbm(m, dma, o.dcbm);
  if (dcbm.setNrDmaChan(o.channels ?? 1) !== 0) throw new Error("bad channel count");
  if (!o.off && dcbm.setOffloading(true) !== 0) throw new Error("dcbm could not register");
  const mm = m.createMm();
  m.current = m.createTask(mm, 0);
  const checker = new InvariantChecker(m, { throwOnViolation: !o.collectViolations });
  const dbg = new DmaengineDebug(dma, checker);
  return { m, mm, dma, pts, dcbm, checker, dbg };
}

export { mapAnon as anon, pagePattern as pattern, intact, onNode } from "@mmemu/test-support";

/** move_pages-style migration of a range to `nid` (MIGRATE_SYNC, `reason`); failures put back. */
export function migrateRange(r: Rig, addr: number, bytes: number, nid: number, reason: number = MR.SYSCALL): number {
  return sharedMigrateRange(r, addr, bytes, nid, MIGRATE_SYNC, reason);
}
