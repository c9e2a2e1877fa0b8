/**
 * Shared set-up for the cross-package scenarios: an emulated machine built from the calibrated
 * Zen 3 + PTDMA hardware profile (timing model, fabric, dmaengine, 16 PTDMA engines behind a
 * translating IOMMU), a process on CPU 0 of node 0, and an invariant checker.
 */
import {
  allocMigrationTarget, FolioList, InvariantChecker, isolateFolioToList, MAP_ANONYMOUS, MAP_POPULATE, MAP_PRIVATE,
  MIGRATE_SYNC, migratePages, MR, PAGE_SIZE, patternDigest, PROT_READ, PROT_WRITE, putbackMovablePages,
  type MigrateMode, type MmStruct,
} from "@mmemu/mm-core";
import { BUILTIN_SCHEMA } from "@mmemu/components";
import { createMachine, loadProfile, type EmulatedMachine } from "@mmemu/timing";
import {
  kernelMovePages, MPOL_MF_MOVE, mmapUserArea, readUserInts, TaskTable, writeUserArray, type TaskStruct,
} from "@mmemu/move-pages";

export interface Scenario {
  em: EmulatedMachine;
  /** The machine's task table, and one unprivileged process on CPU 0 whose memory the scenarios use. */
  tasks: TaskTable;
  p: TaskStruct;
  mm: MmStruct;
  checker: InvariantChecker;
}

export function scenario(opts: { pagesPerNode?: number; collectViolations?: boolean } = {}): Scenario {
  const em = createMachine(loadProfile("zen3-ptdma", BUILTIN_SCHEMA), { pagesPerNode: opts.pagesPerNode ?? 1 << 13 });
  const tasks = new TaskTable(em.m, { kernelVersion: "mainline" });
  const p = tasks.createProcess({ uid: 1000, name: "mover" });
  em.m.current = p.ctx;
  const checker = new InvariantChecker(em.m, { throwOnViolation: !opts.collectViolations });
  return { em, tasks, p, mm: p.mm!, checker };
}

function pattern(addr: number): number {
  return (Math.imul(addr / PAGE_SIZE, 2654435761) ^ 0x1e57) >>> 0 || 11;
}

/** mmap + populate anonymous memory, every page filled with its own pattern. */
export function anon(s: Scenario, bytes: number): number {
  const m = s.em.m;
  const addr = m.memory.mmap(s.mm, { len: bytes, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE });
  if (addr < 0) throw new Error(`mmap failed: ${addr}`);
  for (let a = addr; a < addr + bytes; a += PAGE_SIZE) m.mem.fillPages(m.memory.translate(s.mm, a), 1, pattern(a));
  return addr;
}

/** The distinct folios mapping a range, in address order. */
export function foliosOf(s: Scenario, addr: number, bytes: number): number[] {
  const out: number[] = [];
  for (let a = addr; a < addr + bytes; a += PAGE_SIZE) {
    const f = s.em.m.folios.folioOf(s.em.m.memory.translate(s.mm, a));
    if (out[out.length - 1] !== f) out.push(f);
  }
  return out;
}

/** Isolate a range's folios and migrate_pages() them to `nid`; failures are put back. */
export function migrateRange(s: Scenario, addr: number, bytes: number, nid: number, mode: MigrateMode = MIGRATE_SYNC, reason: number = MR.SYSCALL): number {
  const m = s.em.m;
  const list = new FolioList();
  for (const f of foliosOf(s, addr, bytes)) isolateFolioToList(m, f, list);
  const rc = migratePages(m, list, (src) => allocMigrationTarget(m, src, { nid, thisNode: true }), null, mode, reason);
  if (rc !== 0) putbackMovablePages(m, list);
  return rc;
}

/**
 * move_pages(0, n, pages, nodes, status, MPOL_MF_MOVE) from the process itself, one address per folio
 * (the head page's: more addresses in one large folio would find it already isolated), every entry
 * asking for `nid`. The arrays live in the process's own memory. Returns the syscall's result and the
 * status array it wrote.
 */
export function movePagesRange(s: Scenario, addr: number, bytes: number, nid: number): { ret: number; status: Array<number | null> } {
  const m = s.em.m;
  const addrs: number[] = [];
  for (let a = addr; a < addr + bytes; ) {
    const f = m.folios.folioOf(m.memory.translate(s.mm, a));
    addrs.push(a);
    a += PAGE_SIZE << m.folios.order[f]!;
  }
  const n = addrs.length;
  const pagesArr = mmapUserArea(s.tasks, s.p, n * 8);
  const nodesArr = mmapUserArea(s.tasks, s.p, n * 4);
  const statusArr = mmapUserArea(s.tasks, s.p, n * 4);
  writeUserArray(s.tasks, s.p, pagesArr, addrs, 8);
  writeUserArray(s.tasks, s.p, nodesArr, addrs.map(() => nid), 4);
  const ret = kernelMovePages(s.tasks, s.p, 0, n, pagesArr, nodesArr, statusArr, MPOL_MF_MOVE);
  return { ret, status: readUserInts(s.tasks, s.p, statusArr, n) };
}

/** Pages of the range whose contents differ from their pattern (page-digest comparison). */
export function corruptPages(s: Scenario, addr: number, bytes: number): number {
  let bad = 0;
  for (let a = addr; a < addr + bytes; a += PAGE_SIZE) {
    const pfn = s.em.m.memory.translate(s.mm, a);
    if (pfn < 0 || s.em.m.mem.digest(pfn) !== patternDigest(pattern(a))) bad++;
  }
  return bad;
}

/** Pages of the range not on node `nid`. */
export function pagesOffNode(s: Scenario, addr: number, bytes: number, nid: number): number {
  let off = 0;
  for (let a = addr; a < addr + bytes; a += PAGE_SIZE) if (s.em.m.mem.nodeOfPfn[s.em.m.memory.translate(s.mm, a)] !== nid) off++;
  return off;
}
