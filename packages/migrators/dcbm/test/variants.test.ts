import test from "ava";
import { ETIMEDOUT } from "@mmemu/kernel";
import { Machine, MR, PAGE_SIZE } from "@mmemu/mm-core";
import { SoftDmaDevice } from "@mmemu/dmaengine";
import { kernelLog, migrateShouldOffload, type OffloadSeries } from "@mmemu/offload-api";
import { Dcbm } from "@mmemu/dcbm";
import { anon, intact, migrateRange, onNode, rig, type Rig } from "./rig.js";

/**
 * The AMDESE build of dcbm on a machine whose only DMA provider is the dmaengine package's public
 * soft device (public like SDXI's channels, unlike PTDMA's private ones). dcbm loads first, so the
 * device registered after its dmaengine_get() is referenced at registration, as in the kernel.
 */
function publicRig(series: OffloadSeries): Rig {
  const r = rig({ engines: 0, off: true, series, dcbm: { variant: "amdese-find-channel" } });
  r.dma.dmaAsyncDeviceRegister(new SoftDmaDevice(r.dma, { name: "soft0", private: false, channels: 1 }));
  if (r.dcbm.setOffloading(true) !== 0) throw new Error("register");
  return r;
}

test("AMDESE variant: one public channel from dma_find_channel(), the batch in chunks of 512, each chunk marked", (t) => {
  const r = publicRig("v6");
  r.m.settings.nrMaxBatchedMigration = 2048;
  const addr = anon(r, 1200 * PAGE_SIZE);
  const rec = r.m.core.trace.record(["dmae_issue", "dmae_request", "migrate_offload_copy_end"]);
  t.is(migrateRange(r, addr, 1200 * PAGE_SIZE, 1), 0);
  rec.stop();
  t.is(rec.records.filter((x) => x.name === "dmae_issue").length, 3, "512 + 512 + 176");
  t.is(rec.records.filter((x) => x.name === "dmae_request").length, 0, "no private requests");
  t.is(rec.records.find((x) => x.name === "migrate_offload_copy_end")!.fields["marked"], 1200);
  t.is(r.dcbm.foliosMigrated, 1200);
  t.true(intact(r, addr, 1200 * PAGE_SIZE));
  t.true(onNode(r, addr, 1200 * PAGE_SIZE, 1));
  t.is(r.dma.devices[0]!.channels[0]!.clientCount, 1, "the dmaengine_get() reference, kept across batches");
  t.deepEqual(r.checker.checkQuiescent(), []);
});

test("AMDESE variant on private PTDMA channels finds none: -ENODEV, CPU copy (the TODO in that tree)", (t) => {
  const r = rig({ off: true });
  const dcbm = new Dcbm(r.m, r.dma, { variant: "amdese-find-channel" });
  t.is(dcbm.setOffloading(true), 0);
  const addr = anon(r, 8 * PAGE_SIZE);
  t.is(migrateRange(r, addr, 8 * PAGE_SIZE, 1), 0);
  t.is(dcbm.stats.noChannel, 1);
  t.true(intact(r, addr, 8 * PAGE_SIZE));
});

test("the posted dcbm also works on public channels: dma_request_chan_by_mask takes a free public channel privately", (t) => {
  const base = rig({ engines: 0, channels: 4 });
  base.dma.dmaAsyncDeviceRegister(new SoftDmaDevice(base.dma, { name: "soft0", private: false, channels: 1 }));
  base.dma.dmaAsyncDeviceRegister(new SoftDmaDevice(base.dma, { name: "soft1", private: false, channels: 1 }));
  const addr = anon(base, 8 * PAGE_SIZE);
  const rec = base.m.core.trace.record(["dcbm_batch_begin"]);
  t.is(migrateRange(base, addr, 8 * PAGE_SIZE, 1), 0);
  rec.stop();
  t.is(rec.records[0]!.fields["nr_chan"], 2);
  t.true(intact(base, addr, 8 * PAGE_SIZE));
});

test("a lost completion interrupt stalls the channel (dcbm never polls tx_status) until the 10 s timeout", (t) => {
  const r = rig({ channels: 1, engines: 1 });
  const addr = anon(r, 4 * PAGE_SIZE);
  r.m.core.faults.arm("ptdma.lost_irq", { times: 1 });
  const rcs: number[] = [];
  const off = r.m.core.trace.on("migrate_offload_copy_end", (x) => rcs.push(x.fields["rc"] as number));
  t.is(migrateRange(r, addr, 4 * PAGE_SIZE, 1), 0);
  off();
  t.deepEqual(rcs, [-ETIMEDOUT]);
  t.true(intact(r, addr, 4 * PAGE_SIZE));
  t.deepEqual(r.checker.checkQuiescent(), []);
});

test("offloading=0 written by another thread during a DMA batch: the batch finishes, then the module is released", (t) => {
  const r = rig({ channels: 2 });
  const addr = anon(r, 64 * PAGE_SIZE);
  let writtenAt = -1;
  let batchEnd = -1;
  const off = r.m.core.trace.on("dcbm_batch_begin", () => {
    r.m.sim.schedule(1000, () => {
      writtenAt = r.m.sim.now;
      t.is(r.dcbm.sysfsWrite("offloading", "0"), 1);
      t.false(migrateShouldOffload(r.m, MR.SYSCALL), "no new batch will use dcbm");
      t.is(r.dcbm.module.refcnt, 1, "still pinned by the copy in flight");
    });
  });
  const off2 = r.m.core.trace.on("dcbm_batch_end", () => { batchEnd = r.m.sim.now; });
  t.is(migrateRange(r, addr, 64 * PAGE_SIZE, 1), 0);
  off();
  off2();
  r.m.sim.run();
  t.true(writtenAt > 0 && writtenAt < batchEnd);
  t.is(r.dcbm.module.refcnt, 0);
  t.is(r.dcbm.foliosMigrated, 64);
  t.true(intact(r, addr, 64 * PAGE_SIZE));
  t.is(kernelLog(r.m.core).lines().at(-1)!.text, "migrate_offload: disabled by DCBM");
  t.is(r.dcbm.rmmod(), 0);
});

test("two machines each load their own dcbm without sharing state", (t) => {
  const a = rig({ channels: 2 });
  const b = rig({ channels: 3 });
  t.not(a.dcbm.module, b.dcbm.module);
  const addr = anon(a, 4 * PAGE_SIZE);
  t.is(migrateRange(a, addr, 4 * PAGE_SIZE, 1), 0);
  t.is(a.dcbm.foliosMigrated, 4);
  t.is(b.dcbm.foliosMigrated, 0);
  t.throws(() => new Dcbm(new Machine({ nodes: [{ id: 0, pages: 64 }] }), a.dma), { message: /another machine/ });
});
