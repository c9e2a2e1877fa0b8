/** Spec §5 (move mode: validation, classification, batching, flushes), §5.5 worked examples, §7, §8. */
import test from "ava";
import { EACCES, EBUSY, EFAULT, ENODEV, ENOENT, ENOMEM } from "@mmemu/kernel";
import {
  FolioList, folioTrylock, folioUnlock, isolateFolioToList, MAP_ANONYMOUS, MAP_PRIVATE, MAX_NUMNODES, PAGE_SIZE, patternDigest,
  PROT_READ, putbackMovablePages, removeMigrationPtes, tryToMigrate,
} from "@mmemu/mm-core";
import { kernelMovePages, MPOL_MF_MOVE, nodeMaskOf, writeUserArray } from "../src/index.js";
import { mmap, movePages, nodeOf, placeArray, SENTINEL, touch, world, type World } from "./world.js";

/** n touched private pages on node 0 of w.p; their addresses. */
function pages(w: World, n: number): number[] {
  const a = mmap(w, w.p, n * PAGE_SIZE);
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    touch(w, w.p, a + k * PAGE_SIZE);
    out.push(a + k * PAGE_SIZE);
  }
  return out;
}

/** Pin a page with a GUP pin so migration cannot move it. */
function pin(w: World, addr: number): number {
  return w.m.memory.pinUserPage(w.p.mm!, addr, false);
}

test("[A,B,C] -> [1,1,1]: one batch, statuses written at the end, return 0, data intact (LTP move_pages02)", (t) => {
  const w = world();
  const [a, b, c] = pages(w, 3) as [number, number, number];
  const d = w.m.mem.digest(w.m.memory.translate(w.p.mm!, b));
  t.deepEqual(movePages(w, w.p, 0, [a, b, c], [1, 1, 1], MPOL_MF_MOVE), { ret: 0, status: [1, 1, 1] });
  for (const x of [a, b, c]) t.is(nodeOf(w, w.p, x), 1);
  t.is(w.m.mem.digest(w.m.memory.translate(w.p.mm!, b)), d);
  t.is(w.m.vmEvents.pgmigrate_success, 3);
});

test("[A->1, B->0, C->1]: B is on target (status 0) and ends A's batch; C starts a new one", (t) => {
  const w = world();
  const [a, b, c] = pages(w, 3) as [number, number, number];
  t.deepEqual(movePages(w, w.p, 0, [a, b, c], [1, 0, 1], MPOL_MF_MOVE), { ret: 0, status: [1, 0, 1] });
  t.is(nodeOf(w, w.p, c), 1);
});

test("duplicates: [A, A] -> [1, 1] gives [1, -EBUSY]; [A -> 1, A -> 0] moves there and back", (t) => {
  const w = world();
  const [a] = pages(w, 1) as [number];
  t.deepEqual(movePages(w, w.p, 0, [a, a], [1, 1], MPOL_MF_MOVE), { ret: 0, status: [1, -EBUSY] });
  t.is(nodeOf(w, w.p, a), 1);
  t.deepEqual(movePages(w, w.p, 0, [a, a], [0, 1], MPOL_MF_MOVE), { ret: 0, status: [0, 1] });
  t.is(nodeOf(w, w.p, a), 1);
});

test("unaligned addresses select the page they are in", (t) => {
  const w = world();
  const [a] = pages(w, 1) as [number];
  t.deepEqual(movePages(w, w.p, 0, [a + 1234], [1], MPOL_MF_MOVE), { ret: 0, status: [1] });
  t.is(nodeOf(w, w.p, a), 1);
});

test("per-page errors are in status and do not make the return non-zero", (t) => {
  const w = world();
  const [a] = pages(w, 1) as [number];
  const untouched = mmap(w, w.p, PAGE_SIZE);
  const r = movePages(w, w.p, 0, [0, untouched, a, 0xffff_ffff_8100_0000, 2 ** 63], [1, 1, 1, 1, 1], MPOL_MF_MOVE);
  t.deepEqual(r, { ret: 0, status: [-EFAULT, -ENOENT, 1, -EFAULT, -EFAULT] });
});

