/** Spec §5.4 and §6.3 by page kind: THP, mTHP, hugetlb, mlocked, PROT_NONE, THP split, hugetlb ENOMEM. */
import test from "ava";
import { EBUSY, ENOMEM } from "@mmemu/kernel";
import {
  MAP_ANONYMOUS, MAP_HUGETLB, MAP_LOCKED, MAP_PRIVATE, MAP_SHARED, PAGE_SIZE, patternDigest, PG, PROT_NONE, PROT_READ, PROT_WRITE, PTE,
} from "@mmemu/mm-core";
import { MPOL_MF_MOVE, MPOL_MF_MOVE_ALL } from "../src/index.js";
import { movePages, nodeOf, touch, world, type World } from "./world.js";

const PMD = 2 << 20;

function thpRegion(w: World): number {
  w.m.memory.anonThp[9] = "always";
  const big = w.m.memory.mmap(w.p.mm!, { len: 2 * PMD, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS });
  const a = big + ((PMD - (big % PMD)) % PMD);
  touch(w, w.p, a, 0x7e57);
  t0(w, a);
  return a;
}
function t0(w: World, a: number): void {
  const folio = w.m.folios.folioOf(w.m.memory.translate(w.p.mm!, a));
  if (w.m.folios.order[folio] !== 9) throw new Error("expected a THP");
}

test("three addresses inside one THP -> [1, -EBUSY, 1]; the whole THP moves and stays a THP", (t) => {
  const w = world({ pages: 1 << 13 });
  const a = thpRegion(w);
  const r = movePages(w, w.p, 0, [a, a + 5 * PAGE_SIZE, a + 300 * PAGE_SIZE], [1, 1, 1], MPOL_MF_MOVE);
  t.deepEqual(r, { ret: 0, status: [1, -EBUSY, 1] });
  const folio = w.m.folios.folioOf(w.m.memory.translate(w.p.mm!, a + 511 * PAGE_SIZE));
  t.is(w.m.folios.order[folio], 9);
  t.is(w.m.mem.nodeOfPfn[folio], 1);
  t.is(w.m.vmEvents.thp_migration_success, 1);
});

test("every one of a THP's 512 addresses listed: first moves it, second -EBUSY, the other 510 report the node (spec §16)", (t) => {
  const w = world({ pages: 1 << 13 });
  const a = thpRegion(w);
  const addrs = Array.from({ length: 512 }, (_, k) => a + k * PAGE_SIZE);
  const r = movePages(w, w.p, 0, addrs, new Array(512).fill(1), MPOL_MF_MOVE);
  t.is(r.ret, 0);
  t.deepEqual(r.status.slice(0, 3), [1, -EBUSY, 1]);
  t.true(r.status.slice(2).every((s) => s === 1));
  t.is(w.m.folios.order[w.m.folios.folioOf(w.m.memory.translate(w.p.mm!, a))], 9);
});

test("a THP whose 2 MiB target cannot be allocated is split and its pieces moved: return 0", (t) => {
  const w = world({ pages: 1 << 13 });
  const a = thpRegion(w);
  // Leave node 1 with plenty of 4K pages but no free 2 MiB block.
  const hog = w.tasks.createProcess({ uid: 1000, cpu: 2 });
  const pinned: number[] = [];
  for (;;) {
    const pfn = w.m.alloc.alloc(1, 0);
    if (pfn < 0) break;
    pinned.push(pfn);
  }
  for (let k = 0; k < pinned.length; k += 2) w.m.alloc.free(pinned[k]!, 0);
  t.true(w.m.alloc.nrFree(1) >= 512);
  const r = movePages(w, w.p, 0, [a], [1], MPOL_MF_MOVE);
  t.deepEqual(r, { ret: 0, status: [1] });
  t.is(nodeOf(w, w.p, a + 100 * PAGE_SIZE), 1);
  t.is(w.m.vmEvents.thp_migration_split, 1);
  t.is(w.m.mem.digest(w.m.memory.translate(w.p.mm!, a)), patternDigest(0x7e57));
  void hog;
});

test("an mTHP folio moves whole when any of its addresses is given", (t) => {
  const w = world();
  w.m.memory.anonThp[4] = "always";
  const r0 = w.m.memory.mmap(w.p.mm!, { len: 32 * PAGE_SIZE, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS });
  const a = r0 + ((16 * PAGE_SIZE - (r0 % (16 * PAGE_SIZE))) % (16 * PAGE_SIZE));
  touch(w, w.p, a + 3 * PAGE_SIZE);
  const folio = w.m.folios.folioOf(w.m.memory.translate(w.p.mm!, a));
  t.is(w.m.folios.order[folio], 4);
  t.deepEqual(movePages(w, w.p, 0, [a + 7 * PAGE_SIZE], [1], MPOL_MF_MOVE), { ret: 0, status: [1] });
  t.is(nodeOf(w, w.p, a + 15 * PAGE_SIZE), 1);
});

