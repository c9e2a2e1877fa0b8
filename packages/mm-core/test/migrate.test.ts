import test from "ava";
import { Cost, EAGAIN, ENOMEM, UniformCosts } from "@mmemu/kernel";
import {
  FolioList, MIGRATE_ASYNC, MIGRATE_SYNC, MR, PAGE_SIZE, PG, PTE, lastMigrateStats, migratePages,
  allocMigrationTarget, putbackMovablePages, MAP_SHARED, MAP_ANONYMOUS, MAP_POPULATE, PROT_READ, PROT_WRITE,
  FOLIO_CONTENT_COPIED,
} from "../src/index.js";
import { anon, fillNode, minWmark, fragment, intact, isolate, migrateTo, nodeOf, world } from "./world.js";

test("a 4K anonymous folio moves to the target node with its contents, refcount and mapcount", (t) => {
  const w = anon4k();
  const { m } = w.w;
  const before = m.memory.translate(w.w.mm, w.addr);
  const list = isolate(w.w, w.addr, PAGE_SIZE);
  t.is(m.folios.refcount[before], 2, "mapping + isolation reference");
  t.is(m.nrIsolatedAnon[0], 1);
  t.is(migrateTo(w.w, list, 1), 0);
  const after = m.memory.translate(w.w.mm, w.addr);
  t.not(after, before);
  t.is(nodeOf(w.w, w.addr), 1);
  t.true(intact(w.w, w.addr, PAGE_SIZE));
  t.is(m.folios.refcount[after], 1);
  t.is(m.folios.mapcount[after], 1);
  t.false(m.folios.test(before, PG.allocated), "source freed");
  t.true(m.folios.test(after, PG.lru));
  t.is(m.nrIsolatedAnon[0], 0);
  t.is(m.vmEvents.pgmigrate_success, 1);
  t.deepEqual(w.w.checker.checkQuiescent(), []);
  t.is(w.w.checker.movesVerified, 1);
});

function anon4k() {
  const w = world();
  return { w, addr: anon(w, PAGE_SIZE) };
}

test("the result counts failed folios and leaves them on the list; migrated pages go to retSucceeded", (t) => {
  const w = world();
  const addr = anon(w, 8 * PAGE_SIZE);
  // Pin the third page: its folio keeps an extra reference and cannot move.
  const pinned = w.m.memory.pinUserPage(w.mm, addr + 2 * PAGE_SIZE, true);
  const list = isolate(w, addr, 8 * PAGE_SIZE);
  const out = { value: -1 };
  const rc = migratePages(w.m, list, (s) => allocMigrationTarget(w.m, s, { nid: 1, thisNode: true }), null, MIGRATE_SYNC, MR.SYSCALL, out);
  t.is(rc, 1);
  t.is(out.value, 7);
  t.deepEqual(list.toArray(), [pinned]);
  putbackMovablePages(w.m, list);
  t.is(nodeOf(w, addr + 2 * PAGE_SIZE), 0);
  t.is(nodeOf(w, addr), 1);
  t.true(intact(w, addr, 8 * PAGE_SIZE));
  w.m.memory.unpinUserPage(pinned);
  t.deepEqual(w.checker.checkQuiescent(), []);
});

test("a pinned exclusive anonymous page is not unmapped (-EAGAIN) and stays mapped through every pass", (t) => {
  const w = world();
  const addr = anon(w, PAGE_SIZE);
  const folio = w.m.memory.pinUserPage(w.mm, addr, true);
  const rec = w.m.core.trace.record(["mm_migrate_pages_batch_start", "set_migration_pte"]);
  const list = isolate(w, addr, PAGE_SIZE);
  t.is(migrateTo(w, list, 1), 1);
  rec.stop();
  t.is(rec.records.filter((r) => r.name === "set_migration_pte").length, 0, "never replaced by a migration entry");
  // async batch (3 passes) then the sync retry alone (7 passes)
  t.deepEqual(rec.records.filter((r) => r.name === "mm_migrate_pages_batch_start").map((r) => r.fields.nr_pass), [3, 7]);
  t.is(w.m.memory.translate(w.mm, addr), folio);
  t.is(lastMigrateStats(w.m)!.nr_failed_pages, 1);
});

