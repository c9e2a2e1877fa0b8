import test from "ava";
import { TRACE_CTX_DEVICE, TRACE_CTX_TASK } from "@mmemu/driver-kit";
import { Fabric } from "@mmemu/platform";
import { InvariantChecker, Machine, PAGE_SIZE } from "@mmemu/mm-core";
import {
  DMA_COMPLETE, DMA_CTRL_ACK, DMA_ERROR, DMA_FROM_DEVICE, DMA_MEMCPY, DMA_PREP_INTERRUPT, DMA_TO_DEVICE, DmaEngine,
  DmaengineDebug, dmaAsyncIssuePending, dmaCapMaskOf, dmaMapPage, dmaUnmapPage, dmaengineGetDmaDevice,
  dmaenginePrepDmaInterrupt, dmaenginePrepDmaMemcpy, dmaengineSubmit, dmaengineTerminateSync, dmaengineTxStatus, dmatestEngine, isErrPtr,
  type DmaChan, type DmaEngineModule,
} from "@mmemu/dmaengine";
import {
  AE4_DESC_COMPLETED, AE4_DESC_ERROR, AE4_ERR_LEN_ALIGN, AE4_Q_SZ, AE4_RD_IDX_OFF, AE4_WR_IDX_OFF, createAe4dmaEngines,
  AE4DMA_SECTION, decodeAe4Desc,
} from "../src/index.js";

function machine(o: { functions?: number; visible?: boolean; maxHwQ?: number } = {}) {
  const pages = 1 << 13;
  const m = new Machine({ nodes: [{ id: 0, pages, cpus: 4 }, { id: 1, pages, cpus: 4 }] });
  const dma = new DmaEngine({ core: m.core, mem: m.mem });
  const fabric = new Fabric(m.core, { nodes: [{ id: 0, socket: 0 }, { id: 1, socket: 1 }] });
  const ae4 = createAe4dmaEngines({
    core: m.core, engine: dma, fabric, nodes: Array.from({ length: o.functions ?? 1 }, (_, i) => i % 2),
    ...(o.maxHwQ !== undefined ? { params: { max_hw_q: o.maxHwQ } } : {}),
    ...(o.visible ? { switches: { errorsVisibleToClient: true } } : {}),
  });
  const mm = m.createMm();
  m.current = m.createTask(mm, 0);
  return { m, mm, dma, ae4 };
}

const mask = dmaCapMaskOf(DMA_MEMCPY);

/** Submit `n` memcpys of `len` bytes (pages src..src+n-1 to dst..) on a channel with a callback each. */
function submitCopies(dma: DmaEngine, chan: DmaChan, src: number, dst: number, n: number, len = PAGE_SIZE) {
  const dev = dmaengineGetDmaDevice(chan);
  const done = { n: 0 };
  const maps: Array<[number, number]> = [];
  const cookies: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = dmaMapPage(dev, src + i, 0, PAGE_SIZE, DMA_TO_DEVICE);
    const d = dmaMapPage(dev, dst + i, 0, PAGE_SIZE, DMA_FROM_DEVICE);
    maps.push([s, d]);
    const tx = dmaenginePrepDmaMemcpy(chan, d, s, len, DMA_CTRL_ACK | DMA_PREP_INTERRUPT)!;
    tx.callback = () => done.n++;
    cookies.push(dmaengineSubmit(tx));
  }
  dmaAsyncIssuePending(chan);
  const unmap = () => {
    for (const [s, d] of maps) {
      dmaUnmapPage(dev, s, PAGE_SIZE, DMA_TO_DEVICE);
      dmaUnmapPage(dev, d, PAGE_SIZE, DMA_FROM_DEVICE);
    }
  };
  return { done, cookies, unmap };
}

