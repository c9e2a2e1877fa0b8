import test from "ava";
import { PAGE_SIZE } from "@mmemu/mm-core";
import { Cost, KernelCore } from "@mmemu/kernel";
import { Fabric } from "@mmemu/platform";
import { PhysMem } from "@mmemu/mm-core";
import {
  DMA_CTRL_ACK, DMA_INTERRUPT, DMA_MEMCPY, DMA_PREP_INTERRUPT, DMA_PRIVATE, DmaEngine, dmaAsyncIssuePending,
  dmaHasCap, dmaenginePrepDmaMemcpy, dmaengineSubmit, dmatestRun, isErrPtr, dmaCapMaskOf,
} from "@mmemu/dmaengine";
import {
  CMD_DESC_DW0_VAL, CMD_Q_CONTROL_BASE, CMD_Q_INTERRUPT_STATUS_BASE, CMD_Q_INT_ENABLE_BASE, CMD_Q_INT_STATUS_BASE,
  CMD_Q_LEN, CMD_Q_STATUS_BASE, CMD_Q_STATUS_INCR, CMD_Q_TAIL_LO_BASE, PTDMA_PARAMS, Q_DESC_SIZE,
  ZEN3_2S_PTDMA_PLACEMENTS, createPtdmaEngines, decodePtdmaDesc,
} from "@mmemu/ptdma";
import { requestChan, rig } from "./helpers.js";

const NODE1 = 4096;

test("init programs the registers of spec 1.6 and registers a private MEMCPY|INTERRUPT channel", (t) => {
  const r = rig();
  const { hw, pt, dma } = r.pts[0]!;
  t.is(hw.queuePrio, 0x6);
  t.is(hw.config, 1);
  t.is(hw.cmdTimeout, 0);
  t.is(hw.clkGateCtl, 0x1001);
  t.is((hw.control >>> 3) & 0x1f, 4, "Q_SIZE = log2(32) - 1");
  t.is(hw.headLo, hw.tailLo, "empty ring");
  t.is(hw.headLo, pt.cmdQ.qbase.busAddr % 2 ** 32);
  t.is(hw.intEnable, 0x3);
  t.true(dmaHasCap(DMA_MEMCPY, dma.capMask) && dmaHasCap(DMA_INTERRUPT, dma.capMask) && dmaHasCap(DMA_PRIVATE, dma.capMask));
  t.is(dma.privatecnt, 1, "always private");
  t.is(r.engine.dmaFindChannel(DMA_MEMCPY, 0), null, "never in the public table");
  r.engine.dmaengineGet();
  t.is(r.engine.dmaFindChannel(DMA_MEMCPY, 0), null);
  t.is(dma.dev.dmaMaskBits, 48);
});

test("a submit is three MMIO writes (INT_ENABLE, TAIL_LO, CONTROL.RUN) and writes a 32-byte descriptor; the IRQ reads three registers", (t) => {
  const r = rig();
  const chan = requestChan(r);
  const charged: number[] = [];
  r.core.cost = { charge: (kind: number, units: number) => { for (let i = 0; i < units; i++) charged.push(kind); } };
  const rec = r.core.trace.record(["mmio_write", "mmio_read"]);
  const tx = dmaenginePrepDmaMemcpy(chan, (NODE1 + 3) * PAGE_SIZE, 5 * PAGE_SIZE, 1234, DMA_PREP_INTERRUPT | DMA_CTRL_ACK)!;
  dmaengineSubmit(tx);
  dmaAsyncIssuePending(chan);
  const q = CMD_Q_STATUS_INCR;
  t.deepEqual(rec.records.map((x) => [x.name, x.fields.reg]), [
    ["mmio_write", q + CMD_Q_INT_ENABLE_BASE], ["mmio_write", q + CMD_Q_TAIL_LO_BASE], ["mmio_write", q + CMD_Q_CONTROL_BASE],
  ]);
  t.is(charged.filter((k) => k === Cost.MMIO_WRITE).length, 3);
  t.deepEqual(charged.filter((k) => k === Cost.DMA_PREP || k === Cost.DMA_SUBMIT || k === Cost.DMA_ISSUE_PENDING), [Cost.DMA_PREP, Cost.DMA_SUBMIT, Cost.DMA_ISSUE_PENDING]);
  const d = decodePtdmaDesc(r.pts[0]!.pt.cmdQ.qbase.view, 0, { dw0: 0, length: 0, src: 0, dst: 0, srcMem: 0, dstMem: 0 });
  t.deepEqual(d, { dw0: CMD_DESC_DW0_VAL, length: 1234, src: 5 * PAGE_SIZE, dst: (NODE1 + 3) * PAGE_SIZE, srcMem: 0, dstMem: 0 });
  rec.records.length = 0;
  r.core.sim.run();
  const reads = rec.records.filter((x) => x.name === "mmio_read").map((x) => x.fields.reg);
  t.deepEqual(reads, [q + CMD_Q_INTERRUPT_STATUS_BASE, q + CMD_Q_STATUS_BASE, q + CMD_Q_INT_STATUS_BASE]);
  t.is(rec.records.filter((x) => x.name === "mmio_write").length, 3, "INT_ENABLE=0, the W1C ack, INT_ENABLE=0x3");
  t.is(charged.filter((k) => k === Cost.MMIO_READ).length, 0, "IRQ-context MMIO is timed by PTDMA_PARAMS, not charged");
});

