/**
 * @mmemu/test-support — the set-up every package's tests repeat: a process's anonymous memory filled
 * with a pattern derived from each page's address, the folios of a range isolated and migrated as
 * move_pages() would, and checks that every page still holds its pattern and sits on a node. Real
 * components only: these are shortcuts over mm-core's own API, not stand-ins for it.
 */
import {
  allocMigrationTarget, FolioList, isolateFolioToList, MAP_ANONYMOUS, MAP_POPULATE, MAP_PRIVATE, MIGRATE_SYNC,
  migratePages, MR, PAGE_SIZE, patternDigest, PROT_READ, PROT_WRITE, putbackMovablePages,
  type Machine, type MigrateMode, type MmStruct,
} from "@mmemu/mm-core";

/** A machine and the address space the helpers act on (a test's world or rig). */
export interface MmContext {
  readonly m: Machine;
  readonly mm: MmStruct;
}

/** The fill pattern of the page at `addr`: distinct per page, never 0 (a zero page would look untouched). */
export function pagePattern(addr: number): number {
  return (Math.imul(addr / PAGE_SIZE, 2654435761) ^ 0xabcdef) >>> 0 || 7;
}

/** mmap + populate private anonymous memory; with `fill`, every page gets its pagePattern(). */
export function mapAnon(c: MmContext, bytes: number, fill = true): number {
  const addr = c.m.memory.mmap(c.mm, { len: bytes, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE });
  if (addr < 0) throw new Error(`mmap of ${bytes} bytes failed: ${addr}`);
  if (fill) for (let a = addr; a < addr + bytes; a += PAGE_SIZE) c.m.mem.fillPages(c.m.memory.translate(c.mm, a), 1, pagePattern(a));
  return addr;
}

/** Isolate the folios mapping [addr, addr+bytes) onto a list, each folio once; unmapped pages are skipped. */
export function isolateRange(c: MmContext, addr: number, bytes: number): FolioList {
  const list = new FolioList();
  for (let a = addr; a < addr + bytes; a += PAGE_SIZE) {
    const pfn = c.m.memory.translate(c.mm, a);
    if (pfn < 0) continue;
    const folio = c.m.folios.folioOf(pfn);
    if (!list.includes(folio)) isolateFolioToList(c.m, folio, list);
  }
  return list;
}

/** migrate_pages() of an isolated list to `nid` as move_pages does, putting back failures; its result. */
export function migrateList(c: MmContext, list: FolioList, nid: number, mode: MigrateMode = MIGRATE_SYNC, reason: number = MR.SYSCALL): number {
  const rc = migratePages(c.m, list, (src) => allocMigrationTarget(c.m, src, { nid, thisNode: true }), null, mode, reason);
  if (rc !== 0) putbackMovablePages(c.m, list);
  return rc;
}

/** isolateRange() then migrateList(). */
export function migrateRange(c: MmContext, addr: number, bytes: number, nid: number, mode: MigrateMode = MIGRATE_SYNC, reason: number = MR.SYSCALL): number {
  return migrateList(c, isolateRange(c, addr, bytes), nid, mode, reason);
}

/** The node of the frame mapped at addr. */
export function nodeOf(c: MmContext, addr: number): number {
  return c.m.mem.nodeOfPfn[c.m.memory.translate(c.mm, addr)]!;
}

/** Whether every page of the range is mapped on node `nid`. */
export function onNode(c: MmContext, addr: number, bytes: number, nid: number): boolean {
  for (let a = addr; a < addr + bytes; a += PAGE_SIZE) if (nodeOf(c, a) !== nid) return false;
  return true;
}

/** True if every page of the range is mapped and still holds its pagePattern(). */
export function intact(c: MmContext, addr: number, bytes: number): boolean {
  for (let a = addr; a < addr + bytes; a += PAGE_SIZE) {
    const pfn = c.m.memory.translate(c.mm, a);
    if (pfn < 0 || c.m.mem.digest(pfn) !== patternDigest(pagePattern(a))) return false;
  }
  return true;
}
