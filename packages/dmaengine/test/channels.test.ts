import test from "ava";
import { Cost, EIO, ENODEV, KernelCore, type CostKind } from "@mmemu/kernel";
import { PhysMem } from "@mmemu/mm-core";
import {
  DMA_INTERRUPT, DMA_MEMCPY, DMA_MEMCPY_SG, DMA_PRIVATE, DmaChan, DmaDevice, DmaEngine, EPROBE_DEFER, SoftDmaDevice,
  dmaCapMaskOf, dmaCapSet, dmaHasCap, isErrPtr,
} from "@mmemu/dmaengine";

function machine() {
  const core = new KernelCore();
  const mem = new PhysMem([{ id: 0, pages: 1024, cpus: 2 }, { id: 1, pages: 1024, cpus: 2 }]);
  return { core, mem, engine: new DmaEngine({ core, mem }) };
}

test("dma_request_chan_by_mask: -EPROBE_DEFER with no devices, -ENODEV when nothing matches", (t) => {
  const { engine } = machine();
  t.is(engine.dmaRequestChanByMask(dmaCapMaskOf(DMA_MEMCPY)), -EPROBE_DEFER);
  const d = new SoftDmaDevice(engine, { name: "soft0", private: true });
  t.is(engine.dmaAsyncDeviceRegister(d), 0);
  t.is(engine.dmaRequestChanByMask(dmaCapMaskOf(DMA_MEMCPY_SG)), -ENODEV);
  t.is(engine.dmaRequestChanByMask(dmaCapMaskOf()), -ENODEV);
});

test("private channels are exclusive until released, then reusable", (t) => {
  const { engine } = machine();
  const d = new SoftDmaDevice(engine, { name: "soft0", private: true });
  engine.dmaAsyncDeviceRegister(d);
  const mask = dmaCapMaskOf(DMA_MEMCPY);
  const a = engine.dmaRequestChanByMask(mask, "dcbm");
  t.false(isErrPtr(a));
  t.is((a as DmaChan).name, "dma0chan0");
  t.is((a as DmaChan).clientCount, 1);
  t.is(engine.dmaRequestChanByMask(mask), -ENODEV, "the only channel is taken");
  engine.dmaReleaseChannel(a as DmaChan);
  t.is((a as DmaChan).clientCount, 0);
  t.true(dmaHasCap(DMA_PRIVATE, d.capMask), "an always-private device keeps DMA_PRIVATE after release");
  t.is(engine.dmaRequestChanByMask(mask), a);
  t.throws(() => { engine.dmaReleaseChannel(a as DmaChan); engine.dmaReleaseChannel(a as DmaChan); }, { message: /not held/ });
});

test("16 private devices give 16 channels, then -ENODEV", (t) => {
  const { engine } = machine();
  for (let i = 0; i < 16; i++) engine.dmaAsyncDeviceRegister(new SoftDmaDevice(engine, { name: `pt${i}`, private: true }));
  const got = new Set<DmaChan>();
  for (let i = 0; i < 16; i++) {
    const c = engine.dmaRequestChanByMask(dmaCapMaskOf(DMA_MEMCPY));
    if (!isErrPtr(c)) got.add(c);
  }
  t.is(got.size, 16);
  t.is(engine.dmaRequestChanByMask(dmaCapMaskOf(DMA_MEMCPY)), -ENODEV);
  t.regex(engine.summary(), /dma15 \(pt15\): number of channels: 1/);
});

test("a channel request walks the device list from its head: the k-th channel a client holds costs k + 1 candidates", (t) => {
  const { core, engine } = machine();
  for (let i = 0; i < 16; i++) engine.dmaAsyncDeviceRegister(new SoftDmaDevice(engine, { name: `pt${i}`, private: true }));
  const units = new Float64Array(64);
  core.cost = { charge(kind: CostKind, n: number) { units[kind]! += n; } };
  const held: DmaChan[] = [];
  const examined: number[] = [];
  for (let i = 0; i < 16; i++) {
    const before = units[Cost.DMA_CHAN_CANDIDATE]!;
    held.push(engine.dmaRequestChanByMask(dmaCapMaskOf(DMA_MEMCPY)) as DmaChan);
    examined.push(units[Cost.DMA_CHAN_CANDIDATE]! - before);
  }
  t.deepEqual(examined, Array.from({ length: 16 }, (_, i) => i + 1));
  t.is(units[Cost.DMA_CHAN_REQUEST], 16, "one fixed request cost per channel");
  const before = units[Cost.DMA_CHAN_CANDIDATE]!;
  t.is(engine.dmaRequestChanByMask(dmaCapMaskOf(DMA_MEMCPY)), -ENODEV);
  t.is(units[Cost.DMA_CHAN_CANDIDATE]! - before, 16, "a failed request examined every device");
  engine.dmaReleaseChannel(held[3]!);
  const again = units[Cost.DMA_CHAN_CANDIDATE]!;
  t.is(engine.dmaRequestChanByMask(dmaCapMaskOf(DMA_MEMCPY)), held[3]);
  t.is(units[Cost.DMA_CHAN_CANDIDATE]! - again, 4, "the walk stops at the first free channel");
});

