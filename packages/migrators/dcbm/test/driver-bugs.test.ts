/**
 * The checker against planted driver bugs: a small dmaengine migrator ("TINY") and a small virt-dma
 * engine ("buggy"), each with one bug switched on at a time. Every bug class of the driver rules —
 * leaks, early completion and late device writes, protocol, blame — must be reported with the
 * migrator or engine, the batch, the pair or channel, and the rule.
 */
import test from "ava";
import { FOLIO_CONTENT_COPIED, PAGE_SIZE } from "@mmemu/mm-core";
import {
  DMA_CTRL_ACK, DMA_FROM_DEVICE, DMA_MEMCPY, DMA_PREP_INTERRUPT, DMA_PRIVATE, DMA_TO_DEVICE, DescCache, DmaDevice,
  VirtDmaChan, VirtDmaDesc, dmaAsyncIssuePending, dmaCapMaskOf, dmaCapSet, dmaCookieComplete,
  dmaCookieStatus, dmaMapPage, dmaSyncWait, dmaUnmapPage, dmaengineDescGetCallbackInvoke, dmaengineGetDmaDevice,
  dmaenginePrepDmaMemcpy, dmaengineSubmit, isErrPtr, listDel, vchanFreeChanResources, vchanInit, vchanIssuePending,
  vchanNextDesc, vchanSynchronize, vchanTxPrep, vchanVdescFini,
  type DmaAsyncTxDescriptor, type DmaChan, type DmaEngine, type DmaTxState,
} from "@mmemu/dmaengine";
import { Module, migrateOffloadRegister, migrateOffloadUnregister, tryModuleGet, type Migrator } from "@mmemu/offload-api";
import { anon, migrateRange, rig, type Rig } from "./rig.js";

/** The bugs TINY can have. */
interface TinyBugs {
  keepChannel?: boolean;
  keepMapping?: boolean;
  returnCount?: boolean;
  /** Return 0 right after issuing, without waiting for the copies. */
  noWait?: boolean;
  writeSource?: boolean;
  /** Pair 0 is copied destination -> source. */
  swapFirst?: boolean;
  moduleGet?: boolean;
  /** V6: mark every destination copied but skip pair 0's copy. */
  markSkipFirst?: boolean;
  /** Wait by polling the last cookie (dma_sync_wait) instead of for the callbacks. */
  poll?: boolean;
}

/** A minimal dmaengine migrator: one private channel, dma_map_page per folio, one memcpy each. */
function tiny(r: Rig, bugs: TinyBugs = {}): Migrator {
  const mask = dmaCapMaskOf(DMA_MEMCPY);
  const owner = new Module("tiny");
  const folios = r.m.folios;
  return {
    name: "TINY",
    owner,
    offloadCopy(dst, src, n) {
      if (bugs.moduleGet === true) tryModuleGet(owner);
      const chan = r.dma.dmaRequestChanByMask(mask, "tiny");
      if (isErrPtr(chan)) return chan;
      const dev = dmaengineGetDmaDevice(chan);
      const maps: number[] = [];
      const done = { n: 0 };
      let cookie = 0;
      for (let i = 0; i < n; i++) {
        const bytes = folios.nrPages(src[i]!) * PAGE_SIZE;
        const s = dmaMapPage(dev, src[i]!, 0, bytes, DMA_TO_DEVICE);
        const d = dmaMapPage(dev, dst[i]!, 0, bytes, DMA_FROM_DEVICE);
        maps.push(s, d, bytes);
        if (i === 0 && bugs.markSkipFirst === true) continue;
        const swap = i === 0 && bugs.swapFirst === true;
        const tx = dmaenginePrepDmaMemcpy(chan, swap ? s : d, swap ? d : s, bytes, DMA_CTRL_ACK | DMA_PREP_INTERRUPT)!;
        tx.callback = () => done.n++;
        cookie = dmaengineSubmit(tx);
      }
      const want = bugs.markSkipFirst === true ? n - 1 : n;
      if (bugs.poll === true) dmaSyncWait(chan, cookie);
      else {
        dmaAsyncIssuePending(chan);
        if (bugs.noWait !== true) r.m.sim.runUntil(() => done.n === want, 1e9, "tiny wait");
      }
      if (bugs.writeSource === true) r.m.mem.fillPages(src[0]!, 1, 0xfeed);
      if (bugs.markSkipFirst === true) for (let i = 0; i < n; i++) r.m.folios.migrateInfo[dst[i]!]! |= FOLIO_CONTENT_COPIED;
      if (bugs.keepMapping !== true) {
        for (let k = 0; k < maps.length; k += 3) {
          dmaUnmapPage(dev, maps[k]!, maps[k + 2]!, DMA_TO_DEVICE);
          dmaUnmapPage(dev, maps[k + 1]!, maps[k + 2]!, DMA_FROM_DEVICE);
        }
      }
      if (bugs.keepChannel !== true) r.dma.dmaReleaseChannel(chan);
      return bugs.returnCount === true ? n : 0;
    },
  };
}