test("one function, 16 queues: a channel per queue, several descriptors in each ring, status written back, data intact", (t) => {
  const { m, dma, ae4 } = machine();
  const { hw, dma: dev } = ae4[0]!;
  t.is(dev.channels.length, 16);
  const chans: DmaChan[] = [];
  for (let i = 0; i < 4; i++) {
    const c = dma.dmaRequestChanByMask(mask, "test");
    if (isErrPtr(c)) return t.fail(`no channel ${i}`);
    chans.push(c);
  }
  t.deepEqual(chans.map((c) => c.name), ["dma0chan0", "dma0chan1", "dma0chan2", "dma0chan3"]);
  const node1 = m.mem.nodes[1]!.startPfn;
  m.mem.fillPages(0, 64, 0x1234);
  for (let i = 0; i < 64; i++) m.mem.fillPages(i, 1, 0xa000 + i);
  const runs = chans.map((c, k) => submitCopies(dma, c, k * 16, node1 + k * 16, 16));
  t.true(hw.stats.maxQueued > 1, `several descriptors in one ring (max ${hw.stats.maxQueued})`);
  t.true(m.sim.runUntil(() => runs.every((r) => r.done.n === 16), 1e9));
  for (const r of runs) r.unmap();
  for (let i = 0; i < 64; i++) t.is(m.mem.digest(node1 + i), m.mem.digest(i), `page ${i}`);
  // Every slot the queue retired carries the completed status, and RD_IDX caught up with WR_IDX.
  const c0 = dev.chans[0]!;
  const st = decodeAe4Desc(c0.ring!.view, 5 * 32, { dw0: 0, status: 0, errCode: 0, length: 0, src: 0, dst: 0 });
  t.is(st.status, AE4_DESC_COMPLETED);
  t.is(hw.mmioRead(AE4_Q_SZ + AE4_RD_IDX_OFF), 16);
  t.is(hw.mmioRead(AE4_Q_SZ + AE4_WR_IDX_OFF), 16);
  t.true(runs[0]!.cookies.every((c) => dmaengineTxStatus(chans[0]!, c) === DMA_COMPLETE));
  t.is(dev.stats.completed, 64);
  for (const c of chans) dma.dmaReleaseChannel(c);
});

test("a ring holds 31 descriptors; the rest wait on the issued list and the worker feeds them as slots free", (t) => {
  const { m, dma, ae4 } = machine();
  const c = dma.dmaRequestChanByMask(mask, "test") as DmaChan;
  const node1 = m.mem.nodes[1]!.startPfn;
  for (let i = 0; i < 100; i++) m.mem.fillPages(i, 1, 0xb000 + i);
  const r = submitCopies(dma, c, 0, node1, 100);
  t.is(ae4[0]!.dma.chans[0]!.inRing, 31);
  t.true(ae4[0]!.dma.stats.ringFull >= 1);
  t.true(m.sim.runUntil(() => r.done.n === 100, 1e9));
  r.unmap();
  for (let i = 0; i < 100; i++) t.is(m.mem.digest(node1 + i), m.mem.digest(i));
  dma.dmaReleaseChannel(c);
});

test("a length not 4-byte aligned: error code 3 written back, logged; the client sees success unless errors are made visible", (t) => {
  for (const visible of [false, true]) {
    const { m, dma, ae4 } = machine({ visible });
    const c = dma.dmaRequestChanByMask(mask, "test") as DmaChan;
    const r = submitCopies(dma, c, 0, m.mem.nodes[1]!.startPfn, 1, 4094);
    t.true(m.sim.runUntil(() => r.done.n === 1, 1e9));
    const dev = ae4[0]!.dma;
    const st = decodeAe4Desc(dev.chans[0]!.ring!.view, 0, { dw0: 0, status: 0, errCode: 0, length: 0, src: 0, dst: 0 });
    t.deepEqual([st.status, st.errCode], [AE4_DESC_ERROR, AE4_ERR_LEN_ALIGN]);
    t.regex(dev.log[0]!, /ae4dma0 queue 0: descriptor error 3 \(INVALID LENGTH - 4 BYTE ALIGNMENT\)/);
    t.is(dmaengineTxStatus(c, r.cookies[0]!), visible ? DMA_ERROR : DMA_COMPLETE);
    r.unmap();
    dma.dmaReleaseChannel(c);
  }
});

test("terminate_sync: the copy already moving lands before synchronize returns, the rest never runs, the queue works again", (t) => {
  const { m, dma } = machine();
  const checker = new InvariantChecker(m, { throwOnViolation: false });
  const dbg = new DmaengineDebug(dma, checker);
  const c = dma.dmaRequestChanByMask(mask, "test") as DmaChan;
  const node1 = m.mem.nodes[1]!.startPfn;
  for (let i = 0; i < 8; i++) m.mem.fillPages(i, 1, 0xc000 + i);
  m.mem.fillPages(node1, 8, 0xdead);
  const r = submitCopies(dma, c, 0, node1, 8);
  m.sim.runUntil(() => false, 800); // the first descriptor is fetched and moving
  t.is(dmaengineTerminateSync(c), 0);
  t.is(m.mem.digest(node1), m.mem.digest(0), "the copy in the engine landed before synchronize returned");
  const untouched = m.mem.digest(node1 + 1);
  m.sim.run();
  t.is(r.done.n, 0, "no callback for a terminated transfer");
  for (let i = 1; i < 8; i++) t.is(m.mem.digest(node1 + i), untouched, `slot ${i} never ran`);
  r.unmap();
  const again = submitCopies(dma, c, 0, node1, 8);
  t.true(m.sim.runUntil(() => again.done.n === 8, 1e9));
  again.unmap();
  for (let i = 0; i < 8; i++) t.is(m.mem.digest(node1 + i), m.mem.digest(i));
  dma.dmaReleaseChannel(c);
  t.deepEqual(dbg.violations, []);
});

