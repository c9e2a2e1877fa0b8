import test from "ava";
import { KernelCore } from "@mmemu/kernel";
import { PAGE_SIZE, PhysMem } from "@mmemu/mm-core";
import {
  DMA_COMPLETE, DMA_CTRL_ACK, DMA_IN_PROGRESS, DMA_MAX_COOKIE, DMA_MEMCPY, DMA_MIN_COOKIE, DMA_PREP_INTERRUPT,
  DMA_TRANS_NOERROR, DmaAsyncTxDescriptor, DmaChan, DmaEngine, SoftDmaDevice, dmaAsyncIsComplete, dmaAsyncIsTxComplete,
  dmaAsyncIssuePending, dmaCapMaskOf, dmaCookieAssign, dmaengineGetDmaDevice, dmaenginePrepDmaMemcpy, dmaengineSubmit,
  dmaengineSynchronize, dmaengineTerminateAsync, dmaengineTerminateSync, dmaengineTxStatus, dmatestRun,
  type CallbackContext, type DmaengineResult,
} from "@mmemu/dmaengine";

function setup(ctx: CallbackContext = "tasklet") {
  const core = new KernelCore();
  const mem = new PhysMem([{ id: 0, pages: 256, cpus: 1 }, { id: 1, pages: 256, cpus: 1 }]);
  const engine = new DmaEngine({ core, mem });
  const d = new SoftDmaDevice(engine, { name: "soft0", private: true, callbackContext: ctx, latencyNs: 1000, bandwidthGBps: 4 });
  engine.dmaAsyncDeviceRegister(d);
  const chan = engine.dmaRequestChanByMask(dmaCapMaskOf(DMA_MEMCPY)) as DmaChan;
  return { core, mem, engine, chan };
}

const page = (pfn: number) => pfn * PAGE_SIZE;

function prep(chan: DmaChan, dstPfn: number, srcPfn: number, flags = DMA_CTRL_ACK | DMA_PREP_INTERRUPT): DmaAsyncTxDescriptor {
  const tx = dmaenginePrepDmaMemcpy(chan, page(dstPfn), page(srcPfn), PAGE_SIZE, flags);
  if (tx === null) throw new Error("prep failed");
  return tx;
}

test("cookies count up from DMA_MIN_COOKIE and complete in order; nothing runs before issue_pending", (t) => {
  const { core, chan } = setup();
  const c1 = dmaengineSubmit(prep(chan, 300, 1));
  const c2 = dmaengineSubmit(prep(chan, 301, 2));
  t.is(c1, DMA_MIN_COOKIE + 1);
  t.is(c2, c1 + 1);
  core.sim.run();
  t.is(dmaengineTxStatus(chan, c1), DMA_IN_PROGRESS, "submitted but not issued");
  dmaAsyncIssuePending(chan);
  core.sim.run(core.sim.now + 2100); // 1000 ns + 4096 B at 4 B/ns = 2024 ns per descriptor
  t.is(dmaengineTxStatus(chan, c1), DMA_COMPLETE);
  t.is(dmaengineTxStatus(chan, c2), DMA_IN_PROGRESS);
  core.sim.run();
  const st = { last: 0, used: 0, residue: 7 };
  t.is(dmaAsyncIsTxComplete(chan, c2, st), DMA_COMPLETE);
  t.deepEqual(st, { last: c2, used: c2, residue: 0 });
});

test("dma_async_is_complete handles cookie wrap", (t) => {
  t.is(dmaAsyncIsComplete(5, 10, 20), DMA_COMPLETE);
  t.is(dmaAsyncIsComplete(15, 10, 20), DMA_IN_PROGRESS);
  // wrapped: completed 0x7ffffff0, used 3 → cookies after 0x7ffffff0 and up to 3 are in flight.
  t.is(dmaAsyncIsComplete(2, 0x7ffffff0, 3), DMA_IN_PROGRESS);
  t.is(dmaAsyncIsComplete(0x7fffffff, 0x7ffffff0, 3), DMA_IN_PROGRESS);
  t.is(dmaAsyncIsComplete(100, 0x7ffffff0, 3), DMA_COMPLETE);
  const { chan } = setup();
  chan.cookie = DMA_MAX_COOKIE;
  const tx = prep(chan, 300, 1);
  t.is(dmaCookieAssign(tx), DMA_MIN_COOKIE, "wraps back to DMA_MIN_COOKIE");
});

