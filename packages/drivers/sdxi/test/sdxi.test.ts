import test from "ava";
import { KernelCore } from "@mmemu/kernel";
import { Fabric } from "@mmemu/platform";
import { PAGE_SIZE, PhysMem } from "@mmemu/mm-core";
import {
  DMA_COMPLETE, DMA_CTRL_ACK, DMA_ERROR, DMA_IN_PROGRESS, DMA_MEMCPY, DMA_MEMCPY_SG, DMA_PREP_INTERRUPT, DMA_PRIVATE,
  DMA_TO_DEVICE, DMA_FROM_DEVICE, DMA_TRANS_ABORTED, DMA_TRANS_NOERROR, DmaEngine, SgTable, dmaAsyncIsTxComplete,
  dmaAsyncIssuePending, dmaCapMaskOf, dmaHasCap, dmaMapSgtable, dmaenginePrepDmaMemcpy, dmaenginePrepDmaMemcpySg,
  dmaengineSubmit, dmaengineTerminateSync, dmaengineTxStatus, isErrPtr, sgAllocTable, sgSetPage, type DmaChan,
} from "@mmemu/dmaengine";
import { SDXI_CXT_ERR_FN, SDXI_GSV_ACTIVE, SDXI_PARAMS, createSdxiFunctions, type SdxiProbeOptions } from "@mmemu/sdxi";

const NODE1 = 8192;

function rig(opts: Partial<Pick<SdxiProbeOptions, "switches" | "params" | "dmaChannels">> = {}) {
  const core = new KernelCore({ seed: 3 });
  const mem = new PhysMem([{ id: 0, pages: NODE1, cpus: 2 }, { id: 1, pages: NODE1, cpus: 2 }]);
  const engine = new DmaEngine({ core, mem });
  const fabric = new Fabric(core, { nodes: [{ id: 0, socket: 0 }, { id: 1, socket: 1 }] });
  const fns = createSdxiFunctions({ core, engine, fabric, nodes: [0], ...opts });
  engine.dmaengineGet(); // public channels, as the AMDESE dcbm variant does at init
  const chan = engine.dmaFindChannel(DMA_MEMCPY, 0)!;
  return { core, mem, engine, fabric, fns, chan };
}

type Rig = ReturnType<typeof rig>;

interface Sub {
  cookie: number;
  fired: boolean;
  result: number;
  ctx: string;
}

function submit(r: Rig, chan: DmaChan, src: number, dst: number, pages = 1, flags = DMA_CTRL_ACK | DMA_PREP_INTERRUPT): Sub {
  r.mem.fillPages(src, pages, 0x5d1 + src);
  r.mem.fillPages(dst, pages, 0xbad);
  const tx = dmaenginePrepDmaMemcpy(chan, dst * PAGE_SIZE, src * PAGE_SIZE, pages * PAGE_SIZE, flags);
  if (tx === null) throw new Error("prep returned NULL");
  const s: Sub = { cookie: 0, fired: false, result: -1, ctx: "" };
  tx.callbackResult = (p: Sub, res) => { p.fired = true; p.result = res.result; p.ctx = r.engine.context; };
  tx.callbackParam = s;
  s.cookie = dmaengineSubmit(tx);
  return s;
}

const same = (r: Rig, a: number, b: number, n = 1) => Array.from({ length: n }, (_, i) => r.mem.digest(a + i) === r.mem.digest(b + i)).every(Boolean);

test("activation: the function is ACTIVE and offers public MEMCPY channels found through dma_find_channel", (t) => {
  const r = rig({ dmaChannels: 2 });
  const { fn, dma } = r.fns[0]!;
  t.is(fn.gsv, SDXI_GSV_ACTIVE);
  t.true(dmaHasCap(DMA_MEMCPY, dma.capMask) && dmaHasCap(DMA_MEMCPY_SG, dma.capMask));
  t.false(dmaHasCap(DMA_PRIVATE, dma.capMask));
  t.is(dma.channels.length, 2);
  t.truthy(r.chan);
  t.true(dma.channels.every((c) => c.clientCount === 1), "dmaengine_get took a reference, allocating contexts");
  t.is(r.engine.dmaRequestChanByMask(dmaCapMaskOf(DMA_MEMCPY)), -19, "publicly held channels are not handed out privately");
});