test("a transient extra reference fails one move pass with -EAGAIN and the next pass succeeds", (t) => {
  const w = world();
  const addr = anon(w, PAGE_SIZE);
  w.m.core.faults.arm("migrate_extra_ref", { times: 1 });
  const list = isolate(w, addr, PAGE_SIZE);
  t.is(migrateTo(w, list, 1, MIGRATE_ASYNC), 0);
  t.is(nodeOf(w, addr), 1);
  t.true(intact(w, addr, PAGE_SIZE));
  t.is(w.m.core.faults.get("migrate_extra_ref").injected, 1);
});

test("ASYNC: a contended folio lock fails with -EAGAIN for every pass and is counted failed", (t) => {
  const w = world();
  const addr = anon(w, PAGE_SIZE);
  w.m.core.faults.arm("folio_trylock");
  const list = isolate(w, addr, PAGE_SIZE);
  t.is(migrateTo(w, list, 1, MIGRATE_ASYNC), 1);
  t.is(w.m.core.faults.get("folio_trylock").calls, 10, "NR_MAX_MIGRATE_PAGES_RETRY passes");
  w.m.core.faults.get("folio_trylock").disarm();
  t.is(nodeOf(w, addr), 0);
  t.deepEqual(w.checker.checkQuiescent(), []);
});

test("writeback: ASYNC fails permanently with -EBUSY; SYNC's one-by-one retry waits for writeback to end", (t) => {
  const w = world({ timed: true });
  const addr = anon(w, PAGE_SIZE);
  const folio = w.m.memory.translate(w.mm, addr);
  w.m.folios.set(folio, PG.writeback);
  let list = isolate(w, addr, PAGE_SIZE);
  t.is(migrateTo(w, list, 1, MIGRATE_ASYNC), 1);
  t.is(w.m.core.faults.get("folio_trylock").calls, 0);
  t.is(nodeOf(w, addr), 0);
  // Writeback completes 50 us from now; the sync retry sleeps until then.
  w.m.sim.schedule(50_000, () => w.m.folios.clear(folio, PG.writeback));
  list = isolate(w, addr, PAGE_SIZE);
  const t0 = w.m.sim.now;
  t.is(migrateTo(w, list, 1, MIGRATE_SYNC), 0);
  t.true(w.m.sim.now - t0 >= 50_000);
  t.is(nodeOf(w, addr), 1);
});

test("-ENOMEM: a full target node stops the call; what was unmapped is still moved, the rest is put back", (t) => {
  const w = world({ pages: 1 << 10 });
  const addr = anon(w, 600 * PAGE_SIZE);
  // Fill node 1 so that only 10 pages remain.
  // Only 10 pages above the MIN watermark remain: the fast path fails, the slow path gives those 10.
  fillNode(w, 1, minWmark(w, 1) + 10);
  const list = isolate(w, addr, 600 * PAGE_SIZE);
  const rc = migratePages(w.m, list, (s) => allocMigrationTarget(w.m, s, { nid: 1, thisNode: true }), null, MIGRATE_ASYNC, MR.SYSCALL);
  t.is(rc, -ENOMEM);
  t.is(lastMigrateStats(w.m)!.nr_succeeded, 10);
  t.is(list.length, 590);
  putbackMovablePages(w.m, list);
  t.true(intact(w, addr, 600 * PAGE_SIZE));
  let onOne = 0;
  for (let a = addr; a < addr + 600 * PAGE_SIZE; a += PAGE_SIZE) if (nodeOf(w, a) === 1) onOne++;
  t.is(onOne, 10);
  t.deepEqual(w.checker.checkQuiescent(), []);
});

