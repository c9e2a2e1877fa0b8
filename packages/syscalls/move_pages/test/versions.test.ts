/** Spec §12 and §16: what differs between the modelled kernels 6.1, 6.12 and mainline. */
import test from "ava";
import { EACCES, EBUSY, EFAULT, ENOENT } from "@mmemu/kernel";
import {
  MAP_ANONYMOUS, MAP_HUGETLB, MAP_PRIVATE, MAP_SHARED, mmapPfnRange, PAGE_SIZE, PROT_NONE, PROT_READ, PROT_WRITE,
} from "@mmemu/mm-core";
import { kernelFeatures, KERNEL_VERSIONS, MPOL_MF_MOVE } from "../src/index.js";
import { mmap, movePages, nodeOf, read, touch, world } from "./world.js";

const PMD = 2 << 20;

test("the modelled versions and their switches", (t) => {
  t.deepEqual([...KERNEL_VERSIONS], ["6.1", "6.12", "mainline"]);
  t.true(kernelFeatures("6.1").followPageDump);
  t.false(kernelFeatures("6.12").followPageDump);
  t.is(kernelFeatures().version, "mainline");
  t.throws(() => kernelFeatures("5.4" as never), { message: /unknown kernel version "5.4"/ });
});

for (const version of KERNEL_VERSIONS) {
  const untouched = version === "6.1" ? -EFAULT : -ENOENT;

  test(`${version}: never-touched anonymous pages (also read-only, PROT_NONE, MLOCK_ONFAULT) are ${untouched === -EFAULT ? "-EFAULT" : "-ENOENT"} in both modes`, (t) => {
    const w = world({ version });
    const a = mmap(w, w.p, PAGE_SIZE);
    const ro = mmap(w, w.p, PAGE_SIZE, { prot: PROT_READ });
    const none = mmap(w, w.p, PAGE_SIZE, { prot: PROT_NONE });
    const lk = mmap(w, w.p, PAGE_SIZE);
    t.is(w.m.memory.mlockRange(w.p.mm!, lk, PAGE_SIZE, true, true), 0);
    const addrs = [a, ro, none, lk];
    t.deepEqual(movePages(w, w.p, 0, addrs, null, MPOL_MF_MOVE).status, [untouched, untouched, untouched, untouched]);
    t.deepEqual(movePages(w, w.p, 0, addrs, [1, 1, 1, 1], MPOL_MF_MOVE).status, [untouched, untouched, untouched, untouched]);
  });

  test(`${version}: the zero page, unmapped, NULL and kernel addresses are -EFAULT`, (t) => {
    const w = world({ version });
    const z = mmap(w, w.p, PAGE_SIZE);
    read(w, w.p, z);
    t.deepEqual(movePages(w, w.p, 0, [z, 0, 0xffff_8880_0000_0000], null, MPOL_MF_MOVE).status, [-EFAULT, -EFAULT, -EFAULT]);
  });

  test(`${version}: a page written then made PROT_NONE ${version === "6.1" ? "is -ENOENT and stays" : "reports its node and moves"}`, (t) => {
    const w = world({ version });
    const a = mmap(w, w.p, PAGE_SIZE);
    touch(w, w.p, a);
    w.m.memory.mprotect(w.p.mm!, a, PAGE_SIZE, PROT_NONE);
    if (version === "6.1") {
      t.deepEqual(movePages(w, w.p, 0, [a], null, MPOL_MF_MOVE).status, [-ENOENT]);
      t.deepEqual(movePages(w, w.p, 0, [a], [1], MPOL_MF_MOVE).status, [-ENOENT]);
      t.is(nodeOf(w, w.p, a), 0);
    } else {
      t.deepEqual(movePages(w, w.p, 0, [a], null, MPOL_MF_MOVE).status, [0]);
      t.deepEqual(movePages(w, w.p, 0, [a], [1], MPOL_MF_MOVE).status, [1]);
      t.is(nodeOf(w, w.p, a), 1);
    }
  });

  test(`${version}: a THP region touched in its first half only: the untouched half is ${untouched === -EFAULT ? "-EFAULT" : "-ENOENT"} in stat mode`, (t) => {
    const w = world({ version, pages: 1 << 13 });
    w.m.memory.anonThp[9] = "always";
    const big = mmap(w, w.p, 3 * PMD);
    const a = big + ((PMD - (big % PMD)) % PMD);
    touch(w, w.p, a);
    t.deepEqual(movePages(w, w.p, 0, [a + 10 * PAGE_SIZE, a + PMD + 10 * PAGE_SIZE], null, MPOL_MF_MOVE).status, [0, untouched]);
  });

  test(`${version}: hugetlb addressed by an inner address ${version === "6.1" ? "is -EACCES" : "moves the whole page"}; listing every address`, (t) => {
    const w = world({ version, pages: 1 << 13, hugetlb: { 0: 2, 1: 2 } });
    const a = mmap(w, w.p, PMD, { flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB });
    touch(w, w.p, a);
    const inner = movePages(w, w.p, 0, [a + 3 * PAGE_SIZE], [1], MPOL_MF_MOVE);
    t.deepEqual(inner.status, [version === "6.1" ? -EACCES : 1]);
    const to = version === "6.1" ? 1 : 0;
    const addrs = Array.from({ length: 512 }, (_, k) => a + k * PAGE_SIZE);
    const r = movePages(w, w.p, 0, addrs, new Array(512).fill(to), MPOL_MF_MOVE);
    t.is(r.ret, 0);
    t.deepEqual(r.status.slice(0, 2), [to, version === "6.1" ? -EACCES : -EBUSY]);
    t.true(r.status.slice(2).every((s) => s === to), "every later entry reports the page's node");
    t.is(nodeOf(w, w.p, a), to);
  });

  test(`${version}: PFN mappings are ${version === "6.1" ? "-EFAULT" : "-ENOENT"} in stat mode and -EFAULT in move mode`, (t) => {
    const w = world({ version });
    const a = mmapPfnRange(w.m, w.p.mm!, PAGE_SIZE, PROT_READ | PROT_WRITE, 1);
    t.deepEqual(movePages(w, w.p, 0, [a], null, MPOL_MF_MOVE).status, [version === "6.1" ? -EFAULT : -ENOENT]);
    t.deepEqual(movePages(w, w.p, 0, [a], [0], MPOL_MF_MOVE).status, [-EFAULT]);
  });
}