test("a memcpy completes through CST_BLK + DSC_INTR with its callback in the tasklet", (t) => {
  const r = rig();
  const s = submit(r, r.chan, 10, NODE1 + 10, 4);
  dmaAsyncIssuePending(r.chan);
  r.core.sim.run();
  t.true(s.fired);
  t.is(s.result, DMA_TRANS_NOERROR);
  t.is(s.ctx, "tasklet");
  t.true(same(r, 10, NODE1 + 10, 4));
  t.is(dmaengineTxStatus(r.chan, s.cookie), DMA_COMPLETE);
  const cxt = (r.fns[0]!.dma.channels[0] as unknown as { cxt: { readIndex: number; writeIndex: number } }).cxt;
  t.is(cxt.readIndex, cxt.writeIndex, "Read_Index caught up (COPY + INTR)");
});

test("a copy waits for its first source read (the pipeline fill): one more desc_fetch than the descriptor fetches", (t) => {
  // The time to the copy's interrupt, as a function of desc_fetch: the copy descriptor's fetch, its
  // first source read and the INTR descriptor's fetch lie on the path one after another.
  const irqAt = (desc_fetch: number) => {
    const r = rig({ params: { desc_fetch } });
    const at: number[] = [];
    const off = r.core.trace.on("sdxi_irq", (x) => void (x.fields.kind === "raise" && at.push(x.ts)));
    const s = submit(r, r.chan, 10, NODE1 + 10, 4);
    const issued = r.core.sim.now; // after the contexts' start (admin descriptors, also fetched)
    dmaAsyncIssuePending(r.chan);
    r.core.sim.run();
    off();
    t.true(s.fired && same(r, 10, NODE1 + 10, 4));
    return at[0]! - issued;
  };
  // Without the fill the difference is two fetches (COPY, then the fenced INTR).
  t.is(irqAt(1300) - irqAt(300), 3 * 1000);
});

for (const order of ["inOrder", "outOfOrderWithoutFence"] as const) {
  test(`completionOrder=${order}: polling a later cookie ${order === "inOrder" ? "waits for" : "can complete before"} an earlier one`, (t) => {
    const r = rig({ switches: { completionOrder: order } });
    const big = submit(r, r.chan, 0, NODE1, 512, DMA_CTRL_ACK); // 2 MiB, unfenced
    const small = submit(r, r.chan, 600, NODE1 + 600, 1, DMA_CTRL_ACK); // 4 KiB
    dmaAsyncIssuePending(r.chan);
    r.core.sim.run(r.core.sim.now + 20_000);
    const fn = r.fns[0]!.fn;
    if (order === "inOrder") {
      t.is(dmaengineTxStatus(r.chan, small.cookie), DMA_IN_PROGRESS);
      t.is(fn.stats.outOfOrderCompletions, 0);
    } else {
      t.is(dmaengineTxStatus(r.chan, small.cookie), DMA_COMPLETE, "the small copy finished first");
      t.is(dmaAsyncIsTxComplete(r.chan, big.cookie), DMA_COMPLETE, "and cookie order now reports the big one complete too");
      t.false(same(r, 0, NODE1, 512), "although its data has not landed: early completion");
      t.is(fn.stats.outOfOrderCompletions, 1);
    }
    r.core.sim.run();
    t.true(same(r, 0, NODE1, 512) && same(r, 600, NODE1 + 600));
  });
}