test("batches hold NR_MAX_BATCHED_MIGRATION pages (cut after the crossing folio) with one TLB flush each", (t) => {
  const w = world();
  const addr = anon(w, 1200 * PAGE_SIZE);
  // A second thread of the process on CPU 1 makes flushes remote and deferrable.
  w.m.createTask(w.mm, 1);
  const rec = w.m.core.trace.record(["mm_migrate_pages_batch_start", "tlb_flush"]);
  const list = isolate(w, addr, 1200 * PAGE_SIZE);
  t.is(migrateTo(w, list, 1, MIGRATE_ASYNC), 0);
  rec.stop();
  const batches = rec.records.filter((r) => r.name === "mm_migrate_pages_batch_start").map((r) => r.fields.nr_folios);
  t.deepEqual(batches, [512, 512, 176]);
  // Each flush logs as x86 does: the sender's IPI send and local flush, then the target's shootdown.
  const flushes = rec.records.filter((r) => r.name === "tlb_flush");
  t.deepEqual(flushes.slice(0, 3).map((r) => [r.fields.reason, r.fields.pages, r.cpu, r.ctx]), [
    ["TLB_REMOTE_SEND_IPI", -1, 0, 0], ["TLB_LOCAL_SHOOTDOWN", -1, 0, 0], ["TLB_REMOTE_SHOOTDOWN", -1, 1, 1],
  ]);
  t.is(flushes.filter((r) => r.fields.reason === "TLB_REMOTE_SEND_IPI").length, 3, "one deferred flush per batch, not one per PTE");
  t.is(flushes.length, 9);
  w.m.settings.nrMaxBatchedMigration = 1024;
  const list2 = isolate(w, addr, 1200 * PAGE_SIZE);
  const rec2 = w.m.core.trace.record(["mm_migrate_pages_batch_start"]);
  t.is(migrateTo(w, list2, 0, MIGRATE_ASYNC), 0);
  rec2.stop();
  t.deepEqual(rec2.records.map((r) => r.fields.nr_folios), [1024, 176]);
  t.true(intact(w, addr, 1200 * PAGE_SIZE));
});

test("without the batched flush a stale translation still reaches the old frame; after it, none does", (t) => {
  const w = world();
  const addr = anon(w, PAGE_SIZE);
  const other = w.m.createTask(w.mm, 1);
  const old = w.m.memory.userAccessFrame(other, addr, true);
  t.is(old, w.m.memory.translate(w.mm, addr));
  // Unmap with TTU_BATCH_FLUSH, as Phase A does, but do not flush yet.
  const folio = old;
  const list = isolate(w, addr, PAGE_SIZE);
  w.m.folios.set(folio, PG.locked);
  const { tryToMigrate, tryToUnmapFlush } = require_rmap();
  tryToMigrate(w.m, folio, true);
  t.is(w.m.folios.mapcount[folio], 0);
  t.true(w.m.current.tlbUbc.flushRequired);
  t.is(w.m.memory.userAccessFrame(other, addr, true), old, "the other CPU writes through its stale entry");
  t.throws(() => w.checker.beforeCopy(folio, folio, "cpu"), { message: /before try_to_unmap_flush/ });
  tryToUnmapFlush(w.m, w.m.current);
  t.deepEqual(w.m.tlbs.cpusCaching(folio, 1), []);
  t.false(w.m.current.tlbUbc.flushRequired);
  void list;
});

import * as rmap from "../src/rmap.js";
function require_rmap() {
  return rmap;
}

test("the batched flush follows mm_cpumask: none with only the caller's CPU, and a CPU that joins between two folios is flushed too", (t) => {
  const w = world();
  const addr = anon(w, 4 * PAGE_SIZE);
  const [a, b, c, d] = [0, 1, 2, 3].map((i) => w.m.memory.translate(w.mm, addr + i * PAGE_SIZE));
  const list = isolate(w, addr, 4 * PAGE_SIZE);
  for (const f of [a!, b!, c!, d!]) w.m.folios.set(f, PG.locked);
  const { tryToMigrate, tryToUnmapFlush } = require_rmap();
  const ubc = w.m.current.tlbUbc;
  // Only the caller's CPU may cache the mm: arch_tlbbatch_should_defer() says no, the clear is flushed at once.
  tryToMigrate(w.m, a!, true);
  t.false(ubc.flushRequired);
  // CPU 1 joins the mask: b's clear is deferred to the batch, which holds CPUs 0 and 1.
  t.is(w.m.memory.userAccessFrame(w.m.createTask(w.mm, 1), addr + 2 * PAGE_SIZE, false), c);
  tryToMigrate(w.m, b!, true);
  t.true(ubc.flushRequired);
  t.deepEqual([ubc.cpumask[0], ubc.cpumask[1], ubc.cpumask[2]], [1, 1, 0]);
  // CPU 2 joins while the batch is pending and caches c: the next folio's or must bring it in.
  t.is(w.m.memory.userAccessFrame(w.m.createTask(w.mm, 2), addr + 2 * PAGE_SIZE, false), c);
  tryToMigrate(w.m, c!, true);
  t.is(ubc.cpumask[2], 1);
  t.deepEqual(w.m.tlbs.cpusCaching(c!, 1), [1, 2], "stale entries until the flush");
  tryToUnmapFlush(w.m, w.m.current);
  t.deepEqual(w.m.tlbs.cpusCaching(c!, 1), []);
  t.deepEqual([...ubc.cpumask], [0, 0, 0, 0]);
  // The next batch of the same mm, its mask unchanged, starts from the emptied batch mask again.
  tryToMigrate(w.m, d!, true);
  t.deepEqual([...ubc.cpumask], [1, 1, 1, 0]);
  tryToUnmapFlush(w.m, w.m.current);
  void list;
});

