import test from "ava";
import { EBUSY, EINVAL, ENODEV, EOPNOTSUPP } from "@mmemu/kernel";
import { MR, PAGE_SIZE } from "@mmemu/mm-core";
import {
  migrateOffloadInit, migrateOffloadOf, migrateOffloadRegister, migrateOffloadSetSeries, migrateOffloadUnregister,
  migrateOffloadStart, migrateOffloadStop, migrateShouldOffload, migrateOffloadBatchCopy, migrateOffloadSetReasonMask,
  migrateSetNrMaxBatchedMigration, kernelLog, Module, moduleBeginUnload, MIGRATE_OFFLOAD_REASONS_ALLOWED,
  type Migrator,
} from "@mmemu/offload-api";
import { anon, intact, migrateRange, world } from "./world.js";

/** A complete migrator that copies nothing and reports success (enough for registration rules). */
function migrator(name: string, owner: Module | null = new Module(name.toLowerCase())): Migrator {
  return { name, offloadCopy: () => 0, owner };
}

test("without CONFIG_MIGRATION_COPY_OFFLOAD every entry point is the -EOPNOTSUPP stub and nothing batches", (t) => {
  const { m } = world();
  const mig = migrator("A");
  t.is(migrateOffloadRegister(m, mig), -EOPNOTSUPP);
  t.is(migrateOffloadUnregister(m, mig), -EOPNOTSUPP);
  t.is(migrateOffloadSetSeries(m, "v6"), -EOPNOTSUPP);
  t.is(migrateOffloadBatchCopy(m, new Int32Array(0), new Int32Array(0), 0), -EOPNOTSUPP);
  t.false(migrateShouldOffload(m, MR.SYSCALL));
  t.is(m.hooks.offload, null);
  t.is(migrateOffloadOf(m), null);
});

test("register installs the migrator, pins its owner, enables the key and logs who enabled it", (t) => {
  const { m } = world();
  const st = migrateOffloadInit(m);
  t.is(m.hooks.offload, st, "the core is the machine's static-call slot");
  const mig = migrator("DCBM");
  t.false(migrateShouldOffload(m, MR.SYSCALL), "key off before registration");
  t.is(migrateOffloadRegister(m, mig), 0);
  t.is(mig.owner!.refcnt, 1);
  t.true(st.enabled);
  t.is(st.active, mig);
  t.true(migrateShouldOffload(m, MR.SYSCALL));
  t.deepEqual(kernelLog(m.core).lines().map((l) => l.text), ["migrate_offload: enabled by DCBM"]);
  t.is(migrateOffloadUnregister(m, mig), 0);
  t.is(mig.owner!.refcnt, 0, "module reference dropped");
  t.false(st.enabled);
  t.is(st.active, null);
  t.false(migrateShouldOffload(m, MR.SYSCALL));
  t.is(kernelLog(m.core).lines().at(-1)!.text, "migrate_offload: disabled by DCBM");
});

test("-EINVAL: no migrator, no copy callback, (V5) no owner, a name longer than MIGRATOR_NAME_LEN - 1", (t) => {
  const { m } = world();
  migrateOffloadInit(m);
  t.is(migrateOffloadRegister(m, null), -EINVAL);
  t.is(migrateOffloadRegister(m, { name: "X", offloadCopy: null, owner: new Module("x") }), -EINVAL);
  t.is(migrateOffloadRegister(m, migrator("X", null)), -EINVAL, "V5 requires an owner");
  t.is(migrateOffloadRegister(m, migrator("N".repeat(32))), -EINVAL);
  t.is(migrateOffloadRegister(m, migrator("N".repeat(31))), 0, "31 characters plus the NUL fit");
  t.is(migrateOffloadOf(m)!.stats.registerFailures, 4);
});

test("V4 and V6 accept a built-in migrator without an owner module", (t) => {
  for (const series of ["v4", "v6"] as const) {
    const { m } = world();
    migrateOffloadInit(m, { series });
    const mig = migrator("BUILTIN", null);
    t.is(migrateOffloadRegister(m, mig), 0, series);
    t.is(migrateOffloadUnregister(m, mig), 0, series);
  }
});

