/** Spec §6.2: the -EACCES rule, MPOL_MF_MOVE vs MPOL_MF_MOVE_ALL, what counts as "shared". */
import test from "ava";
import { EACCES } from "@mmemu/kernel";
import {
  ksmScan, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PAGE_SIZE, PG, PROT_READ, PROT_WRITE,
} from "@mmemu/mm-core";
import { MPOL_MF_MOVE, MPOL_MF_MOVE_ALL } from "../src/index.js";
import { mmap, mmapShared, movePages, nodeOf, touch, world, memfdMappedTwice } from "./world.js";

test("a private page after fork, unwritten by both: -EACCES with MOVE; after a COW write it moves", (t) => {
  const w = world();
  const a = mmap(w, w.p, PAGE_SIZE);
  touch(w, w.p, a);
  const child = w.tasks.fork(w.p);
  t.deepEqual(movePages(w, w.p, 0, [a], [1], MPOL_MF_MOVE), { ret: 0, status: [-EACCES] });
  touch(w, child, a, 0x77);
  t.deepEqual(movePages(w, w.p, 0, [a], [1], MPOL_MF_MOVE), { ret: 0, status: [1] });
  t.is(nodeOf(w, child, a), 0, "the child's copy stays");
});

test("MAP_SHARED anonymous memory touched by parent and child: -EACCES with MOVE (LTP move_pages05)", (t) => {
  const w = world({ proc: { uid: 0 } });
  const shared = mmapShared(w, w.p, PAGE_SIZE);
  const priv = mmap(w, w.p, PAGE_SIZE);
  touch(w, w.p, shared);
  touch(w, w.p, priv);
  const child = w.tasks.fork(w.p);
  touch(w, child, shared, 0xaa);
  touch(w, child, priv, 0xaa);
  t.deepEqual(movePages(w, w.p, 0, [shared, priv], [1, 1], MPOL_MF_MOVE), { ret: 0, status: [-EACCES, 1] });
});

test("MOVE_ALL (root) moves a shared page for every mapper at once (LTP move_pages03)", (t) => {
  const w = world({ proc: { uid: 0 } });
  const a = mmapShared(w, w.p, 2 * PAGE_SIZE);
  touch(w, w.p, a);
  touch(w, w.p, a + PAGE_SIZE);
  const child = w.tasks.fork(w.p);
  touch(w, child, a, 0xaa);
  touch(w, child, a + PAGE_SIZE, 0xaa);
  t.deepEqual(movePages(w, w.p, 0, [a, a + PAGE_SIZE], [1, 1], MPOL_MF_MOVE_ALL), { ret: 0, status: [1, 1] });
  t.is(nodeOf(w, child, a), 1);
  t.is(w.m.memory.translate(child.mm!, a), w.m.memory.translate(w.p.mm!, a));
});

test("a shared page already on the target node reports the node, not -EACCES", (t) => {
  const w = world();
  const a = mmapShared(w, w.p, PAGE_SIZE);
  touch(w, w.p, a);
  const child = w.tasks.fork(w.p);
  touch(w, child, a);
  t.deepEqual(movePages(w, w.p, 0, [a], [0], MPOL_MF_MOVE), { ret: 0, status: [0] });
});

test("the same small page mapped twice in one process (a memfd mapped twice) is shared", (t) => {
  const w = world();
  const [a, b] = memfdMappedTwice(w, w.p);
  touch(w, w.p, a);
  touch(w, w.p, b);
  t.deepEqual(movePages(w, w.p, 0, [a], [1], MPOL_MF_MOVE), { ret: 0, status: [-EACCES] });
  const root = w.tasks.createProcess({ uid: 0 });
  t.deepEqual(movePages(w, root, w.p.pid, [a], [1], MPOL_MF_MOVE_ALL), { ret: 0, status: [1] });
  t.is(nodeOf(w, w.p, b), 1, "both mappings now point at the page on node 1");
});