test("callback_result gets NOERROR in the provider's context; data lands before the callback", (t) => {
  for (const ctx of ["tasklet", "hardirq", "workqueue"] as const) {
    const { core, mem, engine, chan } = setup(ctx);
    mem.fillPages(1, 1, 0x1234);
    const rec = core.trace.record(["dmae_callback"]);
    const seen: Array<{ res: DmaengineResult; ctx: string; digestOk: boolean }> = [];
    const tx = prep(chan, 300, 1);
    tx.callbackResult = (p: string, res) => seen.push({ res: { ...res }, ctx: engine.context, digestOk: mem.digest(300) === mem.digest(1) && p === "param" });
    tx.callbackParam = "param";
    dmaengineSubmit(tx);
    dmaAsyncIssuePending(chan);
    core.sim.run();
    t.deepEqual(seen, [{ res: { result: DMA_TRANS_NOERROR, residue: 0 }, ctx, digestOk: true }], ctx);
    t.is(rec.records[0]!.fields.context, ctx);
    t.is(engine.context, "task", "context restored after the callback");
  }
});

test("tasklet callbacks run later than hardirq ones", (t) => {
  const times: Record<string, number> = {};
  for (const ctx of ["hardirq", "tasklet", "workqueue"] as const) {
    const { core, chan } = setup(ctx);
    const tx = prep(chan, 300, 1);
    tx.callback = () => { times[ctx] = core.sim.now; };
    dmaengineSubmit(tx);
    dmaAsyncIssuePending(chan);
    core.sim.run();
  }
  t.true(times.hardirq! < times.tasklet! && times.tasklet! < times.workqueue!);
  t.is(times.tasklet! - times.hardirq!, 1000);
});

test("terminate_sync: no callbacks for incomplete work, descriptors freed, channel reusable", (t) => {
  const { core, mem, chan } = setup();
  mem.fillPages(1, 3, 0x77);
  let calls = 0;
  const cookies: number[] = [];
  for (let i = 0; i < 3; i++) {
    const tx = prep(chan, 300 + i, 1 + i);
    tx.callback = () => calls++;
    cookies.push(dmaengineSubmit(tx));
  }
  dmaAsyncIssuePending(chan);
  core.sim.run(core.sim.now + 3000); // first done (callback pending in the tasklet), second running
  t.is(dmaengineTerminateSync(chan), 0);
  core.sim.run();
  t.is(calls, 0, "the completed one's callback was queued for the tasklet and dropped by terminate");
  t.is(mem.digest(301) === mem.digest(2), false, "the soft engine stops the running copy");
  // The channel still works.
  const tx = prep(chan, 310, 1);
  let ok = false;
  tx.callback = () => { ok = true; };
  dmaengineSubmit(tx);
  dmaAsyncIssuePending(chan);
  core.sim.run();
  t.true(ok);
});

test("dmaengine_synchronize from a callback is refused (it sleeps)", (t) => {
  const { core, chan } = setup("hardirq");
  const tx = prep(chan, 300, 1);
  let err: unknown = null;
  tx.callback = () => {
    try { dmaengineSynchronize(chan); } catch (e) { err = e; }
  };
  dmaengineSubmit(tx);
  dmaAsyncIssuePending(chan);
  core.sim.run();
  t.regex(String(err), /called from hardirq context/);
  t.is(dmaengineTerminateAsync(chan), 0, "terminate_async is allowed anywhere");
});

test("prep rejects bad lengths, addresses and flags with clear errors", (t) => {
  const { chan } = setup();
  t.throws(() => dmaenginePrepDmaMemcpy(chan, 0, 0, -1, 0), { message: /len must be a non-negative integer/ });
  t.throws(() => dmaenginePrepDmaMemcpy(chan, 0, 0, 1.5, 0), { message: /len must be/ });
  t.throws(() => dmaenginePrepDmaMemcpy(chan, -4096, 0, 4096, 0), { message: /dst must be a DMA address/ });
  t.throws(() => dmaenginePrepDmaMemcpy(chan, 0, 0, 4096, 1 << 20), { message: /unknown dma_ctrl_flags/ });
});

test("dmatest: interrupt and polled modes copy and verify", (t) => {
  const { engine, chan } = setup();
  const irq = dmatestRun(engine, { chan, srcPfn: 10, dstPfn: 300, len: 2 * PAGE_SIZE, iterations: 5 });
  t.like(irq, { completed: 5, verifyErrors: 0, timeouts: 0, callbackErrors: 0 });
  const polled = dmatestRun(engine, { chan, srcPfn: 10, dstPfn: 300, iterations: 3, polled: true });
  t.like(polled, { completed: 3, verifyErrors: 0, statusErrors: 0 });
  t.is(dmaengineGetDmaDevice(chan).liveMappings, 0, "everything unmapped");
  t.throws(() => dmatestRun(engine, { chan, srcPfn: 10, dstPfn: 300, len: 100 }), { message: /multiple of 4096/ });
  t.throws(() => dmatestRun(engine, { chan, srcPfn: 10, dstPfn: 1000 }), { message: /dstPfn 1000/ });
});