test("-EBUSY: only one migrator at a time; the first stays active and the failure is logged", (t) => {
  const { m } = world();
  migrateOffloadInit(m);
  const a = migrator("A");
  const b = migrator("B");
  t.is(migrateOffloadRegister(m, a), 0);
  t.is(migrateOffloadRegister(m, b), -EBUSY);
  t.is(migrateOffloadRegister(m, a), -EBUSY, "registering the active one again is also busy");
  t.is(migrateOffloadOf(m)!.active, a);
  t.is(b.owner!.refcnt, 0, "the refused migrator's module was never pinned");
  t.is(a.owner!.refcnt, 1);
  t.truthy(kernelLog(m.core).grep("migrate_offload: B: failed to register (-16)").length);
  t.is(migrateOffloadUnregister(m, a), 0);
  t.is(migrateOffloadRegister(m, b), 0, "free again after unregister");
});

test("-ENODEV when the owner module is being unloaded and cannot be pinned", (t) => {
  const { m } = world();
  migrateOffloadInit(m);
  const mig = migrator("GOING");
  t.is(moduleBeginUnload(mig.owner!), 0);
  t.is(migrateOffloadRegister(m, mig), -ENODEV);
  t.is(migrateOffloadOf(m)!.active, null);
  t.false(migrateShouldOffload(m, MR.SYSCALL));
});

test("a registered migrator's module cannot begin unloading: its reference is held", (t) => {
  const { m } = world();
  migrateOffloadInit(m);
  const mig = migrator("PINNED");
  t.is(migrateOffloadRegister(m, mig), 0);
  t.true(moduleBeginUnload(mig.owner!) < 0);
  t.is(migrateOffloadUnregister(m, mig), 0);
  t.is(moduleBeginUnload(mig.owner!), 0);
});

test("-EINVAL: unregistering a migrator that is not the active one (none, or another)", (t) => {
  const { m } = world();
  migrateOffloadInit(m);
  const a = migrator("A");
  const b = migrator("B");
  t.is(migrateOffloadUnregister(m, a), -EINVAL, "nothing registered");
  t.is(migrateOffloadRegister(m, a), 0);
  t.is(migrateOffloadUnregister(m, b), -EINVAL, "another migrator");
  t.is(migrateOffloadUnregister(m, null), -EINVAL);
  t.is(migrateOffloadOf(m)!.active, a, "the active one is untouched");
  t.is(migrateOffloadUnregister(m, a), 0);
  t.is(migrateOffloadUnregister(m, a), -EINVAL, "twice");
});

test("the series can only change while no migrator is registered; it sets the move-phase semantics", (t) => {
  const { m } = world();
  migrateOffloadInit(m);
  t.is(m.settings.offloadSemantics, "v5");
  t.is(migrateOffloadSetSeries(m, "v6"), 0);
  t.is(m.settings.offloadSemantics, "v6");
  const mig = migrator("A");
  t.is(migrateOffloadRegister(m, mig), 0);
  t.is(migrateOffloadSetSeries(m, "v5"), -EBUSY);
  t.is(migrateOffloadSetSeries(m, "v7" as never), -EINVAL);
  t.is(migrateOffloadUnregister(m, mig), 0);
  t.is(migrateOffloadSetSeries(m, "v4"), 0);
  t.is(m.settings.offloadSemantics, "v5", "V4 copies all-or-nothing like V5");
});

test("V5 eligibility: compaction, syscall, demotion and NUMA balancing batch; every other reason does not", (t) => {
  const { m } = world();
  migrateOffloadInit(m);
  t.is(migrateOffloadRegister(m, migrator("A")), 0);
  const yes = [MR.COMPACTION, MR.SYSCALL, MR.DEMOTION, MR.NUMA_MISPLACED];
  for (let r = 0; r < 10; r++) t.is(migrateShouldOffload(m, r), yes.includes(r as never), `reason ${r}`);
});

