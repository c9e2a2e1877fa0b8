/**
 * migrate_pages() as 6.1 had it (settings.migratePagesBatch = false): one folio at a time through
 * unmap_and_move(), each page flushed on its own, up to 10 passes over the list. Expectations follow
 * mm/migrate.c of 6.1 (migrate_pages, unmap_and_move, __unmap_and_move) and what its traces show
 * (spec tracing.md §6 items 2 and 8).
 */
import test from "ava";
import { ENOMEM } from "@mmemu/kernel";
import {
  allocMigrationTarget, lastMigrateStats, MAP_ANONYMOUS, MAP_HUGETLB, MAP_POPULATE, MAP_SHARED, migratePages, MIGRATE_ASYNC,
  MIGRATE_SYNC, MR, PAGE_SIZE, PG, PROT_READ, PROT_WRITE, putbackMovablePages,
} from "../src/index.js";
import { anon, fillNode, minWmark, fragment, intact, isolate, migrateTo, nodeOf, world, type World } from "./world.js";

function world61(opts: Parameters<typeof world>[0] = {}): World {
  const w = world(opts);
  w.m.settings.migratePagesBatch = false;
  return w;
}

/** Names of the recorded events, in order. */
function names(records: ReadonlyArray<{ name: string }>): string[] {
  return records.map((r) => r.name);
}

test("6.1: a folio held by an extra reference is unmapped and remapped on each of 10 passes; 6.12 and later unmap it twice", (t) => {
  for (const [batch, attempts] of [[false, 10], [true, 2]] as const) {
    const w = world();
    w.m.settings.migratePagesBatch = batch;
    const addr = anon(w, PAGE_SIZE);
    const folio = w.m.memory.translate(w.mm, addr);
    // Another kernel user holds a reference (a get_page() that is not a pin), so the refcount never
    // matches what the move expects.
    w.m.folios.refcount[folio]!++;
    const rec = w.m.core.trace.record(["set_migration_pte", "remove_migration_pte", "mm_migrate_pages"]);
    const list = isolate(w, addr, PAGE_SIZE);
    t.is(migrateTo(w, list, 1), 1, "one folio not migrated");
    rec.stop();
    const sets = rec.records.filter((r) => r.name === "set_migration_pte").length;
    const removes = rec.records.filter((r) => r.name === "remove_migration_pte").length;
    t.is(sets, attempts, batch ? "async batch, then the sync retry alone" : "NR_MAX_MIGRATE_PAGES_RETRY passes");
    t.is(removes, attempts, "every attempt restores the old PTE");
    const done = rec.records.find((r) => r.name === "mm_migrate_pages")!;
    t.is(done.fields.nr_failed, 1);
    w.m.folios.refcount[folio]!--;
    t.is(nodeOf(w, addr), 0);
    t.true(intact(w, addr, PAGE_SIZE));
    t.deepEqual(w.checker.checkQuiescent(), []);
  }
});

test("6.1: every page is flushed on its own before its migration entry, and moved before the next page is unmapped", (t) => {
  const w = world61();
  const addr = anon(w, 4 * PAGE_SIZE);
  // A second thread of the process on CPU 1: every flush is a remote shootdown.
  w.m.createTask(w.mm, 1);
  w.m.memory.userAccessFrame(w.m.tasks[w.m.tasks.length - 1]!, addr, false);
  const rec = w.m.core.trace.record(["tlb_flush", "set_migration_pte", "remove_migration_pte", "mm_migrate_pages_batch_start"]);
  const list = isolate(w, addr, 4 * PAGE_SIZE);
  t.is(migrateTo(w, list, 1), 0);
  rec.stop();
  // Per page as 6.1 logs it (spec 6.2): the sender's IPI send and local flush, the target's shootdown.
  const perPage = ["tlb_flush", "tlb_flush", "tlb_flush", "set_migration_pte", "remove_migration_pte"];
  t.deepEqual(names(rec.records), [...perPage, ...perPage, ...perPage, ...perPage], "no batch, no deferred flush");
  t.deepEqual(rec.records.slice(0, 3).map((r) => [r.fields.reason, r.fields.pages, r.cpu]), [
    ["TLB_REMOTE_SEND_IPI", 1, 0], ["TLB_LOCAL_MM_SHOOTDOWN", 1, 0], ["TLB_REMOTE_SHOOTDOWN", 1, 1],
  ]);
  for (let k = 0; k < 4; k++) t.is(nodeOf(w, addr + k * PAGE_SIZE), 1);
  t.true(intact(w, addr, 4 * PAGE_SIZE));
});

test("6.1: a contended lock fails the first three passes and is slept on from the fourth (force); ASYNC never sleeps", (t) => {
  const w = world61({ timed: true });
  const addr = anon(w, PAGE_SIZE);
  const folio = w.m.memory.translate(w.mm, addr);
  w.m.folios.set(folio, PG.locked);
  w.m.sim.schedule(50_000, () => w.m.folios.clear(folio, PG.locked));
  const rec = w.m.core.trace.record(["set_migration_pte"]);
  let list = isolate(w, addr, PAGE_SIZE);
  const t0 = w.m.sim.now;
  t.is(migrateTo(w, list, 1, MIGRATE_ASYNC), 1, "ASYNC: -EAGAIN on all 10 passes");
  t.true(w.m.sim.now - t0 < 50_000, "ASYNC did not wait for the lock");
  t.is(rec.records.length, 0);
  list = isolate(w, addr, PAGE_SIZE);
  t.is(migrateTo(w, list, 1, MIGRATE_SYNC), 0);
  rec.stop();
  t.true(w.m.sim.now - t0 >= 50_000, "the fourth pass slept until the lock was released");
  t.is(rec.records.length, 1, "unmapped once, when the lock was held");
  t.is(nodeOf(w, addr), 1);
});

