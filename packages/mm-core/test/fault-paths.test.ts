/**
 * Fault paths move_pages depends on: zero and huge zero pages on read faults, mlock population,
 * private hugetlb pages, hugetlb migratability, KSM, ZONE_DEVICE entries, PFN mappings and MADV_PAGEOUT.
 */
import test from "ava";
import { EINVAL, ENOMEM } from "@mmemu/kernel";
import {
  FolioList, isolateFolioToList, ksmScan, madvisePageout, makeDevicePrivateEntry, mapDeviceCoherentPage,
  mmapPfnRange, isHugeZeroPmd, hugeZeroFolio, MAP_ANONYMOUS, MAP_FIXED, MAP_HUGETLB, TASK_SIZE, MAP_PRIVATE, MAP_SHARED, PAGE_SIZE, PG, PTE,
  PROT_READ, PROT_WRITE, VM_FAULT, patternDigest,
} from "../src/index.js";
import { migrateTo, nodeOf, world, type World } from "./world.js";

const PMD = 1 << 21;

function mmapAnon(w: World, len: number, flags = MAP_PRIVATE | MAP_ANONYMOUS): number {
  const a = w.m.memory.mmap(w.mm, { len, prot: PROT_READ | PROT_WRITE, flags });
  if (a < 0) throw new Error(`mmap ${a}`);
  return a;
}

function touch(w: World, addr: number, write: boolean): number {
  return w.m.memory.userAccessFrame(w.task, addr, write);
}

test("a read fault maps the shared zero page even when mTHP orders are enabled", (t) => {
  const w = world();
  w.m.memory.anonThp[4] = "always";
  const a = mmapAnon(w, 128 * 1024);
  t.true(touch(w, a + 5, false) >= 0);
  const v = w.mm.findVma(a)!;
  t.is(v.ptePfn[0], w.m.zeroPfn);
  t.true((v.pteBits[0]! & PTE.SPECIAL) !== 0);
  t.is(w.m.memory.translate(w.mm, a + PAGE_SIZE), -1, "only the faulting page is mapped");
  // A write to the zero page copies it into a 4K page (wp_page_copy); a write elsewhere gets an mTHP.
  t.true(touch(w, a, true) >= 0);
  t.is(w.m.folios.order[w.m.folios.folioOf(w.m.memory.translate(w.mm, a))], 0);
  t.true(touch(w, a + 64 * 1024, true) >= 0);
  t.is(w.m.folios.order[w.m.folios.folioOf(w.m.memory.translate(w.mm, a + 64 * 1024))], 4);
});

test("a read fault in a PMD-THP region maps the huge zero page; a write replaces it with a THP", (t) => {
  const w = world();
  w.m.memory.anonThp[9] = "always";
  const a = mmapAnon(w, 2 * PMD);
  const aligned = a + ((PMD - (a % PMD)) % PMD);
  const frame = touch(w, aligned + 3 * PAGE_SIZE, false);
  t.true(frame >= 0);
  const v = w.mm.findVma(a)!;
  const pmdI = (aligned - v.pmdBase) / PMD;
  t.true(isHugeZeroPmd(v.pmdBits[pmdI]!));
  const hz = hugeZeroFolio(w.m);
  t.is(v.pmdPfn[pmdI], hz);
  t.is(w.m.mem.digest(frame), 0, "reads see zeroes");
  const rc = w.m.folios.refcount[hz];
  const child = w.m.memory.fork(w.mm);
  t.is(w.m.folios.refcount[hz], rc, "fork takes no reference on the huge zero page");
  t.true(touch(w, aligned, true) >= 0);
  const folio = w.m.folios.folioOf(w.m.memory.translate(w.mm, aligned));
  t.is(w.m.folios.order[folio], 9, "the write fault allocated a THP");
  t.false(isHugeZeroPmd(v.pmdBits[pmdI]!));
  w.m.memory.exitMmap(child);
  t.is(w.m.folios.refcount[hz], rc, "unmapping leaves the huge zero page alone");
  t.deepEqual(w.checker.checkAll(), []);
});

