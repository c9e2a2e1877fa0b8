import test from "ava";
import { EAGAIN, EBUSY, EINVAL, ENOENT, ERANGE } from "@mmemu/kernel";
import { MR, PAGE_SIZE } from "@mmemu/mm-core";
import { kernelLog, migrateOffloadOf, migrateOffloadRegister, migrateShouldOffload, Module } from "@mmemu/offload-api";
import { anon, migrateRange, rig } from "./rig.js";

test("loading dcbm logs it and selects the offload core; the knobs start at the driver's defaults", (t) => {
  const r = rig({ off: true });
  t.truthy(migrateOffloadOf(r.m), "CONFIG_MIGRATION_COPY_OFFLOAD selected");
  t.is(kernelLog(r.m.core).lines()[0]!.text, "dcbm: DMA Core Batch Migrator initialized");
  t.is(r.dcbm.sysfsRead("offloading"), "0\n");
  t.is(r.dcbm.sysfsRead("nr_dma_chan"), "1\n");
  t.is(r.dcbm.sysfsRead("folios_migrated"), "0\n");
  t.is(r.dcbm.sysfsRead("folios_failures"), "0\n");
  t.is(r.dcbm.sysfsRead("reason_mask"), -ENOENT, "V5 has no reason_mask");
  t.is(r.dcbm.sysfsRead("nope"), -ENOENT);
});

test("offloading: kstrtobool input registers and unregisters the DCBM migrator; unchanged is a no-op", (t) => {
  const r = rig({ off: true });
  const st = migrateOffloadOf(r.m)!;
  t.is(r.dcbm.sysfsWrite("offloading", "1\n"), 2);
  t.is(st.active, r.dcbm.migrator);
  t.is(r.dcbm.migrator.name, "DCBM");
  t.is(r.dcbm.module.refcnt, 1);
  t.true(migrateShouldOffload(r.m, MR.SYSCALL));
  t.is(r.dcbm.sysfsWrite("offloading", "y"), 1, "already on: nothing happens");
  t.is(st.stats.registered, 1);
  t.is(r.dcbm.sysfsRead("offloading"), "1\n");
  t.is(r.dcbm.sysfsWrite("offloading", "maybe"), -EINVAL);
  t.is(r.dcbm.sysfsWrite("offloading", "off"), 3);
  t.is(st.active, null);
  t.is(r.dcbm.module.refcnt, 0);
  t.is(r.dcbm.sysfsRead("offloading"), "0\n");
  t.deepEqual(kernelLog(r.m.core).lines().map((l) => l.text).slice(1), ["migrate_offload: enabled by DCBM", "migrate_offload: disabled by DCBM"]);
});

test("offloading=1 while another migrator is registered fails with -EBUSY and stays off", (t) => {
  const r = rig({ off: true });
  t.is(migrateOffloadRegister(r.m, { name: "OTHER", owner: new Module("other"), offloadCopy: () => 0 }), 0);
  t.is(r.dcbm.sysfsWrite("offloading", "1"), -EBUSY);
  t.false(r.dcbm.offloading);
});

test("nr_dma_chan accepts 1..16 (kstrtouint base 0) and rejects everything else with -EINVAL", (t) => {
  const r = rig({ off: true });
  t.is(r.dcbm.sysfsWrite("nr_dma_chan", "16"), 2);
  t.is(r.dcbm.nrDmaChan, 16);
  t.is(r.dcbm.sysfsWrite("nr_dma_chan", "0x4\n"), 4);
  t.is(r.dcbm.nrDmaChan, 4);
  for (const bad of ["0", "17", "-1", "abc", ""]) t.is(r.dcbm.sysfsWrite("nr_dma_chan", bad), -EINVAL, bad);
  t.is(r.dcbm.sysfsWrite("nr_dma_chan", "4294967296"), -ERANGE);
  t.is(r.dcbm.nrDmaChan, 4, "unchanged by the rejected writes");
  t.is(r.dcbm.setNrDmaChan(2.5), -EINVAL);
  t.is(r.dcbm.setNrDmaChan(1), 0);
});

test("writing anything to a counter resets it", (t) => {
  const r = rig({ channels: 2 });
  const addr = anon(r, 8 * PAGE_SIZE);
  t.is(migrateRange(r, addr, 8 * PAGE_SIZE, 1), 0);
  t.is(r.dcbm.sysfsRead("folios_migrated"), "8\n");
  t.is(r.dcbm.sysfsWrite("folios_migrated", "whatever"), 8);
  t.is(r.dcbm.sysfsRead("folios_migrated"), "0\n");
  r.m.core.faults.arm("dma.map_fail", { times: 1 });
  t.is(migrateRange(r, addr, 8 * PAGE_SIZE, 0), 0);
  t.is(r.dcbm.sysfsRead("folios_failures"), "8\n");
  t.is(r.dcbm.sysfsWrite("folios_failures", "0"), 1);
  t.is(r.dcbm.foliosFailures, 0);
  t.is(r.dcbm.foliosMigrated, 0);
});

test("V6: reason_mask takes names or a number, is registered with, and is pushed to the core while active", (t) => {
  const r = rig({ off: true, series: "v6" });
  t.is(r.dcbm.sysfsRead("reason_mask"), "compaction,memory_failure,memory_hotplug,syscall_or_cpuset,mempolicy_mbind,numa_misplaced,contig_range,longterm_pin,demotion,damon\n");
  t.is(r.dcbm.sysfsWrite("reason_mask", "compaction,demotion"), 19);
  t.is(r.dcbm.sysfsWrite("offloading", "1"), 1);
  t.false(migrateShouldOffload(r.m, MR.SYSCALL));
  t.true(migrateShouldOffload(r.m, MR.DEMOTION));
  t.is(r.dcbm.sysfsWrite("reason_mask", "0x8"), 3);
  t.true(migrateShouldOffload(r.m, MR.SYSCALL));
  t.false(migrateShouldOffload(r.m, MR.DEMOTION));
  t.is(r.dcbm.sysfsRead("reason_mask"), "syscall_or_cpuset\n");
  t.is(r.dcbm.sysfsWrite("reason_mask", "syscall"), -EINVAL);
  t.is(migrateOffloadOf(r.m)!.reasonMask, 1 << MR.SYSCALL, "a rejected write changes nothing");
});

test("rmmod is refused while the migrator holds the module, and works once offloading is off", (t) => {
  const r = rig();
  t.is(r.dcbm.rmmod(), -EAGAIN, "in use");
  t.is(r.dcbm.setOffloading(false), 0);
  t.is(r.dcbm.rmmod(), 0);
  t.is(kernelLog(r.m.core).lines().at(-1)!.text, "dcbm: DMA Core Batch Migrator unloaded");
  t.throws(() => r.dcbm.setOffloading(true), { message: /unloaded/ });
});