test("hugetlb: the head or an inner address moves the whole huge page (6.7+); others in the same call get -EBUSY then the node", (t) => {
  const w = world({ pages: 1 << 13, hugetlb: { 0: 2, 1: 2 } });
  const a = w.m.memory.mmap(w.p.mm!, { len: PMD, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB });
  w.m.mem.fillPages(touch(w, w.p, a, 0xdead), 512, 0xdead);
  t.deepEqual(movePages(w, w.p, 0, [a + 9 * PAGE_SIZE], [1], MPOL_MF_MOVE), { ret: 0, status: [1] });
  t.is(nodeOf(w, w.p, a), 1);
  const addrs = Array.from({ length: 512 }, (_, k) => a + k * PAGE_SIZE);
  const r = movePages(w, w.p, 0, addrs, new Array(512).fill(0), MPOL_MF_MOVE);
  t.deepEqual(r.status.slice(0, 3), [0, -EBUSY, 0]);
  t.true(r.status.slice(2).every((s) => s === 0));
  t.is(w.m.mem.digest(w.m.memory.translate(w.p.mm!, a + 511 * PAGE_SIZE)), patternDigest(0xdead));
  t.true(w.m.folios.test(w.m.folios.folioOf(w.m.memory.translate(w.p.mm!, a)), PG.hugetlb));
});

test("hugetlb: with no huge page obtainable on the target node the call fails with ENOMEM", (t) => {
  const w = world({ pages: 1 << 11, hugetlb: { 0: 1 } });
  const a = w.m.memory.mmap(w.p.mm!, { len: PMD, prot: PROT_READ | PROT_WRITE, flags: MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB });
  touch(w, w.p, a);
  // Node 1's pool is empty and its buddy allocator has no 2 MiB block left.
  const hold: number[] = [];
  for (let p; (p = w.m.alloc.alloc(1, 0)) >= 0;) hold.push(p);
  for (let k = 0; k < hold.length; k += 2) w.m.alloc.free(hold[k]!, 0);
  const root = w.tasks.createProcess({ uid: 0 });
  t.deepEqual(movePages(w, root, w.p.pid, [a], [1], MPOL_MF_MOVE_ALL), { ret: -ENOMEM, status: [-999] });
  t.is(nodeOf(w, w.p, a), 0);
});

test("hugetlb: an empty pool on the target node is refilled from that node's buddy allocator", (t) => {
  const w = world({ pages: 1 << 12, hugetlb: { 0: 1 } });
  const a = w.m.memory.mmap(w.p.mm!, { len: PMD, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB });
  touch(w, w.p, a);
  t.deepEqual(movePages(w, w.p, 0, [a], [1], MPOL_MF_MOVE), { ret: 0, status: [1] });
  t.is(nodeOf(w, w.p, a), 1);
});

test("mlocked pages migrate and stay mlocked", (t) => {
  const w = world();
  const a = w.m.memory.mmap(w.p.mm!, { len: PAGE_SIZE, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED });
  t.true(w.m.folios.test(w.m.memory.translate(w.p.mm!, a), PG.mlocked));
  t.deepEqual(movePages(w, w.p, 0, [a], [1], MPOL_MF_MOVE), { ret: 0, status: [1] });
  const after = w.m.memory.translate(w.p.mm!, a);
  t.is(w.m.mem.nodeOfPfn[after], 1);
  t.true(w.m.folios.test(after, PG.mlocked));
});

test("a page written and then made PROT_NONE migrates (mainline); protection is irrelevant", (t) => {
  const w = world();
  const a = w.m.memory.mmap(w.p.mm!, { len: PAGE_SIZE, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS });
  touch(w, w.p, a, 0x9999);
  t.is(w.m.memory.mprotect(w.p.mm!, a, PAGE_SIZE, PROT_NONE), 0);
  t.deepEqual(movePages(w, w.p, 0, [a], [1], MPOL_MF_MOVE), { ret: 0, status: [1] });
  t.is(w.m.mem.digest(w.m.memory.translate(w.p.mm!, a)), patternDigest(0x9999));
});

test("the new page keeps data and write permission; the old page is freed", (t) => {
  const w = world();
  const a = w.m.memory.mmap(w.p.mm!, { len: PAGE_SIZE, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS });
  const old = touch(w, w.p, a, 0x1234);
  t.deepEqual(movePages(w, w.p, 0, [a], [1], MPOL_MF_MOVE), { ret: 0, status: [1] });
  t.false(w.m.folios.test(old, PG.allocated));
  const v = w.p.mm!.findVma(a)!;
  t.true((v.pteBits[0]! & PTE.WRITE) !== 0, "still writable");
  t.is(w.m.mem.digest(w.m.memory.translate(w.p.mm!, a)), patternDigest(0x1234));
});