test("a file page mapped by one process migrates; mapped by two it is -EACCES", (t) => {
  const w = world();
  const file = w.m.createAddressSpace("data.bin", "file", 4);
  const a = w.m.memory.mmap(w.p.mm!, { len: 2 * PAGE_SIZE, prot: PROT_READ, flags: MAP_PRIVATE, file });
  t.true(w.tasks.withCurrent(w.p, () => w.m.memory.userAccessFrame(w.p.ctx, a, false)) >= 0);
  t.true(w.tasks.withCurrent(w.p, () => w.m.memory.userAccessFrame(w.p.ctx, a + PAGE_SIZE, false)) >= 0);
  const q = w.tasks.createProcess({ uid: 1000 });
  const b = w.m.memory.mmap(q.mm!, { len: PAGE_SIZE, prot: PROT_READ, flags: MAP_SHARED, file, offset: PAGE_SIZE });
  t.true(w.tasks.withCurrent(q, () => w.m.memory.userAccessFrame(q.ctx, b, false)) >= 0);
  t.deepEqual(movePages(w, w.p, 0, [a, a + PAGE_SIZE], [1, 1], MPOL_MF_MOVE), { ret: 0, status: [1, -EACCES] });
  t.is(file.cache[0] !== undefined && w.m.mem.nodeOfPfn[file.cache[0]!], 1, "the page-cache page itself moved");
});

test("THP: mapped by one mm it is not shared; mapped by two processes (after fork) it is", (t) => {
  const w = world({ pages: 1 << 13 });
  w.m.memory.anonThp[9] = "always";
  const big = w.m.memory.mmap(w.p.mm!, { len: 4 << 20, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS });
  const a = big + (((2 << 20) - (big % (2 << 20))) % (2 << 20));
  touch(w, w.p, a);
  const folio = w.m.folios.folioOf(w.m.memory.translate(w.p.mm!, a));
  t.is(w.m.folios.order[folio], 9);
  const child = w.tasks.fork(w.p);
  t.deepEqual(movePages(w, w.p, 0, [a], [1], MPOL_MF_MOVE), { ret: 0, status: [-EACCES] }, "two mms");
  w.tasks.exit(child);
  t.deepEqual(movePages(w, w.p, 0, [a], [1], MPOL_MF_MOVE), { ret: 0, status: [1] }, "one mm again");
});

test("KSM-merged pages: -EACCES with MOVE, moved for every mapping with MOVE_ALL (spec §16)", (t) => {
  const w = world({ proc: { uid: 0 } });
  const a = mmap(w, w.p, PAGE_SIZE);
  const b = mmap(w, w.p, PAGE_SIZE);
  for (const x of [a, b]) {
    w.m.memory.madvise(w.p.mm!, x, PAGE_SIZE, "mergeable");
    touch(w, w.p, x, 0x4b534d);
  }
  t.is(ksmScan(w.m).merged, 1);
  t.deepEqual(movePages(w, w.p, 0, [a], [1], MPOL_MF_MOVE), { ret: 0, status: [-EACCES] });
  t.deepEqual(movePages(w, w.p, 0, [a], [1], MPOL_MF_MOVE_ALL), { ret: 0, status: [1] });
  t.is(nodeOf(w, w.p, b), 1);
  t.is(w.m.memory.translate(w.p.mm!, a), w.m.memory.translate(w.p.mm!, b), "still one KSM page");
});

test("a KSM page with a single mapping migrates with MOVE and stays KSM", (t) => {
  const w = world();
  const a = mmap(w, w.p, 2 * PAGE_SIZE);
  w.m.memory.madvise(w.p.mm!, a, 2 * PAGE_SIZE, "mergeable");
  touch(w, w.p, a, 0x51);
  touch(w, w.p, a + PAGE_SIZE, 0x51);
  ksmScan(w.m);
  // Break the merge on the second address (a COW write): the KSM page keeps one mapping.
  touch(w, w.p, a + PAGE_SIZE, 0x52);
  t.deepEqual(movePages(w, w.p, 0, [a], [1], MPOL_MF_MOVE), { ret: 0, status: [1] });
  t.true(w.m.folios.test(w.m.memory.translate(w.p.mm!, a), PG.ksm));
});
