import test from "ava";
import { PAGE_SIZE } from "@mmemu/mm-core";
import {
  DMA_COMPLETE, DMA_CTRL_ACK, DMA_FROM_DEVICE, DMA_PREP_INTERRUPT, DMA_TO_DEVICE, DMA_TRANS_NOERROR,
  DMA_TRANS_READ_FAILED, DMA_TRANS_WRITE_FAILED, dmaAsyncIssuePending, dmaMapPage, dmaUnmapPage,
  dmaengineGetDmaDevice, dmaenginePrepDmaMemcpy, dmaengineSubmit, dmaengineTerminateSync, dmaengineTxStatus,
  type DmaChan,
} from "@mmemu/dmaengine";
import { requestChan, rig, type Rig } from "./helpers.js";

const NODE1 = 4096;
const WAIT_10S = 10_000_000_000;

interface Job {
  cookie: number;
  fired: boolean;
  result: number;
  dev: ReturnType<typeof dmaengineGetDmaDevice>;
  s: number;
  d: number;
  len: number;
}

function start(r: Rig, chan: DmaChan, src: number, dst: number, pages = 1): Job {
  r.mem.fillPages(src, pages, 0xc0ffee);
  r.mem.fillPages(dst, pages, 0xbad);
  const dev = dmaengineGetDmaDevice(chan);
  const len = pages * PAGE_SIZE;
  const s = dmaMapPage(dev, src, 0, len, DMA_TO_DEVICE);
  const d = dmaMapPage(dev, dst, 0, len, DMA_FROM_DEVICE);
  const tx = dmaenginePrepDmaMemcpy(chan, d, s, len, DMA_CTRL_ACK | DMA_PREP_INTERRUPT)!;
  const job: Job = { cookie: 0, fired: false, result: -1, dev, s, d, len };
  tx.callbackResult = (j: Job, res) => { j.fired = true; j.result = res.result; };
  tx.callbackParam = job;
  job.cookie = dmaengineSubmit(tx);
  dmaAsyncIssuePending(chan);
  return job;
}

/** dcbm's wait: wait_for_completion_timeout(10 s). */
function waitJob(r: Rig, j: Job): boolean {
  return r.core.sim.runUntil(() => j.fired, WAIT_10S, "test wait");
}

function unmap(j: Job) {
  dmaUnmapPage(j.dev, j.d, j.len, DMA_FROM_DEVICE);
  dmaUnmapPage(j.dev, j.s, j.len, DMA_TO_DEVICE);
}

test("bus fault after k bytes: a torn destination the client cannot see (driver) or sees as WRITE/READ_FAILED (corrected)", (t) => {
  for (const visible of [false, true]) {
    const r = rig({ switches: { errorsVisibleToClient: visible } });
    const chan = requestChan(r);
    r.pts[0]!.hw.busFaultAfter = 2048;
    r.core.faults.arm("ptdma.bus_fault", { times: 1 });
    const j = start(r, chan, 10, NODE1 + 10);
    t.true(waitJob(r, j));
    const src = r.mem.read(10 * PAGE_SIZE, PAGE_SIZE);
    const dst = r.mem.read((NODE1 + 10) * PAGE_SIZE, PAGE_SIZE);
    t.deepEqual(dst.subarray(0, 2048), src.subarray(0, 2048), "the first k bytes were written");
    t.notDeepEqual(dst.subarray(2048), src.subarray(2048), "the rest was not");
    t.not(r.mem.digest(NODE1 + 10), r.mem.digest(10), "the digest shows the loss");
    t.regex(r.pts[0]!.pt.log[0]!, /PTDMA error: (IDMA0|ODMA0)_AXI_SLVERR/);
    if (visible) t.true(j.result === DMA_TRANS_READ_FAILED || j.result === DMA_TRANS_WRITE_FAILED);
    else t.is(j.result, DMA_TRANS_NOERROR);
    unmap(j);
  }
});

