import test from "ava";
import { PAGE_SIZE } from "@mmemu/mm-core";
import {
  DMA_COMPLETE, DMA_CTRL_ACK, DMA_ERROR, DMA_IN_PROGRESS, DMA_PREP_INTERRUPT, DMA_TO_DEVICE, DMA_FROM_DEVICE,
  DMA_TRANS_ABORTED, DMA_TRANS_NOERROR, dmaAsyncIssuePending, dmaMapPage, dmaUnmapPage, dmaengineGetDmaDevice,
  dmaenginePrepDmaMemcpy, dmaengineSubmit, dmaengineTerminateSync, dmaengineTxStatus, type DmaChan,
} from "@mmemu/dmaengine";
import { requestChan, rig, type Rig } from "./helpers.js";

const NODE1 = 4096; // first pfn of node 1 in the rig

interface Sub {
  cookie: number;
  fired: boolean;
  result: number;
  at: number;
}

/** Map one page each side, prep+submit one memcpy with a recording callback. */
function submit(r: Rig, chan: DmaChan, srcPfn: number, dstPfn: number, flags = DMA_CTRL_ACK | DMA_PREP_INTERRUPT, len = PAGE_SIZE): Sub {
  const dev = dmaengineGetDmaDevice(chan);
  const s = dmaMapPage(dev, srcPfn, 0, len, DMA_TO_DEVICE);
  const d = dmaMapPage(dev, dstPfn, 0, len, DMA_FROM_DEVICE);
  const tx = dmaenginePrepDmaMemcpy(chan, d, s, len, flags)!;
  const sub: Sub = { cookie: 0, fired: false, result: -1, at: -1 };
  tx.callbackResult = (p: Sub, res) => { p.fired = true; p.result = res.result; p.at = r.core.sim.now; };
  tx.callbackParam = sub;
  sub.cookie = dmaengineSubmit(tx);
  return sub;
}

function fill(r: Rig, src: number, dst: number, n = 1) {
  r.mem.fillPages(src, n, 0xabc0001);
  r.mem.fillPages(dst, n, 0x0ddba11);
}

for (const visible of [false, true]) {
  test(`errorsVisibleToClient=${visible}: a descriptor error ${visible ? "reaches" : "is hidden from"} the client`, (t) => {
    const r = rig({ switches: { errorsVisibleToClient: visible } });
    const chan = requestChan(r);
    fill(r, 10, NODE1 + 10);
    const stale = r.mem.digest(NODE1 + 10);
    r.core.faults.arm("ptdma.desc_error", { times: 1 });
    const s = submit(r, chan, 10, NODE1 + 10);
    dmaAsyncIssuePending(chan);
    r.core.sim.run();
    t.true(s.fired);
    t.is(r.mem.digest(NODE1 + 10), stale, "nothing was written");
    t.regex(r.pts[0]!.pt.log[0]!, /PTDMA error: ILLEGAL_/);
    if (visible) {
      t.is(s.result, DMA_TRANS_ABORTED);
      t.is(dmaengineTxStatus(chan, s.cookie), DMA_ERROR);
    } else {
      t.is(s.result, DMA_TRANS_NOERROR, "the driver passes no result");
      t.is(dmaengineTxStatus(chan, s.cookie), DMA_COMPLETE);
    }
    // The flush (HEAD := TAIL) and the next RUN restart the queue.
    const s2 = submit(r, chan, 10, NODE1 + 11);
    dmaAsyncIssuePending(chan);
    r.core.sim.run();
    t.true(s2.fired);
    t.is(r.mem.digest(NODE1 + 11), r.mem.digest(10));
  });
}

test("intEnPerDevice=true (driver): the last prep without DMA_PREP_INTERRUPT stalls the channel until polled", (t) => {
  const r = rig();
  const chan = requestChan(r);
  fill(r, 10, NODE1 + 10, 3);
  const subs = [
    submit(r, chan, 10, NODE1 + 10),
    submit(r, chan, 11, NODE1 + 11),
    submit(r, chan, 12, NODE1 + 12, DMA_CTRL_ACK), // no DMA_PREP_INTERRUPT: int_en := false for the device
  ];
  dmaAsyncIssuePending(chan);
  r.core.sim.run();
  t.deepEqual(subs.map((s) => s.fired), [false, false, false], "the first descriptor ran with INT_ENABLE=0: no interrupt");
  t.is(r.pts[0]!.hw.stats.descriptors, 1, "yet the hardware finished it (INTERRUPT_STATUS latched)");
  let polls = 0;
  while (dmaengineTxStatus(chan, subs[2]!.cookie) !== DMA_COMPLETE) {
    polls++;
    r.core.sim.run();
  }
  t.is(polls, 2, "each tx_status poll completes one descriptor and starts the next with interrupts off");
  t.true(subs.every((s) => s.fired));
  t.is(r.engine.context, "task");
});

