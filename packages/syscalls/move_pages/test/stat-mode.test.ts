/** Spec §3 (page lookup) and §4 (stat mode: 16-entry chunks, what is written when a copy faults). */
import test from "ava";
import { EFAULT, ENOENT } from "@mmemu/kernel";
import {
  madvisePageout, makeDevicePrivateEntry, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, mapDeviceCoherentPage, mmapPfnRange, PAGE_SIZE, PROT_READ, PROT_WRITE,
} from "@mmemu/mm-core";
import { DO_PAGES_STAT_CHUNK_NR, kernelMovePages, MPOL_MF_MOVE, writeUserArray } from "../src/index.js";
import { mmap, movePages, placeArray, read, SENTINEL, touch, world, memfdMappedTwice } from "./world.js";

test("stat mode reports the node of each page and never moves anything (LTP move_pages01)", (t) => {
  const w = world();
  const a = mmap(w, w.p, 2 * PAGE_SIZE);
  touch(w, w.p, a);
  w.tasks.withCurrent(w.p, () => {
    // The second page is faulted in by a thread running on node 1's CPU.
    const thr = w.tasks.createThread(w.p, { cpu: 2 });
    touch(w, thr, a + PAGE_SIZE);
  });
  t.deepEqual(movePages(w, w.p, 0, [a, a + PAGE_SIZE], null, MPOL_MF_MOVE), { ret: 0, status: [0, 1] });
});

test("lookup results: never-touched -ENOENT; unmapped, NULL, kernel and non-canonical addresses -EFAULT", (t) => {
  const w = world();
  const a = mmap(w, w.p, 3 * PAGE_SIZE);
  touch(w, w.p, a);
  const gone = mmap(w, w.p, PAGE_SIZE);
  w.m.memory.munmap(w.p.mm!, gone, PAGE_SIZE);
  const r = movePages(w, w.p, 0, [a, a + PAGE_SIZE, gone, 0, 0xffff_ffff_8100_0000, 0x8000_0000_0000_0000], null, MPOL_MF_MOVE);
  t.deepEqual(r, { ret: 0, status: [0, -ENOENT, -EFAULT, -EFAULT, -EFAULT, -EFAULT] });
  t.is(w.m.memory.translate(w.p.mm!, a + PAGE_SIZE), -1, "the lookup does not fault the page in");
});

test("the zero page (read, never written) is -EFAULT (LTP move_pages04)", (t) => {
  const w = world();
  const a = mmap(w, w.p, PAGE_SIZE);
  t.is(read(w, w.p, a), w.m.zeroPfn);
  t.deepEqual(movePages(w, w.p, 0, [a], null, MPOL_MF_MOVE), { ret: 0, status: [-EFAULT] });
  t.deepEqual(movePages(w, w.p, 0, [a], [1], MPOL_MF_MOVE), { ret: 0, status: [-EFAULT] });
});

test("the huge zero page is -EFAULT in both modes", (t) => {
  const w = world();
  w.m.memory.anonThp[9] = "always";
  const a = mmap(w, 4 << 20);
  const aligned = a + (((2 << 20) - (a % (2 << 20))) % (2 << 20));
  t.true(read(w, w.p, aligned) >= 0);
  t.deepEqual(movePages(w, w.p, 0, [aligned, aligned + 77 * PAGE_SIZE], null, MPOL_MF_MOVE), { ret: 0, status: [-EFAULT, -EFAULT] });
  t.deepEqual(movePages(w, w.p, 0, [aligned], [1], MPOL_MF_MOVE), { ret: 0, status: [-EFAULT] });

  function mmap(ww: typeof w, len: number): number {
    return ww.m.memory.mmap(ww.p.mm!, { len, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS });
  }
});

test("swapped-out pages are -ENOENT and are not swapped in", (t) => {
  const w = world();
  const a = mmap(w, w.p, PAGE_SIZE);
  touch(w, w.p, a);
  t.is(madvisePageout(w.m, w.p.mm!, a, PAGE_SIZE), 1);
  t.deepEqual(movePages(w, w.p, 0, [a], null, MPOL_MF_MOVE), { ret: 0, status: [-ENOENT] });
  t.deepEqual(movePages(w, w.p, 0, [a], [1], MPOL_MF_MOVE), { ret: 0, status: [-ENOENT] });
  t.is(w.m.memory.translate(w.p.mm!, a), -1);
});