test("large folios: a 64K mTHP and a PMD-mapped 2M THP migrate whole, mappings and counts preserved", (t) => {
  const w = world();
  w.m.memory.anonThp[4] = "always";
  w.m.memory.anonThp[9] = "always";
  const a64 = anon(w, 64 * 1024);
  const a2m = anon(w, 2 << 20);
  const f64 = w.m.memory.translate(w.mm, a64);
  const f2m = w.m.memory.translate(w.mm, a2m);
  t.is(w.m.folios.order[f64], 4);
  t.is(w.m.folios.order[f2m], 9);
  t.is(w.m.folios.refcount[f64], 16);
  t.is(w.m.folios.mapcount[f2m], 1, "one PMD mapping");
  const list = isolate(w, a64, 64 * 1024);
  const l2 = isolate(w, a2m, 2 << 20);
  l2.spliceTailInto(list);
  t.is(migrateTo(w, list, 1), 0);
  const s = lastMigrateStats(w.m)!;
  t.is(s.nr_succeeded, 16 + 512);
  t.is(s.nr_thp_succeeded, 1);
  const n64 = w.m.memory.translate(w.mm, a64);
  const n2m = w.m.memory.translate(w.mm, a2m);
  t.is(w.m.folios.order[n64], 4);
  t.is(w.m.folios.mapcount[n64], 16);
  const v = w.mm.findVma(a2m)!;
  t.true((v.pmdBits[(a2m - v.pmdBase) >> 21]! & PTE.PRESENT) !== 0, "still PMD-mapped");
  t.is(w.m.folios.mapcount[n2m], 1);
  t.true(intact(w, a64, 64 * 1024) && intact(w, a2m, 2 << 20));
  t.deepEqual(w.checker.checkQuiescent(), []);
});

test("large folios cost their tail struct pages: prep_compound_page() at allocation, free_tail_page_prepare() at free", (t) => {
  const w = world({ timed: true });
  const meter = w.m.core.cost as UniformCosts;
  w.m.memory.anonThp[4] = "always";
  w.m.memory.anonThp[9] = "always";
  const a64 = anon(w, 64 * 1024);
  const a2m = anon(w, 2 << 20);
  const a4k = anon(w, PAGE_SIZE);
  t.deepEqual([a64, a2m, a4k].map((a) => w.m.folios.order[w.m.memory.translate(w.mm, a)]), [4, 9, 0]);
  const list = isolate(w, a4k, PAGE_SIZE);
  isolate(w, a64, 64 * 1024).spliceTailInto(list);
  isolate(w, a2m, 2 << 20).spliceTailInto(list);
  const prep0 = meter.units[Cost.PREP_COMPOUND_TAIL]!;
  const free0 = meter.units[Cost.FREE_TAIL_PAGE]!;
  t.is(migrateTo(w, list, 1), 0);
  // Two destinations with 15 and 511 tail pages were prepared and the two sources freed; the 4K folio has none.
  t.is(meter.units[Cost.PREP_COMPOUND_TAIL]! - prep0, 15 + 511);
  t.is(meter.units[Cost.FREE_TAIL_PAGE]! - free0, 15 + 511);
  t.true(intact(w, a4k, PAGE_SIZE) && intact(w, a64, 64 * 1024) && intact(w, a2m, 2 << 20));
});

