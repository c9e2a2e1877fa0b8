/** A machine with PTDMA engines and dcbm loaded, for dcbm's tests. */
import { Fabric } from "@mmemu/kernel";
import {
  allocMigrationTarget, FolioList, InvariantChecker, isolateFolioToList, Machine, MAP_ANONYMOUS, MAP_POPULATE,
  MAP_PRIVATE, MIGRATE_SYNC, migratePages, MR, PAGE_SIZE, patternDigest, PROT_READ, PROT_WRITE, putbackMovablePages,
  type MmStruct,
} from "@mmemu/mm-core";
import { DmaEngine, type IommuMode } from "@mmemu/dmaengine";
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
  return { m, mm, dma, pts, dcbm, checker };
}

export function pattern(addr: number): number {
  return (Math.imul(addr / PAGE_SIZE, 2246822519) ^ 0xdc8b) >>> 0 || 5;
}

/** mmap + populate anonymous memory on node 0 (the task runs on CPU 0), every page patterned. */
export function anon(r: Rig, bytes: number): number {
  const addr = r.m.memory.mmap(r.mm, { len: bytes, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE });
  if (addr < 0) throw new Error(`mmap failed: ${addr}`);
  for (let a = addr; a < addr + bytes; a += PAGE_SIZE) r.m.mem.fillPages(r.m.memory.translate(r.mm, a), 1, pattern(a));
  return addr;
}

/** move_pages-style migration of a range to `nid` (MIGRATE_SYNC, MR_SYSCALL); failures put back. */
export function migrateRange(r: Rig, addr: number, bytes: number, nid: number, reason: number = MR.SYSCALL): number {
  const list = new FolioList();
  for (let a = addr; a < addr + bytes; a += PAGE_SIZE) {
    const folio = r.m.folios.folioOf(r.m.memory.translate(r.mm, a));
    if (!list.includes(folio)) isolateFolioToList(r.m, folio, list);
  }
  const rc = migratePages(r.m, list, (src) => allocMigrationTarget(r.m, src, { nid, thisNode: true }), null, MIGRATE_SYNC, reason);
  if (rc !== 0) putbackMovablePages(r.m, list);
  return rc;
}

export function intact(r: Rig, addr: number, bytes: number): boolean {
  for (let a = addr; a < addr + bytes; a += PAGE_SIZE) {
    const pfn = r.m.memory.translate(r.mm, a);
    if (pfn < 0 || r.m.mem.digest(pfn) !== patternDigest(pattern(a))) return false;
  }
  return true;
}

export function onNode(r: Rig, addr: number, bytes: number, nid: number): boolean {
  for (let a = addr; a < addr + bytes; a += PAGE_SIZE) if (r.m.mem.nodeOfPfn[r.m.memory.translate(r.mm, a)] !== nid) return false;
  return true;
}
