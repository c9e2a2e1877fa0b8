import {
  DMA_MEMCPY, DMA_PRIVATE, DmaDevice, dmaCapSet,
  type CallbackContext, type DmaAsyncTxDescriptor, type DmaChan, type DmaTxState,
} from "./dmaengine.js";
import { dmaCookieComplete, dmaCookieStatus, dmaengineDescGetCallbackInvoke } from "./cookie.js";
import type { DmaEngine } from "./registry.js";
import {
  DescCache, VirtDmaChan, VirtDmaDesc, listDel, vchanCookieComplete, vchanFreeChanResources, vchanInit,
  vchanIssuePending, vchanNextDesc, vchanSynchronize, vchanTerminateVdesc, vchanTxPrep, vchanVdescFini,
} from "./virt-dma.js";

/**
 * A minimal virt-dma memcpy provider with no hardware model behind it: each channel copies its
 * issued descriptors one at a time, taking `latencyNs + len / bandwidth`. It exists so the dmaengine
 * core (allocation rules, cookies, callbacks in each context, terminate) can be exercised on its own,
 * and as the smallest example of a provider; PTDMA and SDXI are the faithful ones.
 */
export interface SoftDmaOptions {
  readonly name: string;
  /** @default 0 */
  readonly numaNode?: number;
  /** @default 1 */
  readonly channels?: number;
  /** Register with DMA_PRIVATE (like PTDMA) or public (like SDXI). @default false */
  readonly private?: boolean;
  /** @default "tasklet" */
  readonly callbackContext?: CallbackContext;
  /** Fixed time per descriptor. @default 1000 */
  readonly latencyNs?: number;
  /** Copy rate in GB/s. @default 10 */
  readonly bandwidthGBps?: number;
}

class SoftDesc extends VirtDmaDesc {
  dst = 0;
  src = 0;
  len = 0;
}

class SoftChan extends VirtDmaChan {
  active: SoftDesc | null = null;
  activeGen = 0;
}

export class SoftDmaDevice extends DmaDevice {
  private readonly eng: DmaEngine;
  private readonly latency: number;
  private readonly bw: number;
  private readonly cache: DescCache<SoftDesc>;

  constructor(engine: DmaEngine, opts: SoftDmaOptions) {
    super(engine.createDevice(opts.name, { numaNode: opts.numaNode ?? 0, dmaMaskBits: 64 }));
    this.eng = engine;
    this.latency = opts.latencyNs ?? 1000;
    this.bw = opts.bandwidthGBps ?? 10;
    if (!(this.latency >= 0) || !(this.bw > 0)) throw new RangeError(`soft-dma ${opts.name}: latencyNs must be >= 0 and bandwidthGBps > 0`);
    this.callbackContext = opts.callbackContext ?? "tasklet";
    dmaCapSet(DMA_MEMCPY, this.capMask);
    if (opts.private === true) dmaCapSet(DMA_PRIVATE, this.capMask);
    const n = opts.channels ?? 1;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`soft-dma ${opts.name}: channels must be an integer >= 1, got ${n}`);
    let proto: SoftChan | null = null;
    this.cache = new DescCache(() => new SoftDesc(proto!));
    for (let i = 0; i < n; i++) {
      const ch = new SoftChan(this, (vd) => this.cache.release(vd as SoftDesc));
      proto ??= ch;
      vchanInit(ch, this);
    }
  }

  override devicePrepDmaMemcpy(chan: DmaChan, dst: number, src: number, len: number, flags: number): DmaAsyncTxDescriptor | null {
    const d = this.cache.alloc();
    vchanTxPrep(chan as SoftChan, d, flags);
    d.dst = dst;
    d.src = src;
    d.len = len;
    return d;
  }

  override deviceIssuePending(chan: DmaChan): void {
    const c = chan as SoftChan;
    if (vchanIssuePending(c) && c.active === null) this.startNext(c);
  }

  override deviceTxStatus(chan: DmaChan, cookie: number, state: DmaTxState | null): number {
    return dmaCookieStatus(chan, cookie, state);
  }

  override deviceTerminateAll(chan: DmaChan): number {
    const c = chan as SoftChan;
    if (c.active !== null) {
      vchanTerminateVdesc(c.active);
      c.active = null;
    }
    vchanFreeChanResources(c);
    return 0;
  }

  override deviceSynchronize(chan: DmaChan): void {
    vchanSynchronize(chan as SoftChan);
  }

  override deviceFreeChanResources(chan: DmaChan): void {
    vchanFreeChanResources(chan as SoftChan);
  }

  private startNext(c: SoftChan): void {
    const d = vchanNextDesc(c) as SoftDesc | null;
    if (d === null) return;
    c.active = d;
    c.activeGen = d.gen;
    this.eng.core.sim.schedule(this.latency + Math.ceil(d.len / this.bw), onDone, c);
  }

  /** @internal completion event of the active descriptor. */
  finish(c: SoftChan): void {
    const d = c.active;
    if (d === null || d.gen !== c.activeGen) return; // terminated meanwhile
    c.active = null;
    this.eng.map.iommu.deviceCopy(this.dev, d.dst, d.src, d.len);
    if (this.callbackContext === "hardirq") {
      const prev = this.eng.enterContext("hardirq");
      dmaCookieComplete(d);
      listDel(d);
      dmaengineDescGetCallbackInvoke(d, null);
      vchanVdescFini(d);
      this.eng.exitContext(prev);
    } else {
      vchanCookieComplete(d);
    }
    this.startNext(c);
  }
}

function onDone(c: SoftChan): void {
  (c.device as SoftDmaDevice).finish(c);
}