test("a partially mapped large folio is split and its pieces migrate; counted as one failure and one split", (t) => {
  const w = world();
  w.m.memory.anonThp[4] = "always";
  const addr = anon(w, 64 * 1024);
  w.m.memory.madvise(w.mm, addr + 8 * PAGE_SIZE, 8 * PAGE_SIZE, "dontneed");
  const list = isolate(w, addr, 8 * PAGE_SIZE);
  const rc = migratePages(w.m, list, (s) => allocMigrationTarget(w.m, s, { nid: 1, thisNode: true }), null, MIGRATE_ASYNC, MR.SYSCALL);
  t.is(rc, 0, "the list ends empty, so migrate_pages returns 0");
  const s = lastMigrateStats(w.m)!;
  t.is(s.nr_split, 1);
  // The 8 still-mapped pieces moved; the 8 unmapped ones held only the isolation reference, which
  // migrate_pages_batch() counts as success ("freed by its owner").
  t.is(s.nr_succeeded, 16);
  for (let k = 0; k < 8; k++) t.is(nodeOf(w, addr + k * PAGE_SIZE), 1);
  t.true(intact(w, addr, 8 * PAGE_SIZE));
  t.deepEqual(w.checker.checkQuiescent(), []);
});

test("-ENOMEM for a large folio splits it and migrates the pieces when only small blocks are free", (t) => {
  const w = world({ pages: 1 << 11 });
  w.m.memory.anonThp[4] = "always";
  const addr = anon(w, 64 * 1024);
  fragment(w, 1);
  const list = isolate(w, addr, 64 * 1024);
  const rc = migratePages(w.m, list, (s) => allocMigrationTarget(w.m, s, { nid: 1, thisNode: true }), null, MIGRATE_ASYNC, MR.SYSCALL);
  t.is(rc, 0);
  t.is(lastMigrateStats(w.m)!.nr_split, 1);
  for (let k = 0; k < 16; k++) t.is(nodeOf(w, addr + k * PAGE_SIZE), 1);
  t.true(intact(w, addr, 64 * 1024));
});

test("NUMA-misplaced large folios are not split on -ENOMEM", (t) => {
  const w = world({ pages: 1 << 11 });
  w.m.memory.anonThp[4] = "always";
  const addr = anon(w, 64 * 1024);
  fragment(w, 1);
  const list = isolate(w, addr, 64 * 1024);
  const rc = migratePages(w.m, list, (s) => allocMigrationTarget(w.m, s, { nid: 1, thisNode: true }), null, MIGRATE_ASYNC, MR.NUMA_MISPLACED);
  t.is(rc, -ENOMEM);
  t.is(lastMigrateStats(w.m)!.nr_split, 0);
  putbackMovablePages(w.m, list);
  t.is(nodeOf(w, addr), 0);
});

test("a folio its owner freed while isolated counts as migrated without any work", (t) => {
  const w = world();
  const addr = anon(w, PAGE_SIZE);
  const list = isolate(w, addr, PAGE_SIZE);
  const folio = list.get(0);
  w.m.memory.munmap(w.mm, addr, PAGE_SIZE);
  t.is(w.m.folios.refcount[folio], 1, "only the isolation reference is left");
  const rec = w.m.core.trace.record(["set_migration_pte"]);
  t.is(migrateTo(w, list, 1), 0);
  rec.stop();
  t.is(rec.records.length, 0);
  t.is(lastMigrateStats(w.m)!.nr_succeeded, 1);
  t.false(w.m.folios.test(folio, PG.allocated));
});

test("rmap across fork: a folio shared copy-on-write by parent and child moves for both", (t) => {
  const w = world();
  const addr = anon(w, 4 * PAGE_SIZE);
  const child = w.m.memory.fork(w.mm);
  const folio = w.m.memory.translate(w.mm, addr);
  t.is(w.m.memory.translate(child, addr), folio);
  t.is(w.m.folios.mapcount[folio], 2);
  const list = isolate(w, addr, 4 * PAGE_SIZE);
  t.is(migrateTo(w, list, 1), 0);
  const moved = w.m.memory.translate(w.mm, addr);
  t.is(w.m.memory.translate(child, addr), moved, "the child's PTE follows too");
  t.is(w.m.folios.mapcount[moved], 2);
  t.is(w.m.folios.refcount[moved], 2);
  t.is(w.m.mem.nodeOfPfn[moved], 1);
  // COW still works after migration: the child writes and gets its own copy.
  const childTask = w.m.createTask(child, 1);
  const frame = w.m.memory.userAccessFrame(childTask, addr, true);
  t.not(frame, moved);
  t.is(w.m.folios.mapcount[moved], 1);
  t.deepEqual(w.checker.checkQuiescent(), []);
});