for (const reports of [true, false]) {
  test(`irqReportsErrors=${reports}: a data fault ${reports ? "reaches the callback and tx_status" : "completes as success through the IRQ"}; the error log has it`, (t) => {
    const r = rig({ switches: { irqReportsErrors: reports } });
    const fn = r.fns[0]!.fn;
    fn.busFaultAfter = 1024;
    r.core.faults.arm("sdxi.bus_fault", { times: 1 });
    const s = submit(r, r.chan, 10, NODE1 + 10);
    dmaAsyncIssuePending(r.chan);
    r.core.sim.run();
    t.true(s.fired);
    t.is(s.result, reports ? DMA_TRANS_ABORTED : DMA_TRANS_NOERROR);
    t.is(dmaengineTxStatus(r.chan, s.cookie), reports ? DMA_ERROR : DMA_COMPLETE);
    t.false(same(r, 10, NODE1 + 10), "torn destination");
    t.deepEqual([...r.mem.read((NODE1 + 10) * PAGE_SIZE, 1024)], [...r.mem.read(10 * PAGE_SIZE, 1024)], "the first k bytes landed");
    t.regex(r.fns[0]!.sdxi.log[0]!, /SDXI error: cxt 1 dsc 0 step 10 sub_step 2 reaction 0/);
    const later = submit(r, r.chan, 20, NODE1 + 20);
    dmaAsyncIssuePending(r.chan);
    r.core.sim.run();
    t.true(later.fired && same(r, 20, NODE1 + 20), "an informative error leaves the context running");
  });
}

test("a descriptor error stops the context: the ring wedges, only a poll sees DMA_ERROR", (t) => {
  const r = rig();
  r.core.faults.arm("sdxi.desc_error", { times: 1 });
  const s = submit(r, r.chan, 10, NODE1 + 10);
  dmaAsyncIssuePending(r.chan);
  r.core.sim.run();
  t.false(s.fired, "the fenced DSC_INTR behind it never runs");
  t.true(r.fns[0]!.fn.cxtStopped(1));
  t.regex(r.fns[0]!.sdxi.log[0]!, /step 7 .* reaction 1/);
  t.is(dmaengineTxStatus(r.chan, s.cookie), DMA_ERROR);
  const later = submit(r, r.chan, 20, NODE1 + 20);
  dmaAsyncIssuePending(r.chan);
  r.core.sim.run(r.core.sim.now + 1_000_000);
  t.false(later.fired, "no context recovery");
  void SDXI_CXT_ERR_FN;
});

test("a prepared descriptor that is never issued leaves a VL hole that stalls the context; terminate fills it with a NOP", (t) => {
  const r = rig();
  r.mem.fillPages(30, 1, 0x31);
  const hole = dmaenginePrepDmaMemcpy(r.chan, (NODE1 + 30) * PAGE_SIZE, 30 * PAGE_SIZE, PAGE_SIZE, DMA_PREP_INTERRUPT);
  t.truthy(hole);
  const s = submit(r, r.chan, 40, NODE1 + 40);
  dmaAsyncIssuePending(r.chan);
  r.core.sim.run();
  t.false(s.fired);
  t.true(r.fns[0]!.fn.stats.vlStalls > 0);
  t.is(dmaengineTerminateSync(r.chan), 0);
  r.core.sim.run();
  t.true(same(r, 40, NODE1 + 40), "past the NOP, the issued copy ran");
  t.false(same(r, 30, NODE1 + 30), "the hole itself never copied");
  const next = submit(r, r.chan, 50, NODE1 + 50);
  dmaAsyncIssuePending(r.chan);
  r.core.sim.run();
  t.true(next.fired && same(r, 50, NODE1 + 50));
});

test("a full ring makes prep return NULL", (t) => {
  const r = rig();
  let n = 0;
  while (dmaenginePrepDmaMemcpy(r.chan, (NODE1 + 1) * PAGE_SIZE, PAGE_SIZE, 64, DMA_PREP_INTERRUPT) !== null) n++;
  t.is(n, 512, "1024 slots, two per interrupting copy");
  t.is(dmaenginePrepDmaMemcpy(r.chan, (NODE1 + 1) * PAGE_SIZE, PAGE_SIZE, 0, 0), null, "size 0 is refused");
  t.is(dmaenginePrepDmaMemcpy(r.chan, PAGE_SIZE + 8, PAGE_SIZE, 64, 0), null, "overlap is refused");
});