test("6.1: an untouched page of a shared (shmem) mapping is -ENOENT: no_page_table() only says -EFAULT for anonymous VMAs", (t) => {
  const w = world({ version: "6.1" });
  const a = mmap(w, w.p, PAGE_SIZE, { flags: MAP_SHARED | MAP_ANONYMOUS });
  t.deepEqual(movePages(w, w.p, 0, [a], null, MPOL_MF_MOVE).status, [-ENOENT]);
});

/**
 * An mTHP after fork where the parent unmapped its second half and the child its first half: 16
 * mappings in total (not more than the folio's 16 pages), two mms, the first page mapped once.
 */
function splitSharedMthp(version: "6.1" | "6.12" | "mainline") {
  const w = world({ version });
  w.m.memory.anonThp[4] = "always";
  const r0 = mmap(w, w.p, 32 * PAGE_SIZE);
  const a = r0 + ((16 * PAGE_SIZE - (r0 % (16 * PAGE_SIZE))) % (16 * PAGE_SIZE));
  touch(w, w.p, a);
  const child = w.tasks.fork(w.p);
  w.m.memory.munmap(w.p.mm!, a + 8 * PAGE_SIZE, 8 * PAGE_SIZE);
  w.m.memory.munmap(child.mm!, a, 8 * PAGE_SIZE);
  return { w, a };
}

test("sharing of a large folio: folio_maybe_mapped_shared (mainline) counts mms, folio_likely_mapped_shared (6.12) guesses from the first page", (t) => {
  const main = splitSharedMthp("mainline");
  t.deepEqual(movePages(main.w, main.w.p, 0, [main.a], [1], MPOL_MF_MOVE).status, [-EACCES]);
  const v612 = splitSharedMthp("6.12");
  t.deepEqual(movePages(v612.w, v612.w.p, 0, [v612.a], [1], MPOL_MF_MOVE).status, [1]);
  const v61 = splitSharedMthp("6.1");
  t.deepEqual(movePages(v61.w, v61.w.p, 0, [v61.a + 2 * PAGE_SIZE], [1], MPOL_MF_MOVE).status, [1], "page_mapcount of that page is 1");
});

test("the migration core follows the version: 6.1 tries a page held by an extra reference 10 times, 6.12 and mainline twice", (t) => {
  for (const [version, attempts] of [["6.1", 10], ["6.12", 2], ["mainline", 2]] as const) {
    const w = world({ version });
    t.is(w.m.settings.migratePagesBatch, version !== "6.1");
    const a = mmap(w, w.p, 2 * PAGE_SIZE);
    touch(w, w.p, a);
    touch(w, w.p, a + PAGE_SIZE);
    const held = w.m.memory.translate(w.p.mm!, a);
    // A reference that is not a pin (vmsplice, a kernel get_page()): unmapping works, the move never does.
    w.m.folios.refcount[held]!++;
    const rec = w.m.core.trace.record(["set_migration_pte"]);
    const r = movePages(w, w.p, 0, [a, a + PAGE_SIZE], [1, 1], MPOL_MF_MOVE);
    rec.stop();
    t.is(r.ret, 1, `${version}: one page not migrated`);
    t.is(nodeOf(w, w.p, a + PAGE_SIZE), 1);
    t.is(nodeOf(w, w.p, a), 0);
    // The other page is unmapped once; the held one once per attempt.
    t.is(rec.records.filter((x) => x.fields.pfn === held).length, attempts, version);
    w.m.folios.refcount[held]!--;
  }
});