test("intEnPerDevice=false (corrected): interrupts stay on while any issued descriptor wants one", (t) => {
  const r = rig({ switches: { intEnPerDevice: false } });
  const chan = requestChan(r);
  fill(r, 10, NODE1 + 10, 3);
  const subs = [submit(r, chan, 10, NODE1 + 10), submit(r, chan, 11, NODE1 + 11), submit(r, chan, 12, NODE1 + 12, DMA_CTRL_ACK)];
  dmaAsyncIssuePending(chan);
  r.core.sim.run();
  t.true(subs.every((s) => s.fired));
  for (let i = 0; i < 3; i++) t.is(r.mem.digest(NODE1 + 10 + i), r.mem.digest(10 + i));
});

test("callbackContext: hardirq (driver) runs callbacks in the IRQ handler, tasklet defers them", (t) => {
  const at: Record<string, number> = {};
  for (const ctx of ["hardirq", "tasklet"] as const) {
    const r = rig({ switches: { callbackContext: ctx } });
    const chan = requestChan(r);
    const rec = r.core.trace.record(["dmae_callback"]);
    const s = submit(r, chan, 10, NODE1 + 10);
    dmaAsyncIssuePending(chan);
    r.core.sim.run();
    t.true(s.fired);
    t.is(rec.records[0]!.fields.context, ctx);
    at[ctx] = s.at;
  }
  t.is(at.tasklet! - at.hardirq!, 1000, "one tasklet latency later");
});

for (const stops of [false, true]) {
  test(`terminateStopsHardware=${stops}: terminate_sync during a 2 MiB copy ${stops ? "aborts it" : "leaves the engine writing after unmap"}`, (t) => {
    const r = rig({ switches: { terminateStopsHardware: stops } });
    const chan = requestChan(r);
    const n = 512;
    fill(r, 0, NODE1, n);
    const dev = dmaengineGetDmaDevice(chan);
    const s = dmaMapPage(dev, 0, 0, n * PAGE_SIZE, DMA_TO_DEVICE);
    const d = dmaMapPage(dev, NODE1, 0, n * PAGE_SIZE, DMA_FROM_DEVICE);
    const tx = dmaenginePrepDmaMemcpy(chan, d, s, n * PAGE_SIZE, DMA_CTRL_ACK | DMA_PREP_INTERRUPT)!;
    let fired = false;
    tx.callback = () => { fired = true; };
    dmaengineSubmit(tx);
    dmaAsyncIssuePending(chan);
    r.core.sim.run(r.core.sim.now + 50_000); // about a third of the copy
    t.is(dmaengineTerminateSync(chan), 0);
    dmaUnmapPage(dev, d, n * PAGE_SIZE, DMA_FROM_DEVICE);
    dmaUnmapPage(dev, s, n * PAGE_SIZE, DMA_TO_DEVICE);
    r.core.sim.run();
    t.false(fired, "no callback for terminated work either way");
    const copied = Array.from({ length: n }, (_, i) => r.mem.digest(NODE1 + i) === r.mem.digest(i)).filter(Boolean).length;
    const pt = r.pts[0]!;
    if (stops) {
      t.true(copied > 0 && copied < n, `the aborted copy wrote the part that had moved (${copied} pages)`);
      t.is(r.engine.map.iommu.stats.unmappedWrites, 0);
      t.is(pt.pt.stats.staleCompletions, 0);
    } else {
      t.is(copied, n, "the engine finished the copy after terminate_sync returned");
      t.is(r.engine.map.iommu.stats.unmappedWrites, 1, "into memory that was already unmapped");
      t.is(pt.pt.stats.staleCompletions, 1, "and its interrupt found a freed descriptor in tdata.cmd");
    }
    // The channel works afterwards.
    const after = submit(r, chan, 600, NODE1 + 600);
    dmaAsyncIssuePending(chan);
    r.core.sim.run();
    t.true(after.fired);
  });
}