test("memcpy_sg: one transaction whose copies share one CST_BLK completes once all have", (t) => {
  const r = rig({ switches: { completionOrder: "outOfOrderWithoutFence" } });
  const src = new SgTable(r.core);
  const dst = new SgTable(r.core);
  sgAllocTable(src, 8);
  sgAllocTable(dst, 8);
  for (let i = 0; i < 8; i++) {
    sgSetPage(src, i, 100 + 10 * i, (i + 1) * PAGE_SIZE, 0);
    sgSetPage(dst, i, NODE1 + 100 + 10 * i, (i + 1) * PAGE_SIZE, 0);
    r.mem.fillPages(100 + 10 * i, i + 1, 0x700 + i);
  }
  const dev = r.fns[0]!.dma.dev;
  dmaMapSgtable(dev, src, DMA_TO_DEVICE);
  dmaMapSgtable(dev, dst, DMA_FROM_DEVICE);
  const tx = dmaenginePrepDmaMemcpySg(r.chan, dst, 8, src, 8, DMA_PREP_INTERRUPT)!;
  let done = false;
  let allThere = false;
  tx.callback = () => { done = true; allThere = Array.from({ length: 8 }, (_, i) => same(r, 100 + 10 * i, NODE1 + 100 + 10 * i, i + 1)).every(Boolean); };
  dmaengineSubmit(tx);
  dmaAsyncIssuePending(r.chan);
  r.core.sim.run();
  t.true(done);
  t.true(allThere, "every copy had landed when the callback ran");
});

test("lost interrupt: the callback never runs, a tx_status poll completes it", (t) => {
  const r = rig();
  r.core.faults.arm("sdxi.lost_irq", { times: 1 });
  const s = submit(r, r.chan, 10, NODE1 + 10);
  dmaAsyncIssuePending(r.chan);
  r.core.sim.run();
  t.false(s.fired);
  t.true(same(r, 10, NODE1 + 10));
  t.is(dmaengineTxStatus(r.chan, s.cookie), DMA_COMPLETE);
  r.core.sim.run();
  t.true(s.fired, "completed by the poll, called back from the tasklet");
});

test("hang: the context stops progressing; synchronize gives up after 1 s", (t) => {
  const r = rig();
  r.core.faults.arm("sdxi.hang", { times: 1 });
  const s = submit(r, r.chan, 10, NODE1 + 10);
  dmaAsyncIssuePending(r.chan);
  r.core.sim.run();
  t.false(s.fired);
  const t0 = r.core.sim.now;
  dmaengineTerminateSync(r.chan);
  t.is(r.core.sim.now - t0, 1_000_000_000);
  t.false(same(r, 10, NODE1 + 10));
});

test("spurious interrupts find nothing new to complete", (t) => {
  const r = rig();
  r.core.faults.arm("sdxi.spurious_irq", { times: 2 });
  const subs = [submit(r, r.chan, 10, NODE1 + 10), submit(r, r.chan, 11, NODE1 + 11)];
  dmaAsyncIssuePending(r.chan);
  r.core.sim.run();
  t.true(subs.every((s) => s.fired));
  t.is(r.fns[0]!.fn.stats.msiSpurious, 2);
  t.is(r.engine.stats.callbacks, 2);
});

test("bad switches, parameters and options are named", (t) => {
  t.throws(() => rig({ switches: { completionOrder: "random" as never } }), { message: /completionOrder must be/ });
  t.throws(() => rig({ switches: { nope: 1 } as never }), { message: /sdxi switch "nope" is unknown/ });
  t.throws(() => rig({ params: { max_inflight: 0 } }), { message: /sdxi.max_inflight: 0 count is outside/ });
  t.throws(() => rig({ dmaChannels: 200 }), { message: /dmaChannels must be an integer in 1..127/ });
  t.true(Object.values(SDXI_PARAMS).every((p) => p.doc.length > 10 && p.source.length > 5));
  void isErrPtr;
});