test("ZONE_DEVICE pages (device-coherent, present) and device-private entries are -ENOENT", (t) => {
  const w = world();
  const a = mmap(w, w.p, 2 * PAGE_SIZE);
  touch(w, w.p, a);
  touch(w, w.p, a + PAGE_SIZE);
  t.true(mapDeviceCoherentPage(w.m, w.p.mm!, a, 1) >= 0);
  t.true(makeDevicePrivateEntry(w.m, w.p.mm!, a + PAGE_SIZE, 1) >= 0);
  t.deepEqual(movePages(w, w.p, 0, [a, a + PAGE_SIZE], null, MPOL_MF_MOVE), { ret: 0, status: [-ENOENT, -ENOENT] });
  t.deepEqual(movePages(w, w.p, 0, [a, a + PAGE_SIZE], [0, 0], MPOL_MF_MOVE), { ret: 0, status: [-ENOENT, -ENOENT] });
});

test("VM_PFNMAP pages: stat mode -ENOENT (no struct page), move mode -EFAULT (VMA not migratable)", (t) => {
  const w = world();
  const a = mmapPfnRange(w.m, w.p.mm!, PAGE_SIZE, PROT_READ, 0);
  t.deepEqual(movePages(w, w.p, 0, [a], null, MPOL_MF_MOVE), { ret: 0, status: [-ENOENT] });
  t.deepEqual(movePages(w, w.p, 0, [a], [1], MPOL_MF_MOVE), { ret: 0, status: [-EFAULT] });
});

test("a memfd mapped twice and touched through one mapping: the other address is -ENOENT", (t) => {
  const w = world();
  const [a, b] = memfdMappedTwice(w, w.p);
  touch(w, w.p, a);
  t.deepEqual(movePages(w, w.p, 0, [a, b], null, MPOL_MF_MOVE), { ret: 0, status: [0, -ENOENT] });
});

test(`stat mode works in chunks of ${DO_PAGES_STAT_CHUNK_NR}: 20 pointers with only the first 10 readable -> EFAULT, nothing written`, (t) => {
  const w = world();
  const a = mmap(w, w.p, 20 * PAGE_SIZE);
  for (let k = 0; k < 20; k++) touch(w, w.p, a + k * PAGE_SIZE);
  const area = mmap(w, w.p, 2 * PAGE_SIZE);
  const ptr = area + PAGE_SIZE - 10 * 8;
  writeUserArray(w.tasks, w.p, ptr, Array.from({ length: 10 }, (_, k) => a + k * PAGE_SIZE), 8);
  const st = placeArray(w, w.p, new Array(20).fill(SENTINEL), 4);
  w.m.memory.munmap(w.p.mm!, area + PAGE_SIZE, PAGE_SIZE);
  const r = movePages(w, w.p, 0, new Array(20).fill(0), null, MPOL_MF_MOVE, { pagesPtr: ptr, statusPtr: st });
  t.deepEqual(r, { ret: -EFAULT, status: new Array(20).fill(SENTINEL) });
});

test("stat mode: a status array writable for 16 of 20 entries -> EFAULT with the first 16 written", (t) => {
  const w = world();
  const a = mmap(w, w.p, 20 * PAGE_SIZE);
  for (let k = 0; k < 20; k++) touch(w, w.p, a + k * PAGE_SIZE);
  const area = mmap(w, w.p, 2 * PAGE_SIZE);
  const st = area + PAGE_SIZE - 16 * 4;
  const pa = placeArray(w, w.p, Array.from({ length: 20 }, (_, k) => a + k * PAGE_SIZE), 8);
  w.m.memory.munmap(w.p.mm!, area + PAGE_SIZE, PAGE_SIZE);
  t.is(kernelMovePages(w.tasks, w.p, 0, 20, pa, 0, st, MPOL_MF_MOVE), -EFAULT);
  const r = movePages(w, w.p, 0, new Array(16).fill(0), null, MPOL_MF_MOVE, { pagesPtr: pa, statusPtr: st, count: 0 });
  t.deepEqual(r.status, new Array(16).fill(0), "the first chunk's statuses were written");
});

test("stat mode returns 0, never a positive value, and reports the node even for shared pages", (t) => {
  const w = world();
  const a = mmap(w, w.p, PAGE_SIZE, { flags: MAP_SHARED | MAP_ANONYMOUS });
  touch(w, w.p, a);
  w.tasks.fork(w.p);
  t.deepEqual(movePages(w, w.p, 0, [a], null, MPOL_MF_MOVE), { ret: 0, status: [0] });
});