test("AE4DMA passes the dmatest conformance kit on every channel (4 queues per function here)", (t) => {
  const mod: DmaEngineModule = {
    name: "ae4dma", section: AE4DMA_SECTION,
    probe: (ctx) => createAe4dmaEngines({ core: ctx.core, engine: ctx.dma, fabric: ctx.fabric, nodes: ctx.nodes, params: ctx.params, iommu: ctx.iommu }).map((e) => e.dma),
  };
  const r = dmatestEngine(mod, { params: { max_hw_q: 4 }, inFlight: 40 });
  t.is(r.channels.length, 8);
  t.deepEqual(r.cases.filter((c) => c.status === "fail"), []);
  t.is(r.cases.filter((c) => c.test === "in-flight" && c.status === "pass").length, 8, "40 in flight on each queue: more than a ring holds");
});

test("a DMA_INTERRUPT descriptor (length 0) retires with the completed status and calls back", (t) => {
  const { m, dma } = machine();
  const c = dma.dmaRequestChanByMask(mask, "test") as DmaChan;
  const tx = dmaenginePrepDmaInterrupt(c, DMA_PREP_INTERRUPT)!;
  let calls = 0;
  tx.callback = () => calls++;
  const cookie = dmaengineSubmit(tx);
  dmaAsyncIssuePending(c);
  t.true(m.sim.runUntil(() => calls === 1, 1e9));
  t.is(dmaengineTxStatus(c, cookie), DMA_COMPLETE);
  dma.dmaReleaseChannel(c);
});

test("trace: each descriptor logs start_desc, the doorbell, then fetch and complete as its queue's device on the MSI's CPU", (t) => {
  const { m, dma, ae4 } = machine({ functions: 2 });
  const rec = m.core.trace.record(["ae4dma_start_desc", "ae4dma_doorbell", "ae4dma_desc_fetch", "ae4dma_desc_complete"]);
  const chan = dma.dmaRequestChanByMask(mask, "test");
  if (isErrPtr(chan)) return t.fail("no channel");
  const node1 = m.mem.nodes[1]!.startPfn;
  const run = submitCopies(dma, chan, 0, node1, 3);
  t.true(m.sim.runUntil(() => run.done.n === 3, 1e9));
  run.unmap();
  rec.stop();
  const { hw } = ae4[0]!;
  const of = (name: string) => rec.records.filter((r) => r.name === name);
  t.deepEqual(of("ae4dma_start_desc").map((r) => r.fields.dev), ["ae4dma0q0", "ae4dma0q0", "ae4dma0q0"], "dev= names the queue");
  t.is(of("ae4dma_doorbell").length, 3, "one WR_IDX write per descriptor");
  t.true(of("ae4dma_doorbell").every((r) => r.ctx === TRACE_CTX_TASK), "the doorbell is the driver's write, in the task's context");
  const dev = [...of("ae4dma_desc_fetch"), ...of("ae4dma_desc_complete")];
  t.is(dev.length, 6);
  for (const r of dev) {
    t.is(r.ctx, TRACE_CTX_DEVICE);
    t.is(r.comm, "ae4dma0q0");
    t.is(r.cpu, hw.irqCpu);
  }
  t.is(hw.irqCpu, 0, "function 0 sits on node 0, whose first CPU takes its MSIs");
  t.is(ae4[1]!.hw.irqCpu, 4, "function 1 sits on node 1 (CPUs 4..7)");
  t.deepEqual(of("ae4dma_desc_complete").map((r) => [r.fields.slot, r.fields.len, r.fields.error]), [[0, PAGE_SIZE, 0], [1, PAGE_SIZE, 0], [2, PAGE_SIZE, 0]]);
  const fetches = of("ae4dma_desc_fetch").map((r) => r.ts);
  const completes = of("ae4dma_desc_complete").map((r) => r.ts);
  fetches.forEach((f, i) => t.true(f < completes[i]!, `descriptor ${i} is fetched before it completes`));
});
