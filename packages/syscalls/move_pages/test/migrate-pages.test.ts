/** Spec §13: migrate_pages(2) — argument checks in order, node remapping, sharing, return value. */
import test from "ava";
import { EFAULT, EINVAL, EPERM, ESRCH } from "@mmemu/kernel";
import { MAP_ANONYMOUS, MAP_SHARED, PAGE_SIZE } from "@mmemu/mm-core";
import { CAP, capMask, kernelMigratePages, nodeMaskOf, nodeRemap } from "../src/index.js";
import { migratePages, mmap, nodeOf, placeArray, touch, world } from "./world.js";

const ULONG_MAX = 18446744073709551615;

test("sane masks move every page from the old node to the new one and return 0", (t) => {
  const w = world();
  const a = mmap(w, w.p, 4 * PAGE_SIZE);
  for (let k = 0; k < 4; k++) touch(w, w.p, a + k * PAGE_SIZE);
  t.is(migratePages(w, w.p, 0, [0], [1]), 0);
  for (let k = 0; k < 4; k++) t.is(nodeOf(w, w.p, a + k * PAGE_SIZE), 1);
});

test("maxnode checks: ULONG_MAX (more than a page of bits) is EINVAL; maxnode 0 with NULL masks is EINVAL (empty new set)", (t) => {
  const w = world();
  t.is(kernelMigratePages(w.tasks, w.p, 0, ULONG_MAX, 0, 0), -EINVAL);
  t.is(kernelMigratePages(w.tasks, w.p, 0, 0, 0, 0), -EINVAL);
  t.is(kernelMigratePages(w.tasks, w.p, 0, 1, 0, 0), -EINVAL, "maxnode 1 reads no bits");
});

test("unreadable masks are EFAULT; a bit at or above MAX_NUMNODES is EINVAL", (t) => {
  const w = world();
  const good = placeArray(w, w.p, [2n], 8);
  t.is(kernelMigratePages(w.tasks, w.p, 0, 65, ULONG_MAX, good), -EFAULT);
  t.is(kernelMigratePages(w.tasks, w.p, 0, 65, good, 0x10), -EFAULT);
  const wide = placeArray(w, w.p, new Array(17).fill(0n).map((_, i) => (i === 16 ? 1n : i === 0 ? 2n : 0n)), 8);
  t.is(kernelMigratePages(w.tasks, w.p, 0, 17 * 64 + 1, good, wide), -EINVAL, "bit 1024 set");
});

test("pid lookup and ptrace check: ESRCH, then EPERM for another user's process", (t) => {
  const w = world();
  t.is(migratePages(w, w.p, 999999, [0], [1]), -ESRCH);
  const other = w.tasks.createProcess({ uid: 2000 });
  t.is(migratePages(w, w.p, other.pid, [0], [1]), -EPERM);
});

test("new nodes outside the target's cpuset need CAP_SYS_NICE (EPERM); an empty or absent new set is EINVAL", (t) => {
  const w = world();
  const q = w.tasks.createProcess({ uid: 1000, cpuset: w.tasks.createCpuset("only0", nodeMaskOf([0])) });
  t.is(migratePages(w, w.p, q.pid, [0], [1]), -EPERM);
  const nice = w.tasks.createProcess({ uid: 1000, caps: capMask([CAP.SYS_NICE]) });
  t.is(migratePages(w, nice, q.pid, [0], [1]), 0);
  t.is(migratePages(w, w.p, 0, [0], [3]), -EPERM, "node 3 is outside the caller's own cpuset: the subset check comes first");
  const root = w.tasks.createProcess({ uid: 0 });
  t.is(migratePages(w, root, 0, [0], [3]), -EINVAL, "node 3 does not exist");
  t.is(migratePages(w, root, 0, [0], [2]), -EINVAL, "node 2 has no memory");
  t.is(migratePages(w, root, 0, [0], []), -EINVAL, "even root");
});

test("new nodes are intersected with the *caller's* cpuset", (t) => {
  const w = world();
  w.p.cpuset = w.tasks.createCpuset("only0", nodeMaskOf([0]));
  const q = w.tasks.createProcess({ uid: 1000 });
  t.is(migratePages(w, w.p, q.pid, [0], [1]), -EINVAL);
});

test("a kernel thread target is EINVAL (no mm) once the checks pass", (t) => {
  const w = world();
  const k = w.tasks.createKernelThread({ pid: 2 });
  const root = w.tasks.createProcess({ uid: 0 });
  t.is(migratePages(w, root, k.pid, [0], [1]), -EINVAL);
});

test("shared pages are skipped (not counted) without CAP_SYS_NICE and moved with it", (t) => {
  const w = world();
  const s = mmap(w, w.p, PAGE_SIZE, { flags: MAP_SHARED | MAP_ANONYMOUS });
  const p = mmap(w, w.p, PAGE_SIZE);
  touch(w, w.p, s);
  touch(w, w.p, p);
  const child = w.tasks.fork(w.p);
  touch(w, child, s);
  touch(w, child, p);
  t.is(migratePages(w, w.p, 0, [0], [1]), 0);
  t.is(nodeOf(w, w.p, s), 0, "shared: skipped");
  t.is(nodeOf(w, w.p, p), 1);
  const root = w.tasks.createProcess({ uid: 0 });
  t.is(migratePages(w, root, w.p.pid, [0], [1]), 0);
  t.is(nodeOf(w, child, s), 1, "moved for both mappers");
});

test("pages that cannot be migrated are counted in the return value", (t) => {
  const w = world();
  const a = mmap(w, w.p, 3 * PAGE_SIZE);
  for (let k = 0; k < 3; k++) touch(w, w.p, a + k * PAGE_SIZE);
  w.m.memory.pinUserPage(w.p.mm!, a + PAGE_SIZE, false);
  t.is(migratePages(w, w.p, 0, [0], [1]), 1);
  t.is(nodeOf(w, w.p, a), 1);
  t.is(nodeOf(w, w.p, a + PAGE_SIZE), 0);
});

test("node_remap keeps the relative position of nodes", (t) => {
  const from = nodeMaskOf([2, 3, 4]);
  const to = nodeMaskOf([3, 4, 5]);
  t.deepEqual([2, 3, 4].map((s) => nodeRemap(s, from, to)), [3, 4, 5]);
  t.is(nodeRemap(7, from, to), 7, "a node not in from maps to itself");
});
