/**
 * Shared set-up for mm-core tests: a real machine with two nodes and a process on it. Other packages use
 * @mmemu/test-support for the same helpers; mm-core cannot (that package depends on mm-core, and
 * TypeScript project references may not form a cycle).
 */
import { UniformCosts } from "@mmemu/kernel";
import {
  allocMigrationTarget, FolioList, InvariantChecker, isolateFolioToList, Machine, MAP_ANONYMOUS, MAP_POPULATE,
  MAP_PRIVATE, MIGRATE_SYNC, migratePages, MR, PAGE_SIZE, patternDigest, PROT_READ, PROT_WRITE, putbackMovablePages,
  type MigrateMode, type MmStruct, type Task,
} from "../src/index.js";
import { WMARK_MIN } from "../src/zone.js";

export interface World {
  m: Machine;
  mm: MmStruct;
  task: Task;
  checker: InvariantChecker;
}

export function world(opts: { pages?: number; cpus?: number; timed?: boolean; seed?: number } = {}): World {
  const m = new Machine({
    nodes: [
      { id: 0, pages: opts.pages ?? 1 << 14, cpus: opts.cpus ?? 2 },
      { id: 1, pages: opts.pages ?? 1 << 14, cpus: opts.cpus ?? 2 },
    ],
    seed: opts.seed ?? 1,
  });
  if (opts.timed) m.core.cost = new UniformCosts(m.sim, 100);
  const mm = m.createMm();
  const task = m.createTask(mm, 0);
  m.current = task;
  const checker = new InvariantChecker(m);
  return { m, mm, task, checker };
}

/** mmap + populate anonymous private memory, each page filled with a pattern derived from its index. */
export function anon(w: World, bytes: number, fill = true): number {
  const addr = w.m.memory.mmap(w.mm, { len: bytes, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE });
  if (addr < 0) throw new Error(`mmap failed: ${addr}`);
  if (fill) for (let a = addr; a < addr + bytes; a += PAGE_SIZE) w.m.mem.fillPages(w.m.memory.translate(w.mm, a), 1, pattern(a));
  return addr;
}

export function pattern(addr: number): number {
  return (Math.imul(addr / PAGE_SIZE, 2654435761) ^ 0xabcdef) >>> 0 || 7;
}

/** Isolate the folios mapping [addr, addr+bytes) onto a list (each folio once). */
export function isolate(w: World, addr: number, bytes: number): FolioList {
  const list = new FolioList();
  for (let a = addr; a < addr + bytes; a += PAGE_SIZE) {
    const pfn = w.m.memory.translate(w.mm, a);
    if (pfn < 0) continue;
    const folio = w.m.folios.folioOf(pfn);
    if (!list.includes(folio)) isolateFolioToList(w.m, folio, list);
  }
  return list;
}

/** Migrate to `nid` as move_pages does, putting back failures. Returns migrate_pages()'s result. */
export function migrateTo(w: World, list: FolioList, nid: number, mode: MigrateMode = MIGRATE_SYNC, reason: number = MR.SYSCALL): number {
  const rc = migratePages(w.m, list, (src) => allocMigrationTarget(w.m, src, { nid, thisNode: true }), null, mode, reason);
  if (rc !== 0) putbackMovablePages(w.m, list);
  return rc;
}

export function nodeOf(w: World, addr: number): number {
  return w.m.mem.nodeOfPfn[w.m.memory.translate(w.mm, addr)]!;
}

/** True if every page of the range still holds its pattern. */
export function intact(w: World, addr: number, bytes: number): boolean {
  for (let a = addr; a < addr + bytes; a += PAGE_SIZE) {
    const pfn = w.m.memory.translate(w.mm, a);
    if (pfn < 0) return false;
    if (w.m.mem.digest(pfn) !== patternDigest(pattern(a))) return false;
  }
  return true;
}

/** Leave a node with only order-0 free blocks: take every page, then free every other one. */
export function fragment(w: World, nid: number): void {
  const taken: number[] = [];
  for (let p; (p = w.m.alloc.alloc(nid, 0)) >= 0; ) taken.push(p);
  for (const p of taken) if (p % 2 === 0) w.m.alloc.free(p, 0);
}

/**
 * Take a node's free memory with raw (boot-time, watermark-blind) allocations until `leave` pages are
 * free: a node that is full for reasons outside the test.
 */
export function fillNode(w: World, nid: number, leave: number): void {
  while (w.m.alloc.nrFree(nid) > leave && w.m.alloc.alloc(nid, 0) >= 0);
}

/** The MIN watermark of a node's highest zone (where its user allocations come from). */
export function minWmark(w: World, nid: number): number {
  const zones = w.m.alloc.nodeZones[nid]!.filter((z) => z !== null);
  return zones[zones.length - 1]!.mark(WMARK_MIN);
}