test("public channels: dma_find_channel needs dmaengine_get, prefers the CPU's node, and is shared", (t) => {
  const { engine } = machine();
  const d0 = new SoftDmaDevice(engine, { name: "sdxi0", numaNode: 0 });
  const d1 = new SoftDmaDevice(engine, { name: "sdxi1", numaNode: 1 });
  engine.dmaAsyncDeviceRegister(d0);
  engine.dmaAsyncDeviceRegister(d1);
  t.is(engine.dmaFindChannel(DMA_MEMCPY, 0), null, "no table without a dmaengine_get() user");
  engine.dmaengineGet();
  const c0 = engine.dmaFindChannel(DMA_MEMCPY, 0);
  const c3 = engine.dmaFindChannel(DMA_MEMCPY, 3);
  t.is(c0, d0.channels[0]);
  t.is(c3, d1.channels[0], "CPU 3 sits on node 1");
  t.is(engine.dmaFindChannel(DMA_MEMCPY, 1), d0.channels[0], "shared between CPUs of a node");
  t.is(engine.dmaRequestChanByMask(dmaCapMaskOf(DMA_MEMCPY)), -ENODEV, "publicly held channels cannot be taken privately");
  engine.dmaenginePut();
  t.is(d0.channels[0]!.clientCount, 0);
  t.throws(() => engine.dmaenginePut(), { message: /without a matching/ });
  t.throws(() => engine.dmaFindChannel(DMA_MEMCPY, 99), { message: /cpu 99/ });
});

test("requesting a public device's channel makes the device private until release", (t) => {
  const { engine } = machine();
  const d = new SoftDmaDevice(engine, { name: "sdxi0" });
  engine.dmaAsyncDeviceRegister(d);
  t.false(dmaHasCap(DMA_PRIVATE, d.capMask));
  const c = engine.dmaRequestChanByMask(dmaCapMaskOf(DMA_MEMCPY)) as DmaChan;
  t.true(dmaHasCap(DMA_PRIVATE, d.capMask));
  engine.dmaReleaseChannel(c);
  t.false(dmaHasCap(DMA_PRIVATE, d.capMask));
});

test("dma_request_channel applies the filter and returns null on failure", (t) => {
  const { engine } = machine();
  const a = new SoftDmaDevice(engine, { name: "a", private: true, numaNode: 0 });
  const b = new SoftDmaDevice(engine, { name: "b", private: true, numaNode: 1 });
  engine.dmaAsyncDeviceRegister(a);
  engine.dmaAsyncDeviceRegister(b);
  const onNode1 = (c: DmaChan, node: unknown) => c.device.dev.numaNode === node;
  t.is(engine.dmaRequestChannel(dmaCapMaskOf(DMA_MEMCPY), onNode1, 1), b.channels[0]);
  t.is(engine.dmaRequestChannel(dmaCapMaskOf(DMA_MEMCPY), onNode1, 1), null);
});

class Incomplete extends DmaDevice {}

test("registration rejects capabilities without ops, missing tx_status/issue_pending, and no channels", (t) => {
  const { engine } = machine();
  const dev = engine.createDevice("bad0");
  const d = new Incomplete(dev);
  dmaCapSet(DMA_MEMCPY, d.capMask);
  t.is(engine.dmaAsyncDeviceRegister(d), -EIO);
  t.regex(engine.log.at(-1)!, /claims capability DMA_MEMCPY, but op device_prep_dma_memcpy is not defined/);

  const s = new SoftDmaDevice(engine, { name: "soft" });
  dmaCapSet(DMA_MEMCPY_SG, s.capMask);
  t.is(engine.dmaAsyncDeviceRegister(s), -EIO);
  t.regex(engine.log.at(-1)!, /DMA_MEMCPY_SG/);

  const s2 = new SoftDmaDevice(engine, { name: "soft2" });
  dmaCapSet(DMA_INTERRUPT, s2.capMask);
  t.is(engine.dmaAsyncDeviceRegister(s2), -EIO);

  const s3 = new SoftDmaDevice(engine, { name: "soft3" });
  s3.channels.length = 0;
  t.is(engine.dmaAsyncDeviceRegister(s3), -ENODEV);
  t.regex(engine.log.at(-1)!, /no channels/);

  class NoStatus extends SoftDmaDevice {
    override deviceTxStatus = undefined as never;
  }
  t.is(engine.dmaAsyncDeviceRegister(new NoStatus(engine, { name: "ns" })), -EIO);
  t.regex(engine.log.at(-1)!, /tx_status is not defined/);
});

test("bad parameters are reported by name", (t) => {
  const { core, mem } = machine();
  t.throws(() => new DmaEngine({ core, mem, params: { tasklet_latency: -1 } }), { message: /tasklet_latency: -1 ns is outside/ });
  t.throws(() => new DmaEngine({ core, mem, params: { nope: 1 } as never }), { message: /nope: unknown parameter/ });
  t.throws(() => dmaCapMaskOf(99), { message: /unknown dma_transaction_type 99/ });
});
