import test from "ava";
import { MIGRATE_ASYNC, MIGRATE_SYNC, PAGE_SIZE, type MigrateMode } from "@mmemu/mm-core";
import { migrateOffloadInit, migrateOffloadRegister, Module, type Migrator } from "@mmemu/offload-api";
import { anon, intact, migrateRange, world } from "./world.js";

/**
 * Invariant 8: no copy may start before try_to_unmap_flush() has run for the batch. A second thread
 * of the process on another CPU caches translations of every page, so Phase A's PTE clears are
 * batched (TTU_BATCH_FLUSH) and a copy before the flush would race with its writes.
 */
for (const mode of [MIGRATE_ASYNC, MIGRATE_SYNC] as MigrateMode[]) {
  test(`batch copy runs after the single TLB flush of the batch and before any move (${mode === MIGRATE_ASYNC ? "ASYNC" : "SYNC's async pass"})`, (t) => {
    const w = world();
    const n = 32;
    const addr = anon(w, n * PAGE_SIZE);
    const other = w.m.createTask(w.mm, 1);
    for (let i = 0; i < n; i++) w.m.memory.userAccessFrame(other, addr + i * PAGE_SIZE, true);

    migrateOffloadInit(w.m);
    const atCopy = { calls: 0, flushPending: true, caching: -1, mapped: -1 };
    const mig: Migrator = {
      name: "PROBE",
      owner: new Module("probe"),
      offloadCopy(dst, src, cnt) {
        atCopy.calls++;
        atCopy.flushPending = w.m.current.tlbUbc.flushRequired;
        atCopy.caching = 0;
        atCopy.mapped = 0;
        for (let i = 0; i < cnt; i++) {
          atCopy.caching += w.m.tlbs.cpusCaching(src[i]!, 1).length;
          atCopy.mapped += w.m.folios.mapcount[src[i]!]!;
          w.m.mem.copyPages(dst[i]!, src[i]!, 1);
        }
        return 0;
      },
    };
    t.is(migrateOffloadRegister(w.m, mig), 0);

    // While Phase A unmaps, the other CPU still caches the translations: the flush is really deferred.
    let cachedDuringUnmap = 0;
    const off = w.m.core.trace.on("set_migration_pte", (r) => {
      cachedDuringUnmap += w.m.tlbs.cpusCaching(r.fields["pfn"] as number, 1).length;
    });
    const rec = w.m.core.trace.record(["tlb_flush", "migrate_offload_copy_start", "mm_migrate_folio_moved"]);
    t.is(migrateRange(w, addr, n * PAGE_SIZE, 1, mode), 0);
    rec.stop();
    off();

    t.true(cachedDuringUnmap > 0, "the other CPU held stale-able translations while PTEs were cleared");
    t.is(atCopy.calls, 1);
    t.false(atCopy.flushPending, "no batched flush pending at copy time");
    t.is(atCopy.caching, 0, "no CPU caches a translation to any source");
    t.is(atCopy.mapped, 0, "every source is unmapped");
    const names = rec.records.map((r) => r.name);
    const flush = names.indexOf("tlb_flush");
    const copy = names.indexOf("migrate_offload_copy_start");
    const sends = rec.records.filter((r) => r.name === "tlb_flush" && r.fields["reason"] === "TLB_REMOTE_SEND_IPI");
    t.is(sends.length, 1, "one flush for the whole batch");
    t.is(rec.records[flush]!.fields["reason"], "TLB_REMOTE_SEND_IPI");
    t.true(flush < copy, "flush before copy");
    t.true(names.indexOf("mm_migrate_folio_moved") > copy, "every move after the copy");
    t.true(intact(w, addr, n * PAGE_SIZE));
    t.deepEqual(w.checker.checkQuiescent(), []);
  });
}