test("V4: should_batch decides; a migrator without one batches nothing (migrate_should_batch_default)", (t) => {
  const { m } = world();
  migrateOffloadInit(m, { series: "v4" });
  const plain = migrator("PLAIN", null);
  t.is(migrateOffloadStart(m, plain), 0);
  for (let r = 0; r < 10; r++) t.false(migrateShouldOffload(m, r));
  t.is(migrateOffloadStop(m, plain), 0);
  const picky: Migrator = { ...migrator("PICKY", null), shouldBatch: (r) => r === MR.DEMOTION };
  t.is(migrateOffloadStart(m, picky), 0);
  t.true(migrateShouldOffload(m, MR.DEMOTION));
  t.false(migrateShouldOffload(m, MR.SYSCALL));
  t.is(migrateOffloadStop(m, picky), 0);
  t.false(migrateShouldOffload(m, MR.DEMOTION), "back to the default after stop");
});

test("V6: the reason mask given at registration decides, can be changed by the active migrator, is cleared on unregister", (t) => {
  const { m } = world();
  migrateOffloadInit(m, { series: "v6" });
  const a = migrator("A");
  t.is(migrateOffloadRegister(m, a, 1 << MR.COMPACTION), 0);
  t.true(migrateShouldOffload(m, MR.COMPACTION));
  t.false(migrateShouldOffload(m, MR.SYSCALL));
  t.is(kernelLog(m.core).lines().at(-1)!.text, "migrate_offload: enabled by A (reason_mask=0x1)");
  t.is(migrateOffloadSetReasonMask(m, migrator("B"), 1 << MR.SYSCALL), -EINVAL, "only the active migrator");
  t.is(migrateOffloadSetReasonMask(m, a, (1 << MR.SYSCALL) | (1 << 20)), 0);
  t.is(migrateOffloadOf(m)!.reasonMask, 1 << MR.SYSCALL, "clamped to MIGRATE_OFFLOAD_REASONS_ALLOWED");
  t.true(migrateShouldOffload(m, MR.SYSCALL));
  t.is(migrateOffloadUnregister(m, a), 0);
  t.is(migrateOffloadOf(m)!.reasonMask, 0);
  t.is(migrateOffloadRegister(m, a), 0);
  t.is(migrateOffloadOf(m)!.reasonMask, MIGRATE_OFFLOAD_REASONS_ALLOWED, "default: every reason");
});

test("V5 has no reason mask to set", (t) => {
  const { m } = world();
  migrateOffloadInit(m);
  const a = migrator("A");
  t.is(migrateOffloadRegister(m, a), 0);
  t.is(migrateOffloadSetReasonMask(m, a, 1), -EOPNOTSUPP);
});

test("end to end: an ineligible reason (mbind) never reaches the migrator; an eligible one does", (t) => {
  const w = world();
  migrateOffloadInit(w.m);
  let calls = 0;
  const mig: Migrator = { name: "COUNT", owner: new Module("count"), offloadCopy: () => (calls++, -EOPNOTSUPP) };
  t.is(migrateOffloadRegister(w.m, mig), 0);
  const addr = anon(w, 8 * PAGE_SIZE);
  t.is(migrateRange(w, addr, 8 * PAGE_SIZE, 1, undefined, MR.MEMPOLICY_MBIND), 0);
  t.is(calls, 0);
  t.is(migrateRange(w, addr, 8 * PAGE_SIZE, 0, undefined, MR.SYSCALL), 0);
  t.is(calls, 1, "one batch, one call; -EOPNOTSUPP declines it and the CPU copies");
  t.true(intact(w, addr, 8 * PAGE_SIZE));
  t.deepEqual(w.checker.checkQuiescent(), []);
});

test("NR_MAX_BATCHED_MIGRATION is a runtime knob bounded by HPAGE_PUD_NR", (t) => {
  const { m } = world();
  t.is(migrateSetNrMaxBatchedMigration(m, 262_144), 0);
  t.is(m.settings.nrMaxBatchedMigration, 262_144);
  t.is(migrateSetNrMaxBatchedMigration(m, 0), -EINVAL);
  t.is(migrateSetNrMaxBatchedMigration(m, 262_145), -EINVAL);
  t.is(migrateSetNrMaxBatchedMigration(m, 1.5), -EINVAL);
  t.is(m.settings.nrMaxBatchedMigration, 262_144);
});