test("shared anonymous (shmem) memory: the page-cache entry moves to the new folio", (t) => {
  const w = world();
  const addr = w.m.memory.mmap(w.mm, { len: 2 * PAGE_SIZE, prot: PROT_READ | PROT_WRITE, flags: MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE });
  const v = w.mm.findVma(addr)!;
  const old = v.file!.cache[0]!;
  w.m.mem.fillPages(old, 1, 0x1234);
  t.is(w.m.folios.refcount[old], 2, "page cache + one mapping");
  const list = isolate(w, addr, PAGE_SIZE);
  t.is(migrateTo(w, list, 1), 0);
  const now = v.file!.cache[0]!;
  t.not(now, old);
  t.is(w.m.memory.translate(w.mm, addr), now);
  t.is(w.m.folios.refcount[now], 2);
  t.is(w.m.folios.mapping[now], v.file!.id);
  t.false(w.m.folios.test(old, PG.allocated));
  t.deepEqual(w.checker.checkQuiescent(), []);
});

test("hugetlb folios migrate one at a time from the target node's pool", (t) => {
  const w = world();
  w.m.setHugetlbPages(0, 2);
  w.m.setHugetlbPages(1, 1);
  const { MAP_HUGETLB } = require_types();
  const addr = w.m.memory.mmap(w.mm, { len: 2 << 20, prot: PROT_READ | PROT_WRITE, flags: MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE });
  t.true(addr > 0);
  const folio = w.m.memory.translate(w.mm, addr);
  t.true(w.m.folios.test(folio, PG.hugetlb));
  w.m.folios.set(folio, PG.hugetlbMigratable);
  w.m.mem.fillPages(folio, 512, 0x77);
  const list = isolate(w, addr, PAGE_SIZE);
  t.is(list.length, 1);
  t.is(migrateTo(w, list, 1), 0);
  const now = w.m.memory.translate(w.mm, addr);
  t.is(w.m.mem.nodeOfPfn[now], 1);
  t.is(w.m.hugetlbFree[1]!.length, 0);
  t.is(w.m.hugetlbFree[0]!.length, 2, "the old huge page went back to node 0's pool");
  // The pool on node 1 is empty now: migrating back to node 1 again fails with -ENOMEM.
  const list2 = isolate(w, addr, PAGE_SIZE);
  t.is(migratePages(w.m, list2, (s) => allocMigrationTarget(w.m, s, { nid: 1, thisNode: true }), null, MIGRATE_SYNC, MR.SYSCALL), -ENOMEM);
  putbackMovablePages(w.m, list2);
});

import * as types from "../src/mm-types.js";
function require_types() {
  return types;
}

test("mlocked folios move and stay mlocked", (t) => {
  const w = world();
  const addr = anon(w, 2 * PAGE_SIZE);
  t.is(w.m.memory.mlockRange(w.mm, addr, 2 * PAGE_SIZE, true), 0);
  t.true(w.m.folios.test(w.m.memory.translate(w.mm, addr), PG.mlocked));
  const list = isolate(w, addr, 2 * PAGE_SIZE);
  t.is(migrateTo(w, list, 1), 0);
  t.true(w.m.folios.test(w.m.memory.translate(w.mm, addr), PG.mlocked));
});

test("an access to a page under migration sleeps on the migration entry until the move is done", (t) => {
  const w = world({ timed: true });
  const addr = anon(w, 64 * PAGE_SIZE);
  const reader = w.m.createTask(w.mm, 1);
  const seen: Array<{ at: number; node: number }> = [];
  const rec = w.m.core.trace.record(["migration_entry_wait"]);
  // Schedule the access for the middle of the migration (virtual time passes while it works).
  const { folioWaitUnlock, VM_FAULT } = require_all();
  const access = () => {
    const r = w.m.memory.userAccessFrame(reader, addr, false);
    if (r === VM_FAULT.MIGRATION_WAIT) {
      if (w.m.tp.migrationEntryWait.enabled) w.m.tp.migrationEntryWait.emit({ pid: reader.pid, addr, pfn: w.m.memory.faultWaitPfn });
      folioWaitUnlock(w.m, w.m.memory.faultWaitPfn, access);
      return;
    }
    seen.push({ at: w.m.sim.now, node: w.m.mem.nodeOfPfn[r]! });
  };
  const list = isolate(w, addr, 64 * PAGE_SIZE);
  w.m.sim.schedule(2_000, access);
  t.is(migrateTo(w, list, 1, MIGRATE_ASYNC), 0);
  w.m.sim.run();
  rec.stop();
  t.is(rec.records.length, 1, "the reader met the migration entry once");
  t.is(seen.length, 1);
  t.is(seen[0]!.node, 1, "and then read the new frame");
});