test("mlock of private writable memory faults in real pages; MLOCK_ONFAULT faults in nothing", (t) => {
  const w = world();
  const a = mmapAnon(w, 4 * PAGE_SIZE);
  t.is(w.m.memory.mlockRange(w.mm, a, 2 * PAGE_SIZE, true), 0);
  const pfn = w.m.memory.translate(w.mm, a);
  t.not(pfn, w.m.zeroPfn);
  t.true(w.m.folios.test(pfn, PG.mlocked));
  t.is(w.m.memory.mlockRange(w.mm, a + 2 * PAGE_SIZE, 2 * PAGE_SIZE, true, true), 0);
  t.is(w.m.memory.translate(w.mm, a + 2 * PAGE_SIZE), -1);
  t.true(touch(w, a + 2 * PAGE_SIZE, true) >= 0);
  t.true(w.m.folios.test(w.m.folios.folioOf(w.m.memory.translate(w.mm, a + 2 * PAGE_SIZE)), PG.mlocked));
});

test("private anonymous hugetlb: a write fault gets a migratable anonymous huge page; fork + write copies it", (t) => {
  const w = world();
  w.m.setHugetlbPages(0, 2);
  w.m.setHugetlbPages(1, 1);
  const a = mmapAnon(w, PMD, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB);
  t.true(touch(w, a + 123, true) >= 0, "writing private hugetlb memory works");
  const folio = w.m.folios.folioOf(w.m.memory.translate(w.mm, a));
  const f = w.m.folios;
  t.true(f.test(folio, PG.hugetlb) && f.isAnon(folio) && f.test(folio, PG.hugetlbMigratable));
  w.m.mem.fillPages(folio, 512, 0x5eed);
  const list = new FolioList();
  t.true(isolateFolioToList(w.m, folio, list));
  t.is(migrateTo(w, list, 1), 0);
  t.is(nodeOf(w, a), 1);
  t.is(w.m.mem.digest(w.m.memory.translate(w.mm, a + 7 * PAGE_SIZE)), patternDigest(0x5eed));
  const childMm = w.m.memory.fork(w.mm);
  const shared = w.m.folios.folioOf(w.m.memory.translate(w.mm, a));
  t.is(f.mapcount[shared], 2);
  t.true(touch(w, a, true) >= 0);
  t.not(w.m.folios.folioOf(w.m.memory.translate(w.mm, a)), shared, "the writer got its own copy");
  t.is(w.m.folios.folioOf(w.m.memory.translate(childMm, a)), shared);
  t.is(f.mapcount[shared], 1);
  t.deepEqual(w.checker.checkAll(), []);
});

test("a shared hugetlb page-cache folio can be isolated for migration", (t) => {
  const w = world();
  w.m.setHugetlbPages(0, 1);
  const a = mmapAnon(w, PMD, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB);
  t.true(touch(w, a, true) >= 0);
  const folio = w.m.folios.folioOf(w.m.memory.translate(w.mm, a));
  t.true(isolateFolioToList(w.m, folio, new FolioList()));
});

test("KSM merges identical pages of mergeable VMAs into one read-only folio that migrates for all its mappings", (t) => {
  const w = world();
  const a = mmapAnon(w, 4 * PAGE_SIZE);
  const b = mmapAnon(w, 4 * PAGE_SIZE);
  for (const x of [a, b]) {
    t.is(w.m.memory.madvise(w.mm, x, 4 * PAGE_SIZE, "mergeable"), 0);
    for (let k = 0; k < 4; k++) w.m.mem.fillPages(touch(w, x + k * PAGE_SIZE, true), 1, k === 0 ? 0xcafe : 0x100 + k + (x === a ? 0 : 0x10));
  }
  const r = ksmScan(w.m);
  t.is(r.merged, 1);
  t.is(r.pagesShared, 1);
  const ka = w.m.memory.translate(w.mm, a);
  t.is(ka, w.m.memory.translate(w.mm, b));
  const f = w.m.folios;
  t.true(f.test(ka, PG.ksm));
  t.is(f.mapcount[ka], 2);
  const list = new FolioList();
  t.true(isolateFolioToList(w.m, ka, list));
  t.is(migrateTo(w, list, 1), 0);
  const moved = w.m.memory.translate(w.mm, a);
  t.is(moved, w.m.memory.translate(w.mm, b), "both mappings follow the KSM folio");
  t.is(nodeOf(w, b), 1);
  t.true(f.test(moved, PG.ksm));
  t.is(w.m.mem.digest(moved), patternDigest(0xcafe));
  // A write breaks COW even on the last mapping.
  t.true(touch(w, a, true) >= 0);
  t.not(w.m.memory.translate(w.mm, a), moved);
  t.true(touch(w, b, true) >= 0);
  t.false(f.test(w.m.memory.translate(w.mm, b), PG.ksm));
  t.deepEqual(w.checker.checkAll(), []);
});