/** A rig where TINY is the migrator, and the checker and dmaengine debug collect violations. */
function tinyRig(bugs: TinyBugs, o: { engines?: number; series?: "v5" | "v6" } = {}): { r: Rig; mig: Migrator; dbg: Rig["dbg"] } {
  const r = rig({ engines: o.engines ?? 1, series: o.series ?? "v5", off: true, collectViolations: true });
  const mig = tiny(r, bugs);
  if (migrateOffloadRegister(r.m, mig) !== 0) throw new Error("TINY did not register");
  return { r, mig, dbg: r.dbg };
}

/** Migrate 4 pages to node 1 and let the engines finish whatever they still run. */
function run(r: Rig): void {
  const addr = anon(r, 4 * PAGE_SIZE);
  migrateRange(r, addr, 4 * PAGE_SIZE, 1);
  r.m.sim.run();
}

function has(t: { true(v: boolean, msg?: string): void }, r: Rig, re: RegExp): void {
  t.true(r.checker.violations.some((v) => re.test(v)), `expected ${re} among:\n${r.checker.violations.join("\n")}`);
}

test("a correct migrator on PTDMA breaks no rule", (t) => {
  const { r, dbg } = tinyRig({});
  run(r);
  t.deepEqual(r.checker.violations, []);
  t.deepEqual(dbg.violations, []);
  t.is(r.checker.offloadsVerified, 1, "the driver checks ran");
});

test("leak: a channel requested for the batch and never released", (t) => {
  const { r } = tinyRig({ keepChannel: true });
  run(r);
  has(t, r, /^migrator TINY, batch 1: engine ptdma0, channel dma0chan0: still held by tiny .*dma_release_channel/);
});

test("leak: DMA mappings not unmapped", (t) => {
  const { r } = tinyRig({ keepMapping: true });
  run(r);
  has(t, r, /^migrator TINY, batch 1: device ptdma0: 8 DMA mapping\(s\) made during the batch are still live/);
});