import * as all from "../src/index.js";
function require_all() {
  return all;
}

test("V6 marks: a dst marked FOLIO_CONTENT_COPIED skips the CPU copy; an unmarked one is copied", (t) => {
  const w = world();
  w.m.settings.offloadSemantics = "v6";
  const addr = anon(w, 2 * PAGE_SIZE);
  let calls = 0;
  w.m.hooks.offload = {
    doBatch: () => true,
    batchCopy: (dst, src, n) => {
      calls++;
      // Copy and mark only the first pair, as a partially failed batch would.
      w.m.mem.copyPages(dst[0]!, src[0]!, 1);
      w.m.folios.migrateInfo[dst[0]!]! |= FOLIO_CONTENT_COPIED;
      return n > 1 ? -EAGAIN : 0;
    },
  };
  const before = w.checker.copiesChecked;
  const list = isolate(w, addr, 2 * PAGE_SIZE);
  t.is(migrateTo(w, list, 1, MIGRATE_ASYNC), 0);
  t.is(calls, 1);
  t.is(w.checker.copiesChecked - before, 3, "two checked at the batch copy, one CPU copy for the unmarked pair");
  t.true(intact(w, addr, 2 * PAGE_SIZE));
});

test("V5: a non-zero batch return makes the CPU copy every pair of the batch", (t) => {
  const w = world();
  const addr = anon(w, 3 * PAGE_SIZE);
  w.m.hooks.offload = { doBatch: () => true, batchCopy: () => -EAGAIN };
  const list = isolate(w, addr, 3 * PAGE_SIZE);
  const before = w.checker.copiesChecked;
  t.is(migrateTo(w, list, 1, MIGRATE_ASYNC), 0);
  t.is(w.checker.copiesChecked - before, 6);
  t.true(intact(w, addr, 3 * PAGE_SIZE));
});

test("a batch copier that reports success without copying is caught when it returns (early completion)", (t) => {
  const w = world();
  const addr = anon(w, PAGE_SIZE);
  w.m.hooks.offload = { doBatch: () => true, batchCopy: () => 0, copierName: () => "LIAR" };
  const list = isolate(w, addr, PAGE_SIZE);
  t.throws(() => migrateTo(w, list, 1, MIGRATE_ASYNC), { message: /^migrator LIAR, batch 1, pair 0 .*claimed copied .*early completion/ });
});

test("the same seed and inputs give bit-identical traces", (t) => {
  const run = () => {
    const w = world({ timed: true, seed: 42 });
    w.m.memory.anonThp[4] = "always";
    const addr = anon(w, 256 * PAGE_SIZE);
    w.m.createTask(w.mm, 1);
    w.m.core.faults.arm("migrate_extra_ref", { probability: 0.1 });
    const rec = w.m.core.trace.record("*");
    const list = isolate(w, addr, 256 * PAGE_SIZE);
    migrateTo(w, list, 1);
    rec.stop();
    return JSON.stringify(rec.records);
  };
  const a = run();
  t.is(a, run());
  t.true(a.length > 1000);
});

test("bad target: allocation on a memoryless node fails and migrate_pages returns -ENOMEM", (t) => {
  const w = world();
  const addr = anon(w, PAGE_SIZE);
  const list = isolate(w, addr, PAGE_SIZE);
  const rc = migratePages(w.m, list, (s) => allocMigrationTarget(w.m, s, { nid: 7, thisNode: true }), null, MIGRATE_SYNC, MR.SYSCALL);
  t.is(rc, -ENOMEM);
  putbackMovablePages(w.m, list);
  t.is(nodeOf(w, addr), 0);
  void FolioList;
});