test("6.1: writeback is waited for only from the fourth pass of a MIGRATE_SYNC call", (t) => {
  const w = world61({ timed: true });
  const addr = anon(w, PAGE_SIZE);
  const folio = w.m.memory.translate(w.mm, addr);
  w.m.folios.set(folio, PG.writeback);
  w.m.sim.schedule(80_000, () => w.m.folios.clear(folio, PG.writeback));
  const list = isolate(w, addr, PAGE_SIZE);
  const t0 = w.m.sim.now;
  t.is(migrateTo(w, list, 1, MIGRATE_SYNC), 0);
  t.true(w.m.sim.now - t0 >= 80_000);
  t.is(nodeOf(w, addr), 1);
});

test("6.1: any large folio counts in the THP statistics (PageTransHuge), unlike 6.12's PMD-sized test", (t) => {
  for (const batch of [false, true]) {
    const w = world();
    w.m.settings.migratePagesBatch = batch;
    w.m.memory.anonThp[4] = "always";
    const addr = anon(w, 64 * 1024);
    const list = isolate(w, addr, 64 * 1024);
    t.is(list.length, 1, "one 64K folio");
    t.is(migrateTo(w, list, 1), 0);
    const stats = lastMigrateStats(w.m)!;
    t.is(stats.nr_succeeded, 16);
    t.is(stats.nr_thp_succeeded, batch ? 0 : 1);
    t.true(intact(w, addr, 64 * 1024));
  }
});

test("6.1: -ENOMEM for a large folio splits it; the pieces move in a second round after the rest of the list", (t) => {
  const w = world61({ pages: 1 << 11 });
  w.m.memory.anonThp[4] = "always";
  const big = anon(w, 64 * 1024);
  w.m.memory.anonThp[4] = "never";
  const small = anon(w, 2 * PAGE_SIZE);
  // Node 1 keeps only order-0 blocks: the 64K target cannot be had, single pages can.
  fragment(w, 1);
  const list = isolate(w, big, 64 * 1024);
  const rest = isolate(w, small, 2 * PAGE_SIZE);
  for (let i = 0; i < rest.length; i++) list.push(rest.get(i));
  const rec = w.m.core.trace.record(["mm_migrate_folio_moved"]);
  const rc = migratePages(w.m, list, (s) => allocMigrationTarget(w.m, s, { nid: 1, thisNode: true }), null, MIGRATE_SYNC, MR.SYSCALL);
  rec.stop();
  t.is(rc, 0, "every piece moved, so nothing is left on the list");
  const stats = lastMigrateStats(w.m)!;
  t.is(stats.nr_thp_split, 1);
  t.is(stats.nr_thp_failed, 1, "the large folio counts once as failed");
  t.is(stats.nr_succeeded, 18);
  // The two small folios were moved in the first round, every piece of the split one after them.
  const order = rec.records.map((r) => r.fields.src as number);
  t.is(order.length, 18);
  t.deepEqual(order.slice(0, 2), [rest.get(0), rest.get(1)]);
  for (let k = 0; k < 16; k++) t.is(nodeOf(w, big + k * PAGE_SIZE), 1);
  t.true(intact(w, big, 64 * 1024));
  t.true(intact(w, small, 2 * PAGE_SIZE));
});

test("6.1: -ENOMEM for a base page stops the call; the folios after it stay on the list unmigrated", (t) => {
  const w = world61({ pages: 1 << 10 });
  const addr = anon(w, 40 * PAGE_SIZE);
  // Only 10 pages above the MIN watermark remain: the fast path fails, the slow path gives those 10.
  fillNode(w, 1, minWmark(w, 1) + 10);
  const list = isolate(w, addr, 40 * PAGE_SIZE);
  const rc = migratePages(w.m, list, (s) => allocMigrationTarget(w.m, s, { nid: 1, thisNode: true }), null, MIGRATE_SYNC, MR.SYSCALL);
  t.is(rc, -ENOMEM);
  t.is(lastMigrateStats(w.m)!.nr_succeeded, 10);
  t.is(list.length, 30);
  putbackMovablePages(w.m, list);
  t.true(intact(w, addr, 40 * PAGE_SIZE));
  t.deepEqual(w.checker.checkQuiescent(), []);
});

test("6.1: hugetlb folios migrate in the same loop as the others, in list order", (t) => {
  const w = world61();
  w.m.setHugetlbPages(0, 1);
  w.m.setHugetlbPages(1, 1);
  const small = anon(w, PAGE_SIZE);
  const huge = w.m.memory.mmap(w.mm, { len: 2 << 20, prot: PROT_READ | PROT_WRITE, flags: MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE });
  const hfolio = w.m.memory.translate(w.mm, huge);
  w.m.folios.set(hfolio, PG.hugetlbMigratable);
  w.m.mem.fillPages(hfolio, 512, 0x77);
  const list = isolate(w, small, PAGE_SIZE);
  const hl = isolate(w, huge, PAGE_SIZE);
  list.push(hl.get(0));
  const sfolio = list.get(0);
  const rec = w.m.core.trace.record(["mm_migrate_folio_moved"]);
  t.is(migrateTo(w, list, 1), 0);
  rec.stop();
  // 6.12 moves hugetlb folios first (migrate_hugetlbs); 6.1 keeps the list order.
  t.deepEqual(rec.records.map((r) => r.fields.src), [sfolio, hfolio]);
  t.is(w.m.mem.nodeOfPfn[w.m.memory.translate(w.mm, huge)], 1);
  t.is(nodeOf(w, small), 1);
});