test("device-coherent pages are mapped present; device-private entries fault back to RAM with their data", (t) => {
  const w = world();
  const a = mmapAnon(w, 2 * PAGE_SIZE);
  w.m.mem.fillPages(touch(w, a, true), 1, 0xd00d);
  w.m.mem.fillPages(touch(w, a + PAGE_SIZE, true), 1, 0xbeef);
  const dev = mapDeviceCoherentPage(w.m, w.mm, a, 1);
  t.true(dev >= 0);
  t.is(w.m.memory.translate(w.mm, a), dev);
  t.true(w.m.folios.test(dev, PG.zoneDevice));
  t.is(w.m.mem.digest(dev), patternDigest(0xd00d));
  t.true(makeDevicePrivateEntry(w.m, w.mm, a + PAGE_SIZE, 1) >= 0);
  t.is(w.m.memory.translate(w.mm, a + PAGE_SIZE), -1, "not present");
  const back = touch(w, a + PAGE_SIZE, false);
  t.true(back >= 0);
  t.is(w.m.mem.nodeOfPfn[back], 0, "migrated back to the faulting CPU's node");
  t.is(w.m.mem.digest(back), patternDigest(0xbeef));
});

test("a PFN mapping is VM_PFNMAP with special present PTEs and reads device memory", (t) => {
  const w = world();
  const a = mmapPfnRange(w.m, w.mm, 2 * PAGE_SIZE, PROT_READ, 1);
  t.true(a > 0);
  const v = w.mm.findVma(a)!;
  t.true((v.pteBits[1]! & (PTE.PRESENT | PTE.SPECIAL)) === (PTE.PRESENT | PTE.SPECIAL));
  t.true(touch(w, a, false) >= 0);
  t.is(touch(w, a, true), VM_FAULT.SIGSEGV);
  t.is(w.m.memory.munmap(w.mm, a, 2 * PAGE_SIZE), 0);
});

test("MADV_PAGEOUT swaps out private pages and leaves shared ones", (t) => {
  const w = world();
  const a = mmapAnon(w, 3 * PAGE_SIZE);
  for (let k = 0; k < 3; k++) w.m.mem.fillPages(touch(w, a + k * PAGE_SIZE, true), 1, 0x40 + k);
  const child = w.m.memory.fork(w.mm);
  // The child writes page 0: both copies of it are now private; pages 1 and 2 stay shared.
  w.m.current = w.m.createTask(child, 1);
  t.true(w.m.memory.userAccessFrame(w.m.current, a, true) >= 0);
  w.m.current = w.task;
  t.is(madvisePageout(w.m, w.mm, a, 3 * PAGE_SIZE), 1);
  t.true((w.mm.findVma(a)!.pteBits[0]! & PTE.SWAP) !== 0);
  t.is(w.m.memory.translate(w.mm, a), -1);
  t.true(w.m.memory.translate(w.mm, a + PAGE_SIZE) >= 0);
  const back = touch(w, a, false);
  t.is(w.m.mem.digest(back), patternDigest(0x40), "swap-in restores the data");
});

test("mmap(MAP_FIXED) above TASK_SIZE fails with ENOMEM and munmap there with EINVAL; a hint there is ignored", (t) => {
  const w = world();
  const kernel = 0xffff_ffff_8100_0000;
  t.is(w.m.memory.mmap(w.mm, { len: PAGE_SIZE, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, addr: kernel }), -ENOMEM);
  t.is(w.m.memory.mmap(w.mm, { len: 2 * PAGE_SIZE, prot: PROT_READ, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, addr: TASK_SIZE - PAGE_SIZE }), -ENOMEM, "a range that crosses TASK_SIZE");
  t.is(w.m.memory.mmap(w.mm, { len: PAGE_SIZE, prot: PROT_READ, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, addr: TASK_SIZE - PAGE_SIZE }), TASK_SIZE - PAGE_SIZE, "the last user page can be mapped");
  t.is(w.mm.findVma(kernel), null);
  const hinted = w.m.memory.mmap(w.mm, { len: PAGE_SIZE, prot: PROT_READ, flags: MAP_PRIVATE | MAP_ANONYMOUS, addr: kernel });
  t.true(hinted > 0 && hinted < TASK_SIZE, "a hint in kernel space is not used");
  t.is(w.m.memory.munmap(w.mm, kernel, PAGE_SIZE), -EINVAL);
});