test("terminateStopsHardware=false: work issued right after terminate completes early, on the old descriptor's interrupt", (t) => {
  const r = rig();
  const chan = requestChan(r);
  fill(r, 0, NODE1, 512);
  const dev = dmaengineGetDmaDevice(chan);
  const s = dmaMapPage(dev, 0, 0, 512 * PAGE_SIZE, DMA_TO_DEVICE);
  const d = dmaMapPage(dev, NODE1, 0, 512 * PAGE_SIZE, DMA_FROM_DEVICE);
  dmaengineSubmit(dmaenginePrepDmaMemcpy(chan, d, s, 512 * PAGE_SIZE, DMA_PREP_INTERRUPT)!);
  dmaAsyncIssuePending(chan);
  r.core.sim.run(r.core.sim.now + 20_000);
  dmaengineTerminateSync(chan);
  r.mem.fillPages(700, 16, 0x77);
  const late = submit(r, chan, 700, NODE1 + 700, DMA_CTRL_ACK | DMA_PREP_INTERRUPT, 16 * PAGE_SIZE); // 64 KiB: longer than the IRQ path
  let digestAtCallback = 0;
  const probe = r.core.trace.on("dmae_callback", () => { digestAtCallback = r.mem.digest(NODE1 + 700); });
  dmaAsyncIssuePending(chan);
  r.core.sim.run();
  probe();
  t.true(late.fired);
  t.not(digestAtCallback, r.mem.digest(700), "the callback ran before its data landed");
  t.is(r.mem.digest(NODE1 + 700), r.mem.digest(700), "the data landed later");
});

test("maxInFlight: the driver keeps one descriptor in the ring; 8 in flight is faster and still correct", (t) => {
  const times: number[] = [];
  for (const maxInFlight of [1, 8]) {
    const r = rig({ switches: { maxInFlight } });
    const chan = requestChan(r);
    fill(r, 0, NODE1, 64);
    const subs: Sub[] = [];
    for (let i = 0; i < 64; i++) subs.push(submit(r, chan, i, NODE1 + i));
    const t0 = r.core.sim.now;
    dmaAsyncIssuePending(chan);
    r.core.sim.run();
    times.push(Math.max(...subs.map((s) => s.at)) - t0);
    t.true(subs.every((s) => s.fired && s.result === DMA_TRANS_NOERROR));
    for (let i = 0; i < 64; i++) t.is(r.mem.digest(NODE1 + i), r.mem.digest(i));
    t.is(r.pts[0]!.hw.stats.maxQueued, maxInFlight);
    t.is(dmaengineTxStatus(chan, subs[63]!.cookie), DMA_COMPLETE);
  }
  t.true(times[1]! < 0.6 * times[0]!, `8 in flight: ${times[1]} ns vs 1: ${times[0]} ns`);
});

test("maxInFlight=4 with an error: the failing descriptor is reported, the dropped ones are restarted", (t) => {
  const r = rig({ switches: { maxInFlight: 4, errorsVisibleToClient: true } });
  const chan = requestChan(r);
  fill(r, 0, NODE1, 8);
  r.core.faults.arm("ptdma.desc_error", { space: 2, times: 1 });
  const subs: Sub[] = [];
  for (let i = 0; i < 8; i++) subs.push(submit(r, chan, i, NODE1 + i));
  dmaAsyncIssuePending(chan);
  r.core.sim.run();
  t.true(subs.every((s) => s.fired));
  t.deepEqual(subs.map((s) => s.result !== DMA_TRANS_NOERROR), [false, false, true, false, false, false, false, false]);
  for (let i = 0; i < 8; i++) t.is(r.mem.digest(NODE1 + i) === r.mem.digest(i), i !== 2, `page ${i}`);
  t.is(dmaengineTxStatus(chan, subs[2]!.cookie), DMA_ERROR);
  t.is(dmaengineTxStatus(chan, subs[7]!.cookie), DMA_COMPLETE);
  void DMA_IN_PROGRESS;
});

test("unknown or ill-typed switches and parameters are named in the error", (t) => {
  t.throws(() => rig({ switches: { bogus: true } as never }), { message: /ptdma switch "bogus" is unknown/ });
  t.throws(() => rig({ switches: { maxInFlight: 40 } }), { message: /maxInFlight must be an integer in 1..31/ });
  t.throws(() => rig({ switches: { callbackContext: "softirq" as never } }), { message: /callbackContext must be/ });
  t.throws(() => rig({ switches: { errorsVisibleToClient: 1 as never } }), { message: /errorsVisibleToClient must be a boolean/ });
  t.throws(() => rig({ params: { chan_bw: 0 } }), { message: /ptdma.chan_bw: 0 GB\/s is outside/ });
  t.throws(() => rig({ params: { msi_latency: 1.5 } }), { message: /msi_latency: must be an integer/ });
  t.throws(() => rig({ placements: [{ node: 5, quadrant: 0 }] }), { message: /node 5 does not exist/ });
});