test("node checks: <0 and >= MAX_NUMNODES, absent and memoryless nodes are ENODEV; outside the cpuset EACCES", (t) => {
  const w = world();
  const [a, b] = pages(w, 2) as [number, number];
  for (const bad of [-1, MAX_NUMNODES, 3, 2]) {
    const r = movePages(w, w.p, 0, [a], [bad], MPOL_MF_MOVE);
    t.deepEqual(r, { ret: -ENODEV, status: [SENTINEL] }, `node ${bad}`);
  }
  w.p.cpuset = w.tasks.createCpuset("only0", nodeMaskOf([0]));
  t.deepEqual(movePages(w, w.p, 0, [b], [1], MPOL_MF_MOVE), { ret: -EACCES, status: [SENTINEL] });
});

test("the node is validated before the address: a bad node beats an unmapped address", (t) => {
  const w = world();
  t.deepEqual(movePages(w, w.p, 0, [0], [7], MPOL_MF_MOVE), { ret: -ENODEV, status: [SENTINEL] });
});

test("a fatal entry error still flushes the queued batch (their statuses written); later entries untouched", (t) => {
  const w = world();
  const [a, b, c] = pages(w, 3) as [number, number, number];
  t.deepEqual(movePages(w, w.p, 0, [a, b, c], [1, 1, 5], MPOL_MF_MOVE), { ret: -ENODEV, status: [1, 1, SENTINEL] });
  t.is(nodeOf(w, w.p, b), 1);
  t.is(nodeOf(w, w.p, c), 0);
});

test("pages/nodes arrays partly unreadable: EFAULT at the first unreadable entry after flushing the earlier ones", (t) => {
  const w = world();
  const [a, b] = pages(w, 2) as [number, number];
  // A pages array whose second entry lies in a page that is then unmapped.
  const area = mmap(w, w.p, 2 * PAGE_SIZE);
  const ptr = area + PAGE_SIZE - 8;
  writeUserArray(w.tasks, w.p, ptr, [a, b], 8);
  const st = placeArray(w, w.p, [SENTINEL, SENTINEL], 4);
  const nd = placeArray(w, w.p, [1, 1], 4);
  t.is(w.m.memory.munmap(w.p.mm!, area + PAGE_SIZE, PAGE_SIZE), 0);
  const r = movePages(w, w.p, 0, [a, b], [1, 1], MPOL_MF_MOVE, { pagesPtr: ptr, nodesPtr: nd, statusPtr: st });
  t.deepEqual(r, { ret: -EFAULT, status: [1, SENTINEL] });
  t.is(nodeOf(w, w.p, a), 1);
  t.is(nodeOf(w, w.p, b), 0);
  // The same with the nodes array.
  const area2 = mmap(w, w.p, 2 * PAGE_SIZE);
  const nptr = area2 + PAGE_SIZE - 4;
  writeUserArray(w.tasks, w.p, nptr, [0, 0], 4);
  const pa = placeArray(w, w.p, [a, b], 8);
  const st2 = placeArray(w, w.p, [SENTINEL, SENTINEL], 4);
  t.is(w.m.memory.munmap(w.p.mm!, area2 + PAGE_SIZE, PAGE_SIZE), 0);
  t.deepEqual(movePages(w, w.p, 0, [a, b], [0, 0], MPOL_MF_MOVE, { pagesPtr: pa, nodesPtr: nptr, statusPtr: st2 }), { ret: -EFAULT, status: [0, SENTINEL] });
  t.is(nodeOf(w, w.p, a), 0);
});