test("hang: dcbm's 10 s wait times out; terminate does not unwedge the driver's engine, the corrected abort does", (t) => {
  for (const stops of [false, true]) {
    const r = rig({ switches: { terminateStopsHardware: stops } });
    const chan = requestChan(r);
    r.core.faults.arm("ptdma.hang", { times: 1 });
    const j = start(r, chan, 10, NODE1 + 10);
    const t0 = r.core.sim.now;
    t.false(waitJob(r, j), "no completion");
    t.is(r.core.sim.now - t0, WAIT_10S);
    t.true(r.pts[0]!.hw.hung);
    t.is(dmaengineTerminateSync(chan), 0);
    unmap(j);
    t.not(r.mem.digest(NODE1 + 10), r.mem.digest(10), "nothing was copied");
    const k = start(r, chan, 20, NODE1 + 20);
    const ok = waitJob(r, k);
    t.is(ok, stops, stops ? "after the abort the channel works" : "the wedged engine never runs the next descriptor");
    t.is(r.mem.digest(NODE1 + 20) === r.mem.digest(20), stops);
  }
});

test("lost interrupt: the channel stalls until someone polls tx_status, which finds the latched completion", (t) => {
  const r = rig();
  const chan = requestChan(r);
  r.core.faults.arm("ptdma.lost_irq", { times: 1 });
  const j = start(r, chan, 10, NODE1 + 10);
  t.false(waitJob(r, j), "dcbm would time out");
  t.is(r.pts[0]!.hw.stats.msiLost, 1);
  t.is(r.mem.digest(NODE1 + 10), r.mem.digest(10), "the data did land");
  t.is(dmaengineTxStatus(chan, j.cookie), DMA_COMPLETE, "a poll completes it");
  t.true(j.fired, "and runs its callback from the poller");
  unmap(j);
});

test("spurious interrupts are counted and do nothing else", (t) => {
  const r = rig();
  const chan = requestChan(r);
  r.core.faults.arm("ptdma.spurious_irq", { times: 3 });
  const jobs = [10, 11, 12, 13].map((p) => start(r, chan, p, NODE1 + p));
  r.core.sim.run();
  t.true(jobs.every((j) => j.fired && j.result === DMA_TRANS_NOERROR));
  for (const p of [10, 11, 12, 13]) t.is(r.mem.digest(NODE1 + p), r.mem.digest(p));
  const pt = r.pts[0]!;
  t.is(pt.hw.stats.msiSpurious, 3);
  t.is(pt.pt.stats.totalInterrupts, 4 + 3);
  t.is(r.engine.stats.callbacks, 4);
});

test("a descriptor pointing outside memory fails with a decode error; the destination is untouched", (t) => {
  const r = rig({ switches: { errorsVisibleToClient: true } });
  const chan = requestChan(r);
  r.mem.fillPages(NODE1 + 1, 1, 0x99);
  const before = r.mem.digest(NODE1 + 1);
  const tx = dmaenginePrepDmaMemcpy(chan, (NODE1 + 1) * PAGE_SIZE, 2 ** 40, PAGE_SIZE, DMA_PREP_INTERRUPT)!;
  let result = -1;
  tx.callbackResult = (_p, res) => { result = res.result; };
  dmaengineSubmit(tx);
  dmaAsyncIssuePending(chan);
  r.core.sim.run();
  t.is(result, DMA_TRANS_READ_FAILED);
  t.regex(r.pts[0]!.pt.log[0]!, /IDMA0_AXI_DECERR/);
  t.is(r.mem.digest(NODE1 + 1), before);
});

test("the IOMMU turns a write after unmap into a fault instead of corruption", (t) => {
  const r = rig({ iommu: "translate" });
  const chan = requestChan(r);
  const j = start(r, chan, 0, NODE1, 512);
  r.core.sim.run(r.core.sim.now + 30_000);
  dmaengineTerminateSync(chan); // the driver's terminate leaves the engine running
  unmap(j);
  r.mem.fillPages(NODE1, 512, 0x5555); // the page is reused
  const reused = r.mem.digest(NODE1 + 511);
  r.core.sim.run();
  t.is(r.engine.map.iommu.stats.iommuFaults, 1);
  t.is(r.mem.digest(NODE1 + 511), reused, "no late write reached the reused page");
  t.regex(r.pts[0]!.pt.log[0]!, /AXI_DECERR/);
});
