import test from "ava";
import { Cost, EIO } from "@mmemu/kernel";
import { FOLIO_CONTENT_COPIED, PAGE_SIZE, type Machine } from "@mmemu/mm-core";
import { migrateOffloadInit, migrateOffloadRegister, Module, type Migrator, type OffloadSeries } from "@mmemu/offload-api";
import { anon, intact, migrateRange, nodeOf, world, type World } from "./world.js";

/**
 * A CPU batch copier for tests: copies the pairs `which(i)` selects, marks them (as a V6 copier
 * must) when asked, and returns `rc`. Counts the pairs it copied.
 */
function partialCopier(m: Machine, opts: { which: (i: number) => boolean; rc: number; mark: boolean }) {
  const seen = { calls: 0, copied: 0 };
  const mig: Migrator = {
    name: "PARTIAL",
    owner: new Module("partial"),
    offloadCopy(dst, src, n) {
      seen.calls++;
      for (let i = 0; i < n; i++) {
        if (!opts.which(i)) continue;
        m.mem.copyPages(dst[i]!, src[i]!, 1 << m.folios.order[src[i]!]!);
        if (opts.mark) m.folios.migrateInfo[dst[i]!]! |= FOLIO_CONTENT_COPIED;
        seen.copied++;
      }
      return opts.rc;
    },
  };
  return { mig, seen };
}

function setup(series: OffloadSeries, pages: number, copier: { which: (i: number) => boolean; rc: number; mark: boolean }) {
  const w = world();
  migrateOffloadInit(w.m, { series });
  const c = partialCopier(w.m, copier);
  if (migrateOffloadRegister(w.m, c.mig) !== 0) throw new Error("register failed");
  const addr = anon(w, pages * PAGE_SIZE);
  return { w, addr, seen: c.seen };
}

/** Base pages the move phase copied with folio_mc_copy(). */
function cpuCopiedPages(w: World): number {
  return w.costs.units[Cost.CPU_COPY_PAGE]!;
}

test("V5 all-or-nothing: a batch that fails after copying half is CPU-copied in full", (t) => {
  const { w, addr, seen } = setup("v5", 16, { which: (i) => i < 8, rc: -EIO, mark: false });
  t.is(migrateRange(w, addr, 16 * PAGE_SIZE, 1), 0);
  t.is(seen.copied, 8);
  t.is(cpuCopiedPages(w), 16, "every pair, including the 8 the migrator had copied");
  t.true(intact(w, addr, 16 * PAGE_SIZE));
  t.is(nodeOf(w, addr), 1);
  t.deepEqual(w.checker.checkQuiescent(), []);
});

test("V5: a batch that returns 0 is not copied again", (t) => {
  const { w, addr } = setup("v5", 16, { which: () => true, rc: 0, mark: false });
  t.is(migrateRange(w, addr, 16 * PAGE_SIZE, 1), 0);
  t.is(cpuCopiedPages(w), 0);
  t.true(intact(w, addr, 16 * PAGE_SIZE));
});

test("V5 ignores per-folio marks: a failing copier's marks do not skip the CPU copy", (t) => {
  const { w, addr } = setup("v5", 16, { which: (i) => i % 2 === 0, rc: -EIO, mark: true });
  t.is(migrateRange(w, addr, 16 * PAGE_SIZE, 1), 0);
  t.is(cpuCopiedPages(w), 16);
  t.true(intact(w, addr, 16 * PAGE_SIZE));
});

test("V6 per folio: only the unmarked destinations are CPU-copied; the return value does not matter", (t) => {
  const { w, addr, seen } = setup("v6", 16, { which: (i) => i % 2 === 0, rc: -EIO, mark: true });
  t.is(migrateRange(w, addr, 16 * PAGE_SIZE, 1), 0);
  t.is(seen.copied, 8);
  t.is(cpuCopiedPages(w), 8, "the 8 odd pairs");
  t.true(intact(w, addr, 16 * PAGE_SIZE));
  t.deepEqual(w.checker.checkQuiescent(), []);
});

test("V6: a copier that returns 0 but marks nothing gets every pair CPU-copied", (t) => {
  const { w, addr } = setup("v6", 16, { which: () => false, rc: 0, mark: false });
  t.is(migrateRange(w, addr, 16 * PAGE_SIZE, 1), 0);
  t.is(cpuCopiedPages(w), 16);
  t.true(intact(w, addr, 16 * PAGE_SIZE));
});

test("V5: a V5 copier that reports success without copying is caught when it returns, named with the batch and pair", (t) => {
  const { w, addr } = setup("v5", 4, { which: () => false, rc: 0, mark: false });
  const err = t.throws(() => migrateRange(w, addr, 4 * PAGE_SIZE, 1));
  t.regex(err!.message, /^migrator PARTIAL, batch 1, pair 0 \(src folio \d+ -> dst folio \d+\): claimed copied .*early completion/);
});

for (const series of ["v5", "v6"] as const) {
  test(`-EAGAIN retry after a successful batch copy: ${series === "v5" ? "V5 moves the retried pair without re-copying" : "V6 re-copies the retried pair on the CPU"}`, (t) => {
    const { w, addr, seen } = setup(series, 8, { which: () => true, rc: 0, mark: series === "v6" });
    // One transient extra reference: the first pair's first move attempt fails the refcount check.
    const fp = w.m.core.faults.arm("migrate_extra_ref", { times: 1 });
    const rec = w.m.core.trace.record(["mm_migrate_folio_moved"]);
    t.is(migrateRange(w, addr, 8 * PAGE_SIZE, 1), 0);
    rec.stop();
    t.is(fp.injected, 1);
    t.is(seen.calls, 1, "one batch copy");
    t.is(rec.records.length, 8, "every pair moved in the end");
    t.is(cpuCopiedPages(w), series === "v5" ? 0 : 1, "V5 re-applies already_copied on every pass; V6 consumed the mark");
    t.true(intact(w, addr, 8 * PAGE_SIZE));
    t.deepEqual(w.checker.checkQuiescent(), []);
  });
}
