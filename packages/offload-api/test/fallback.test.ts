import test from "ava";
import { EIO, ENODEV } from "@mmemu/kernel";
import { FOLIO_CONTENT_COPIED, PAGE_SIZE } from "@mmemu/mm-core";
import { migrateOffloadInit, migrateOffloadRegister, Module, type Migrator, type OffloadSeries } from "@mmemu/offload-api";
import { migrateList } from "@mmemu/test-support";
import { anon, intact, isolate, migrateRange, world } from "./world.js";

/** A copier that copies (and marks) the pairs `which` selects and returns `rc`. */
function copier(w: ReturnType<typeof world>, which: (i: number) => boolean, rc: number): Migrator {
  return {
    name: "SOME",
    owner: new Module("some"),
    offloadCopy(dst, src, n) {
      for (let i = 0; i < n; i++) {
        if (!which(i)) continue;
        w.m.mem.copyPages(dst[i]!, src[i]!, 1);
        w.m.folios.migrateInfo[dst[i]!]! |= FOLIO_CONTENT_COPIED;
      }
      return rc;
    },
  };
}

function setup(series: OffloadSeries, which: (i: number) => boolean, rc: number, strict = false) {
  const w = world();
  const st = migrateOffloadInit(w.m, { series });
  st.strict = strict;
  if (migrateOffloadRegister(w.m, copier(w, which, rc)) !== 0) throw new Error("register failed");
  return { w, st };
}

test("V5: a failed batch is counted as a fallback under the copier's errno; success counts nothing", (t) => {
  const { w, st } = setup("v5", () => true, -ENODEV);
  const addr = anon(w, 8 * PAGE_SIZE);
  t.is(migrateRange(w, addr, 8 * PAGE_SIZE, 1), 0);
  t.deepEqual(st.stats.fallbackFolios, { ENODEV: 8 });
  t.is(st.stats.fallbackBatches, 1);
  t.is(st.fallbackSummary(), "ENODEV 8");
  t.deepEqual(st.strictFailures, [], "not strict: counted, not failed");
  t.true(intact(w, addr, 8 * PAGE_SIZE));
});

test("V6: destinations left unmarked are counted by cause (unmarked after 0, the errno after a failure)", (t) => {
  const { w, st } = setup("v6", (i) => i % 2 === 0, 0);
  const addr = anon(w, 8 * PAGE_SIZE);
  t.is(migrateRange(w, addr, 8 * PAGE_SIZE, 1), 0);
  t.deepEqual(st.stats.fallbackFolios, { unmarked: 4 });
  const b = setup("v6", (i) => i < 2, -EIO);
  const addr2 = anon(b.w, 8 * PAGE_SIZE);
  t.is(migrateRange(b.w, addr2, 8 * PAGE_SIZE, 1), 0);
  t.deepEqual(b.st.stats.fallbackFolios, { EIO: 6 });
});

test("strict offload: each batch the copier left to the CPU is a failure line naming the migrator and cause", (t) => {
  const { w, st } = setup("v5", () => true, -ENODEV, true);
  const addr = anon(w, 4 * PAGE_SIZE);
  t.is(migrateRange(w, addr, 4 * PAGE_SIZE, 1), 0, "the migration itself completes (the machine stays consistent)");
  t.is(st.strictFailureCount, 1);
  t.deepEqual(st.strictFailures, ["strict offload: offload call 1 (migrator SOME) left 4 folio(s) to the CPU copy (ENODEV)"]);
  t.true(intact(w, addr, 4 * PAGE_SIZE));
  t.deepEqual(w.checker.checkQuiescent(), []);
});

test("strict offload passes a batch the copier fully copied", (t) => {
  const { w, st } = setup("v6", () => true, 0, true);
  const addr = anon(w, 4 * PAGE_SIZE);
  t.is(migrateRange(w, addr, 4 * PAGE_SIZE, 1), 0);
  t.is(st.strictFailureCount, 0);
  t.deepEqual(st.stats.fallbackFolios, {});
});

test("V6: a folio the refcount pre-check keeps off the batch is counted under refcount, which strict mode accepts", (t) => {
  const { w, st } = setup("v6", () => true, 0, true);
  const addr = anon(w, 4 * PAGE_SIZE);
  const list = isolate(w, addr, 4 * PAGE_SIZE);
  const pinned = list.get(1);
  w.m.folios.refcount[pinned]!++; // an extra reference, as a transient GUP pin would hold
  migrateList(w, list, 1);
  w.m.folios.refcount[pinned]!--;
  // Counted per batch that left it to the CPU: the 4-folio batch, then MIGRATE_SYNC's one-by-one retry.
  t.deepEqual(st.stats.fallbackFolios, { refcount: 2 });
  t.is(st.strictFailureCount, 0, "a by-design exclusion is not a strict failure");
});