test("leak: a module reference taken in the copy and never put, per batch and after unregister", (t) => {
  const { r, mig } = tinyRig({ moduleGet: true });
  run(r);
  has(t, r, /^migrator TINY, batch 1: module tiny's refcount went from 1 to 2 during offload_copy/);
  t.is(migrateOffloadUnregister(r.m, mig), 0);
  has(t, r, /^migrator TINY: module tiny's refcount is 1 after migrate_offload_unregister\(\), 0 before migrate_offload_register\(\)/);
});

test("protocol: a positive return (a count) is outside the contract, and the batch falls back as EBADRET", (t) => {
  const { r } = tinyRig({ returnCount: true });
  run(r);
  has(t, r, /^migrator TINY, batch 1: offload_copy returned 4; the contract is 0 \(all copied\) or a negative errno/);
});

test("early completion: returning before the copies finish is caught at the return, and the engine's writes after it as late", (t) => {
  const { r } = tinyRig({ noWait: true });
  run(r);
  has(t, r, /^migrator TINY, batch 1, pair \d \(src folio \d+ -> dst folio \d+\): claimed copied .*early completion/);
  has(t, r, /^engine ptdma0: device write to pfn \d+ \(folio \d+\) after batch 1's offload copy returned \(a late write/);
  has(t, r, /^migrator TINY, batch 1: engine ptdma0, channel dma0chan0: \d callback\(s\) owed by submitted descriptors never ran/);
});

test("blame: a migrator that writes to a source folio is named, not a stale TLB entry", (t) => {
  const { r } = tinyRig({ writeSource: true });
  run(r);
  has(t, r, /^migrator TINY, batch 1, pair 0 \(src folio \d+ -> dst folio \d+\): the migrator wrote to source folio \d+ \(page 0 changed during offload_copy\)/);
  t.false(r.checker.violations.some((v) => /stale translation/.test(v)));
});

test("blame: a copy programmed backwards has the engine write a source page, named with the engine", (t) => {
  const { r } = tinyRig({ swapFirst: true });
  run(r);
  has(t, r, /^engine ptdma0: device write to pfn \d+ \(source folio \d+\) of batch 1's offload copy in progress/);
});

test("protocol: V6 marks on a destination that was not copied", (t) => {
  const { r } = tinyRig({ markSkipFirst: true }, { series: "v6" });
  run(r);
  has(t, r, /^migrator TINY, batch 1, pair 0 \(src folio \d+ -> dst folio \d+\): marked FOLIO_CONTENT_COPIED, but page 0 of the destination does not hold/);
});

// ---- engine bugs ---------------------------------------------------------------------------------

interface EngineBugs {
  callbackTwice?: boolean;
  noCallback?: boolean;
  noFree?: boolean;
  /** Complete (and call back) first, write the destination a little later. */
  completeBeforeWrite?: boolean;
}

class BDesc extends VirtDmaDesc {
  dst = 0;
  src = 0;
  len = 0;
}

/** A small serial virt-dma memcpy engine (1 µs per descriptor) with plantable bugs. */
class BuggyDma extends DmaDevice {
  readonly chan: VirtDmaChan;
  private active: BDesc | null = null;
  private readonly cache: DescCache<BDesc>;

  constructor(private readonly eng: DmaEngine, private readonly bugs: EngineBugs) {
    super(eng.createDevice("buggy0", { dmaMaskBits: 64 }));
    dmaCapSet(DMA_MEMCPY, this.capMask);
    dmaCapSet(DMA_PRIVATE, this.capMask);
    this.callbackContext = "hardirq";
    this.chan = new VirtDmaChan(this, (vd) => this.cache.release(vd as BDesc));
    const chan = this.chan;
    this.cache = new DescCache(() => new BDesc(chan));
    vchanInit(this.chan, this);
  }

  override devicePrepDmaMemcpy(chan: DmaChan, dst: number, src: number, len: number, flags: number): DmaAsyncTxDescriptor | null {
    const d = this.cache.alloc();
    vchanTxPrep(chan as VirtDmaChan, d, flags);
    d.dst = dst;
    d.src = src;
    d.len = len;
    return d;
  }

  override deviceIssuePending(): void {
    if (vchanIssuePending(this.chan) && this.active === null) this.startNext();
  }

  override deviceTxStatus(chan: DmaChan, cookie: number, state: DmaTxState | null): number {
    return dmaCookieStatus(chan, cookie, state);
  }

  override deviceTerminateAll(): number {
    this.active = null;
    vchanFreeChanResources(this.chan);
    return 0;
  }

  override deviceSynchronize(): void {
    vchanSynchronize(this.chan);
  }

  override deviceFreeChanResources(): void {
    this.active = null;
    vchanFreeChanResources(this.chan);
  }

  private startNext(): void {
    const d = vchanNextDesc(this.chan) as BDesc | null;
    this.active = d;
    if (d !== null) this.eng.core.sim.schedule(1000, () => this.finish(d));
  }

  private finish(d: BDesc): void {
    if (this.active !== d) return;
    const b = this.bugs;
    if (b.completeBeforeWrite === true) this.eng.core.sim.schedule(5000, () => this.eng.map.iommu.deviceCopy(this.dev, d.dst, d.src, d.len));
    else this.eng.map.iommu.deviceCopy(this.dev, d.dst, d.src, d.len);
    dmaCookieComplete(d);
    listDel(d);
    if (b.noCallback !== true) dmaengineDescGetCallbackInvoke(d, null);
    if (b.callbackTwice === true) dmaengineDescGetCallbackInvoke(d, null);
    if (b.noFree !== true) vchanVdescFini(d);
    this.startNext();
  }
}

function engineRig(bugs: EngineBugs, tinyBugs: TinyBugs = {}): Rig {
  const { r } = tinyRig(tinyBugs, { engines: 0 });
  const dev = new BuggyDma(r.dma, bugs);
  const rc = r.dma.dmaAsyncDeviceRegister(dev);
  if (rc !== 0) throw new Error(`buggy0: dma_async_device_register failed (${rc})`);
  return r;
}

test("a correct small engine breaks no rule", (t) => {
  const r = engineRig({});
  run(r);
  t.deepEqual(r.checker.violations, []);
});

test("protocol: an engine that runs a callback twice is named with its channel", (t) => {
  const r = engineRig({ callbackTwice: true });
  run(r);
  has(t, r, /^engine buggy0, channel dma0chan0: callback of cookie \d+ run twice/);
});

test("protocol: an engine that never runs the callbacks (the client polls, so it does not hang)", (t) => {
  const r = engineRig({ noCallback: true }, { poll: true });
  run(r);
  has(t, r, /^migrator TINY, batch 1: engine buggy0, channel dma0chan0: 4 callback\(s\) owed by submitted descriptors never ran/);
});

test("leak: an engine that completes descriptors but never frees them", (t) => {
  const r = engineRig({ noFree: true });
  run(r);
  has(t, r, /^migrator TINY, batch 1: engine buggy0, channel dma0chan0: 4 descriptor\(s\) prepared during the batch were neither completed nor freed/);
});

test("early completion: an engine that signals completion before its write lands", (t) => {
  const r = engineRig({ completeBeforeWrite: true });
  run(r);
  has(t, r, /^migrator TINY, batch 1, pair 0 .*claimed copied .*early completion/);
  has(t, r, /^engine buggy0: device write to pfn \d+ \(folio \d+\) after batch 1's offload copy returned/);
});
