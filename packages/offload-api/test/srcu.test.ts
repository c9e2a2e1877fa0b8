import test from "ava";
import { KernelCore } from "@mmemu/kernel";
import { PAGE_SIZE, MR } from "@mmemu/mm-core";
import {
  kernelLog, migrateOffloadInit, migrateOffloadRegister, migrateOffloadUnregister, migrateShouldOffload,
  migrateOffloadBatchCopy, Module, SrcuStruct, type Migrator,
} from "@mmemu/offload-api";
import { anon, intact, migrateRange, world } from "./world.js";

test("unregister during a copy in flight: the key goes off at once, the module is released only after the copy", (t) => {
  const w = world();
  const st = migrateOffloadInit(w.m);
  const owner = new Module("slow");
  const events: string[] = [];
  let copyEnd = -1;
  let unregisterAt = -1;
  let unregisterDone = -1;
  let refsAtDone = -1;
  const mig: Migrator = {
    name: "SLOW",
    owner,
    offloadCopy(dst, src, n) {
      // Another thread writes offloading=0 half-way through this 1 ms copy.
      w.m.sim.schedule(500_000, () => {
        unregisterAt = w.m.sim.now;
        t.is(migrateOffloadUnregister(w.m, mig, () => {
          unregisterDone = w.m.sim.now;
          refsAtDone = owner.refcnt;
          events.push("unregister returned");
        }), 0);
        events.push("key off");
        t.false(migrateShouldOffload(w.m, MR.SYSCALL), "new batches stop batching at once");
        t.is(owner.refcnt, 1, "but the module stays pinned while the copy runs");
      });
      w.m.sim.advance(1_000_000);
      for (let i = 0; i < n; i++) w.m.mem.copyPages(dst[i]!, src[i]!, 1);
      copyEnd = w.m.sim.now;
      events.push("copy done");
      return 0;
    },
  };
  t.is(migrateOffloadRegister(w.m, mig), 0);
  const addr = anon(w, 8 * PAGE_SIZE);
  t.is(migrateRange(w, addr, 8 * PAGE_SIZE, 1), 0);
  w.m.sim.run();
  t.deepEqual(events, ["key off", "copy done", "unregister returned"]);
  t.true(unregisterAt < copyEnd);
  t.true(unregisterDone >= copyEnd, "synchronize_srcu waited for the reader");
  t.is(refsAtDone, 0, "module_put before returning");
  t.is(st.srcu.readers, 0);
  t.true(intact(w, addr, 8 * PAGE_SIZE), "the in-flight copy finished with the migrator it started with");
  t.is(kernelLog(w.m.core).lines().at(-1)!.text, "migrate_offload: disabled by SLOW");
  t.deepEqual(w.checker.checkQuiescent(), []);
});

test("after unregister the static call is back on the default CPU copier (folios_mc_copy)", (t) => {
  const w = world();
  const st = migrateOffloadInit(w.m);
  const mig: Migrator = { name: "GONE", owner: new Module("gone"), offloadCopy: () => { throw new Error("must not be called"); } };
  t.is(migrateOffloadRegister(w.m, mig), 0);
  t.is(migrateOffloadUnregister(w.m, mig), 0);
  const src = w.m.folioAlloc(0, 0, true);
  const dst = w.m.folioAlloc(1, 0, true);
  w.m.mem.fillPages(src, 1, 0x1234);
  const rec = w.m.core.trace.record(["migrate_offload_copy_end"]);
  // A batch that decided to batch before the key went off still calls the static call: it copies on the CPU.
  t.is(migrateOffloadBatchCopy(w.m, Int32Array.of(dst), Int32Array.of(src), 1), 0);
  rec.stop();
  t.is(w.m.mem.digest(dst), w.m.mem.digest(src));
  t.is(rec.records[0]!.fields["migrator"], "folios_mc_copy");
  t.is(st.stats.batchCalls, 1);
});

test("a grace period waits only for readers that started before it", (t) => {
  const core = new KernelCore();
  const srcu = new SrcuStruct(core.sim, "test");
  const r1 = srcu.readLock();
  let gpAt = -1;
  srcu.callSrcu(() => { gpAt = core.sim.now; });
  const r2 = srcu.readLock(); // a later reader must not extend the grace period
  core.sim.schedule(100, () => srcu.readUnlock(r1));
  core.sim.schedule(500, () => srcu.readUnlock(r2));
  core.sim.run();
  t.is(gpAt, 100);
  t.is(srcu.completedGps, 1);
});

test("synchronize_srcu from a task sleeps until earlier readers leave; from an event with readers it refuses to sleep", (t) => {
  const core = new KernelCore();
  const srcu = new SrcuStruct(core.sim, "test");
  const r = srcu.readLock();
  core.sim.schedule(250, () => srcu.readUnlock(r));
  srcu.synchronize();
  t.is(core.sim.now, 250);
  const r2 = srcu.readLock();
  core.sim.schedule(10, () => t.throws(() => srcu.synchronize(), { message: /use callSrcu/ }));
  core.sim.schedule(20, () => srcu.readUnlock(r2));
  core.sim.run();
  t.throws(() => srcu.readUnlock(r2), { message: /not a live reader/ });
});