test("HEAD and TAIL stay 32-byte aligned inside the ring as it wraps; at most one descriptor is queued", (t) => {
  const r = rig();
  const chan = requestChan(r);
  const { hw, pt } = r.pts[0]!;
  const base = pt.cmdQ.qbase.busAddr % 2 ** 32;
  let bad = 0;
  const off = r.core.trace.on("ptdma_desc_fetch", () => {
    for (const p of [hw.headLo, hw.tailLo]) if (p < base || p >= base + CMD_Q_LEN * Q_DESC_SIZE || (p - base) % Q_DESC_SIZE !== 0) bad++;
  });
  const res = dmatestRun(r.engine, { chan, srcPfn: 1, dstPfn: NODE1 + 1, iterations: 3 * CMD_Q_LEN + 5 });
  off();
  t.is(res.completed, 3 * CMD_Q_LEN + 5);
  t.is(res.verifyErrors, 0);
  t.is(bad, 0);
  t.is(hw.stats.maxQueued, 1);
});

test("polled mode (no DMA_PREP_INTERRUPT) gives more than twice the IOPS of IRQ mode for 4 KiB", (t) => {
  const irq = rig();
  const a = dmatestRun(irq.engine, { chan: requestChan(irq), srcPfn: 1, dstPfn: NODE1 + 1, iterations: 200 });
  const pol = rig();
  const b = dmatestRun(pol.engine, { chan: requestChan(pol), srcPfn: 1, dstPfn: NODE1 + 1, iterations: 200, polled: true });
  t.is(a.verifyErrors + b.verifyErrors, 0);
  t.true(a.elapsedNs > 2 * b.elapsedNs, `irq ${a.elapsedNs} ns, polled ${b.elapsedNs} ns`);
  t.is(pol.pts[0]!.pt.stats.totalInterrupts, 0);
});

test("one channel: ~1.8 µs per 4 KiB descriptor round trip, ~14 GB/s for 2 MiB (the PTDMA_PARAMS defaults)", (t) => {
  const r = rig();
  const chan = requestChan(r);
  const small = dmatestRun(r.engine, { chan, srcPfn: 1, dstPfn: NODE1 + 1, iterations: 100 });
  const per = small.elapsedNs / 100;
  t.true(per > 1000 && per < 2500, `${per} ns per 4 KiB`);
  const big = dmatestRun(r.engine, { chan, srcPfn: 0, dstPfn: NODE1, len: 512 * PAGE_SIZE, iterations: 2 });
  const gbps = (2 * 512 * PAGE_SIZE) / big.elapsedNs;
  t.true(gbps > 12 && gbps < 14.1, `${gbps} GB/s`);
});

test("the Zen 3 factory makes 16 engines, 8 per node, dma0..dma15, each with one channel", (t) => {
  const core = new KernelCore();
  const mem = new PhysMem([{ id: 0, pages: 64, cpus: 1 }, { id: 1, pages: 64, cpus: 1 }]);
  const engine = new DmaEngine({ core, mem });
  const fabric = new Fabric(core, { nodes: [{ id: 0, socket: 0 }, { id: 1, socket: 1 }] });
  const pts = createPtdmaEngines({ core, engine, fabric, placements: ZEN3_2S_PTDMA_PLACEMENTS });
  t.is(pts.length, 16);
  t.deepEqual(pts.map((p) => p.dma.dev.numaNode), [...Array(8).fill(0), ...Array(8).fill(1)]);
  t.deepEqual(pts.map((p) => p.dma.chan.name), pts.map((_, i) => `dma${i}chan0`));
  const chans = Array.from({ length: 17 }, () => engine.dmaRequestChanByMask(dmaCapMaskOf(DMA_MEMCPY)));
  t.is(chans.filter((c) => !isErrPtr(c)).length, 16);
  t.true(Object.values(PTDMA_PARAMS).every((p) => p.doc.length > 10 && p.source.length > 5));
});

test("the serial chain between two descriptors: write-back, MSI, the handler's reads and writes before the doorbell, the descriptor fetch and the first source read", (t) => {
  const p = { completion_writeback: 110, msi_latency: 1300, irq_handler_fixed: 700, mmio_read_latency: 900, mmio_write_cost: 70, doorbell_to_fetch: 160, desc_fetch: 600, desc_setup: 120 };
  const r = rig({ params: p });
  const chan = requestChan(r);
  const done: number[] = [];
  const fetched: number[] = [];
  const offDone = r.core.trace.on("ptdma_desc_complete", (x) => done.push(x.ts));
  const offFetch = r.core.trace.on("ptdma_desc_fetch", (x) => fetched.push(x.ts));
  // As dcbm does: the whole batch prepared and submitted, one issue_pending; the handler starts each next one.
  for (let i = 0; i < 3; i++) {
    const tx = dmaenginePrepDmaMemcpy(chan, (NODE1 + 1 + i) * PAGE_SIZE, (1 + i) * PAGE_SIZE, PAGE_SIZE, DMA_CTRL_ACK | (i === 2 ? DMA_PREP_INTERRUPT : 0))!;
    dmaengineSubmit(tx);
  }
  dmaAsyncIssuePending(chan);
  r.core.sim.run();
  offDone();
  offFetch();
  t.is(done.length, 3);
  // The copy's last beat retires it; the first source read (one desc_fetch) is folded after it.
  const chain = p.completion_writeback + p.desc_fetch + p.msi_latency + p.irq_handler_fixed + 3 * p.mmio_read_latency +
    3 * p.mmio_write_cost + p.doorbell_to_fetch + p.desc_fetch + p.desc_setup;
  t.is(fetched.length, 3);
  t.is(fetched[1]! - done[0]!, chain);
  t.is(fetched[2]! - done[1]!, chain);
});