test("a status array that cannot be written: -EFAULT, but the pages were moved first (spec §16)", (t) => {
  const w = world();
  const [a, b] = pages(w, 2) as [number, number];
  const ro = w.m.memory.mmap(w.p.mm!, { len: PAGE_SIZE, prot: PROT_READ, flags: MAP_PRIVATE | MAP_ANONYMOUS });
  t.is(movePages(w, w.p, 0, [a, b], [1, 1], MPOL_MF_MOVE, { statusPtr: ro }).ret, -EFAULT);
  t.is(nodeOf(w, w.p, a), 1);
  t.is(movePages(w, w.p, 0, [a, b], [0, 0], MPOL_MF_MOVE, { statusPtr: 0 }).ret, -EFAULT, "NULL status");
  t.is(nodeOf(w, w.p, b), 0);
});

test("a pinned page in a batch: positive return k, no status of that batch written, the rest moved (spec §16)", (t) => {
  const w = world();
  const [a, b, c] = pages(w, 3) as [number, number, number];
  t.true(pin(w, b) >= 0);
  const r = movePages(w, w.p, 0, [a, b, c], [1, 1, 1], MPOL_MF_MOVE);
  t.deepEqual(r, { ret: 1, status: [SENTINEL, SENTINEL, SENTINEL] });
  t.is(nodeOf(w, w.p, a), 1);
  t.is(nodeOf(w, w.p, b), 0);
  t.is(nodeOf(w, w.p, c), 1);
});

test("positive return: a failing batch flushed by a node change counts the entries not yet examined", (t) => {
  const w = world();
  const [a, b, c, d] = pages(w, 4) as [number, number, number, number];
  pin(w, a);
  // [a->1] flushed when entry 1 asks for node 0: k=1, count - i = 4 - 1 = 3.
  const r = movePages(w, w.p, 0, [a, b, c, d], [1, 0, 0, 0], MPOL_MF_MOVE);
  t.deepEqual(r, { ret: 4, status: [SENTINEL, SENTINEL, SENTINEL, SENTINEL] });
});

test("positive return: a failing batch flushed after a non-queued entry counts count - i - 1 more", (t) => {
  const w = world();
  const [a, b, c, d] = pages(w, 4) as [number, number, number, number];
  pin(w, a);
  // a queued; b->1 is ... on node 0, so use an unmapped address at entry 1: status[1] written, then the
  // flush of [a] fails: k=1 + (4 - 1 - 1) = 3.
  const r = movePages(w, w.p, 0, [a, 0, c, d], [1, 1, 1, 1], MPOL_MF_MOVE);
  t.deepEqual(r, { ret: 3, status: [SENTINEL, -EFAULT, SENTINEL, SENTINEL] });
  t.is(nodeOf(w, w.p, c), 0);
  void b;
});

test("positive return: a failing final flush returns k; earlier batches' statuses stay written", (t) => {
  const w = world();
  const [a, b, c, d] = pages(w, 4) as [number, number, number, number];
  pin(w, c);
  pin(w, d);
  const r = movePages(w, w.p, 0, [a, b, c, d], [0, 1, 1, 1], MPOL_MF_MOVE);
  t.deepEqual(r, { ret: 2, status: [0, SENTINEL, SENTINEL, SENTINEL] });
  t.is(nodeOf(w, w.p, b), 1, "moved pages of the failing batch are not subtracted, and stay moved");
});

test("target node out of memory: -ENOMEM after a partial move, no status written for the batch", (t) => {
  const w = world({ pages: 256 });
  const a = mmap(w, w.p, 64 * PAGE_SIZE);
  for (let k = 0; k < 64; k++) touch(w, w.p, a + k * PAGE_SIZE);
  // A process on node 1 faults memory in until node 1 drops below its LOW watermark and the faults
  // spill to node 0; the move's slow path then has only the pages between LOW and MIN.
  const hog = w.tasks.createProcess({ uid: 1000, cpu: 2 });
  const h = mmap(w, hog, 512 * PAGE_SIZE);
  let k = 0;
  do touch(w, hog, h + PAGE_SIZE * k++);
  while (k < 512 && nodeOf(w, hog, h + PAGE_SIZE * (k - 1)) === 1);
  t.is(nodeOf(w, hog, h + PAGE_SIZE * (k - 1)), 0, "the hog's last fault fell back to node 0");
  const addrs = Array.from({ length: 64 }, (_, i) => a + i * PAGE_SIZE);
  const r = movePages(w, w.p, 0, addrs, new Array(64).fill(1), MPOL_MF_MOVE);
  t.is(r.ret, -ENOMEM);
  t.true(r.status.every((s) => s === SENTINEL));
  const moved = addrs.filter((x) => nodeOf(w, w.p, x) === 1).length;
  t.true(moved > 0 && moved <= 10, `${moved} pages moved before the node ran out`);
  t.true(addrs.every((x) => w.m.memory.translate(w.p.mm!, x) >= 0), "nothing lost");
});

