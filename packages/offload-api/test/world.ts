/** Shared set-up for offload-api tests: a real two-node machine, a process, an invariant checker. */
import { NR_COST_KINDS, type CostKind, type CostMeter } from "@mmemu/kernel";
import {
  allocMigrationTarget, FolioList, InvariantChecker, isolateFolioToList, Machine, MAP_ANONYMOUS, MAP_POPULATE,
  MAP_PRIVATE, MIGRATE_SYNC, migratePages, MR, PAGE_SIZE, patternDigest, PROT_READ, PROT_WRITE, putbackMovablePages,
  type MigrateMode, type MmStruct, type Task,
} from "@mmemu/mm-core";

/** A cost meter that only counts units per kind (no time passes). */
export class CountingCosts implements CostMeter {
  readonly units = new Float64Array(NR_COST_KINDS);
  charge(kind: CostKind, units: number): void {
    this.units[kind]! += units;
  }
}

export interface World {
  m: Machine;
  mm: MmStruct;
  task: Task;
  checker: InvariantChecker;
  costs: CountingCosts;
}

export function world(opts: { pages?: number; cpus?: number } = {}): World {
  const costs = new CountingCosts();
  const m = new Machine({
    nodes: [
      { id: 0, pages: opts.pages ?? 1 << 13, cpus: opts.cpus ?? 2 },
      { id: 1, pages: opts.pages ?? 1 << 13, cpus: opts.cpus ?? 2 },
    ],
    costs,
  });
  const mm = m.createMm();
  const task = m.createTask(mm, 0);
  m.current = task;
  const checker = new InvariantChecker(m);
  return { m, mm, task, checker, costs };
}

export function pattern(addr: number): number {
  return (Math.imul(addr / PAGE_SIZE, 2654435761) ^ 0x5eed) >>> 0 || 3;
}

/** mmap + populate anonymous memory, every page filled with a pattern derived from its address. */
export function anon(w: World, bytes: number): number {
  const addr = w.m.memory.mmap(w.mm, { len: bytes, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE });
  if (addr < 0) throw new Error(`mmap failed: ${addr}`);
  for (let a = addr; a < addr + bytes; a += PAGE_SIZE) w.m.mem.fillPages(w.m.memory.translate(w.mm, a), 1, pattern(a));
  return addr;
}

/** Isolate the folios mapping [addr, addr+bytes) onto a list, each once. */
export function isolate(w: World, addr: number, bytes: number): FolioList {
  const list = new FolioList();
  for (let a = addr; a < addr + bytes; a += PAGE_SIZE) {
    const folio = w.m.folios.folioOf(w.m.memory.translate(w.mm, a));
    if (!list.includes(folio)) isolateFolioToList(w.m, folio, list);
  }
  return list;
}

/** Isolate a range and migrate it to `nid`, putting back failures; returns migrate_pages()'s result. */
export function migrateRange(w: World, addr: number, bytes: number, nid: number, mode: MigrateMode = MIGRATE_SYNC, reason: number = MR.SYSCALL): number {
  const list = isolate(w, addr, bytes);
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
    if (pfn < 0 || w.m.mem.digest(pfn) !== patternDigest(pattern(a))) return false;
  }
  return true;
}