test("a caller whose own cpuset excludes the target node gets ENOMEM moving another process's page (spec §16)", (t) => {
  const w = world({ proc: { uid: 0 } });
  const q = w.tasks.createProcess({ uid: 0 });
  const a = mmap(w, q, PAGE_SIZE);
  touch(w, q, a);
  w.p.cpuset = w.tasks.createCpuset("only0", nodeMaskOf([0]));
  t.deepEqual(movePages(w, w.p, q.pid, [a], [1], MPOL_MF_MOVE), { ret: -ENOMEM, status: [SENTINEL] });
  t.is(nodeOf(w, q, a), 0);
  t.deepEqual(movePages(w, w.p, 0, [], [], MPOL_MF_MOVE), { ret: 0, status: [] });
  const own = mmap(w, w.p, PAGE_SIZE);
  touch(w, w.p, own);
  t.is(movePages(w, w.p, 0, [own], [1], MPOL_MF_MOVE).ret, -EACCES, "its own page: the cpuset check says EACCES");
});

test("the status array is written through the caller's page tables (arrays in emulated memory)", (t) => {
  const w = world();
  const [a] = pages(w, 1) as [number];
  const stat = mmap(w, w.p, PAGE_SIZE);
  const pa = placeArray(w, w.p, [a], 8);
  const na = placeArray(w, w.p, [1], 4);
  t.is(kernelMovePages(w.tasks, w.p, 0, 1, pa, na, stat + 12, MPOL_MF_MOVE), 0);
  const frame = w.m.memory.translate(w.p.mm!, stat);
  t.true(frame >= 0, "the untouched status page was faulted in by the kernel's write");
  t.is(new DataView(w.m.mem.read(frame * PAGE_SIZE + 12, 4).buffer).getInt32(0, true), 1);
  t.not(w.m.mem.digest(frame), patternDigest(0));
});

test("a page under migration by someone else: -ENOENT at its migration entry, -EBUSY while only isolated", (t) => {
  const w = world();
  const [a, b] = pages(w, 2) as [number, number];
  const m = w.m;
  const fa = m.folios.folioOf(m.memory.translate(w.p.mm!, a));
  const fb = m.folios.folioOf(m.memory.translate(w.p.mm!, b));
  // Another migration has isolated both and has already replaced a's PTE with a migration entry.
  const list = new FolioList();
  t.true(isolateFolioToList(m, fa, list));
  t.true(isolateFolioToList(m, fb, list));
  t.true(folioTrylock(m, fa));
  tryToMigrate(m, fa, false);
  t.deepEqual(movePages(w, w.p, 0, [a, b], null, MPOL_MF_MOVE), { ret: 0, status: [-ENOENT, 0] });
  t.deepEqual(movePages(w, w.p, 0, [a, b], [1, 1], MPOL_MF_MOVE), { ret: 0, status: [-ENOENT, -EBUSY] });
  removeMigrationPtes(m, fa, fa);
  folioUnlock(m, fa);
  putbackMovablePages(m, list);
  t.deepEqual(movePages(w, w.p, 0, [a, b], [1, 1], MPOL_MF_MOVE), { ret: 0, status: [1, 1] });
});
