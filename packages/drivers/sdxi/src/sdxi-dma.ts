import { EIO, ETIMEDOUT } from "@mmemu/kernel";
import {
  DMA_COMPLETE, DMA_ERROR, DMA_IN_PROGRESS, DMA_MEMCPY, DMA_MEMCPY_SG, DMA_PREP_INTERRUPT, DMA_TRANS_ABORTED,
  DescCache, DmaDevice, MmioMeter, VirtDmaChan, VirtDmaDesc, dmaAllocCoherent, dmaCapSet, dmaCookieStatus,
  sgDmaAddress, sgDmaLen, vchanCookieComplete, vchanFreeChanResources, vchanInit, vchanIssuePending, vchanSynchronize,
  vchanTxPrep, type DmaAsyncTxDescriptor, type DmaChan, type DmaCoherent, type DmaEngine, type DmaTxState,
  type ListNode, type SgTable,
} from "@mmemu/dmaengine";
import {
  SDXI_ADM_CXT_START_NM, SDXI_ADM_CXT_STOP, SDXI_ADM_SYNC, SDXI_CST_BLK_SIZE, SDXI_CST_ER, SDXI_CXT_RUN,
  SDXI_DESC_SIZE, SDXI_DMAB_NOP, SDXI_DSC_FE, SDXI_ERRLOG_ENT_SIZE, SDXI_ERR_STS_ERR, SDXI_ERR_STS_OVF,
  SDXI_ERR_STS_STS, SDXI_GRP_ADMIN, SDXI_GRP_DMAB, SDXI_GRP_INTR, SDXI_GSR_ACTIVE, SDXI_GSV_ACTIVE, SDXI_INTR,
  SDXI_MMIO_CAP1, SDXI_MMIO_CTL0, SDXI_MMIO_CTL2, SDXI_MMIO_CXT_L2, SDXI_MMIO_ERR_CFG, SDXI_MMIO_ERR_CTL,
  SDXI_MMIO_ERR_RD, SDXI_MMIO_ERR_STS, SDXI_MMIO_ERR_WRT, SDXI_MMIO_STS0, SDXI_MMIO_VERSION, SDXI_RING_ENTRIES,
  encodeSdxiCopy, encodeSdxiGeneric, rd64, sdxiSetValid, wr64,
} from "./sdxi-hw.js";
import type { SdxiFunction } from "./sdxi-fn.js";
import type { SdxiSwitches } from "./sdxi-params.js";

/**
 * The proposed Linux SDXI driver (drivers/dma/sdxi/: device.c activation, context.c and ring.c
 * contexts and reservation, admin.c, error.c, dma.c the dmaengine provider; spec 3.8). Channels are
 * public DMA_MEMCPY channels (DMA_MEMCPY_SG too, as one transaction whose copies share one CST_BLK),
 * each backed by a client context started through the admin ring; callbacks run from the virt-dma
 * tasklet; prep reserves ring slots with VL clear and issue_pending sets VL and rings the doorbell
 * once; the IRQ handler completes issued transactions in order while their CST_BLK reads 0.
 */

const ONE_SECOND = 1_000_000_000;

/** Mirrors struct sdxi_cxt: one context's host-memory structures and the driver's write index. */
export class SdxiCxt {
  writeIndex = 0;
  constructor(
    readonly id: number,
    readonly ring: DmaCoherent,
    readonly ctl: DmaCoherent,
    readonly sts: DmaCoherent,
    readonly wi: DmaCoherent,
    readonly akey: DmaCoherent,
    /** One CST_BLK per ring slot, so a block the device still owns is never reused early (v4 plan). */
    readonly csb: DmaCoherent,
  ) {}

  get readIndex(): number {
    return rd64(this.sts.view, 8);
  }

  get state(): number {
    return this.sts.view.getUint8(0) & 0xf;
  }

  slotOff(index: number): number {
    return (index % SDXI_RING_ENTRIES) * SDXI_DESC_SIZE;
  }

  cstBus(index: number): number {
    return this.csb.busAddr + (index % SDXI_RING_ENTRIES) * SDXI_CST_BLK_SIZE;
  }

  cstOff(index: number): number {
    return (index % SDXI_RING_ENTRIES) * SDXI_CST_BLK_SIZE;
  }

  /** Mirrors the non-blocking ring reservation: the first index of `k` slots, or -1 if the ring is full. */
  reserve(k: number): number {
    if (this.writeIndex - this.readIndex + k > SDXI_RING_ENTRIES) return -1;
    const start = this.writeIndex;
    this.writeIndex += k;
    wr64(this.wi.view, 0, this.writeIndex);
    return start;
  }

  /** Arm a slot's CST_BLK: signal = n, flags clear. */
  armCst(index: number, n: number): void {
    const o = this.cstOff(index);
    wr64(this.csb.view, o, n);
    this.csb.view.setUint32(o + 8, 0, true);
  }

  cstSignal(index: number): number {
    return rd64(this.csb.view, this.cstOff(index));
  }

  cstError(index: number): boolean {
    return (this.csb.view.getUint32(this.cstOff(index) + 8, true) & SDXI_CST_ER) !== 0;
  }
}

/** Mirrors struct sdxi_dev: the function as the driver sees it. */
export class SdxiDevice {
  readonly name: string;
  readonly fn: SdxiFunction;
  readonly engine: DmaEngine;
  readonly mmio: MmioMeter;
  readonly l2: DmaCoherent;
  readonly l1: DmaCoherent;
  readonly errlog: DmaCoherent;
  admin!: SdxiCxt;
  /** Error-log lines consumed by the error interrupt handler. */
  readonly log: string[] = [];

  /** Mirrors the activation sequence of spec 3.2 (sdxi_device_init()): tables, admin context, error log, GSR=ACTIVE. */
  constructor(engine: DmaEngine, fn: SdxiFunction) {
    this.engine = engine;
    this.fn = fn;
    this.name = fn.name;
    this.mmio = new MmioMeter(engine, fn.name);
    const dev = fn.dev;
    this.writeq(SDXI_MMIO_CTL0, 0);
    this.readq(SDXI_MMIO_VERSION);
    const cap1 = this.readq(SDXI_MMIO_CAP1);
    this.writeq(SDXI_MMIO_CTL2, cap1);
    const l2 = dmaAllocCoherent(dev, 4096);
    const l1 = dmaAllocCoherent(dev, 4096);
    const errlog = dmaAllocCoherent(dev, 64 * SDXI_ERRLOG_ENT_SIZE);
    if (l2 === null || l1 === null || errlog === null) throw new Error(`${this.name}: cannot allocate context tables`);
    this.l2 = l2;
    this.l1 = l1;
    this.errlog = errlog;
    this.writeq(SDXI_MMIO_CXT_L2, l2.busAddr);
    wr64(l2.view, 0, l1.busAddr + 1); // L2[0] → L1, valid
    this.admin = this.createCxt(0);
    this.admin.sts.view.setUint8(0, SDXI_CXT_RUN); // the admin context runs from the start
    this.publish(this.admin, 0);
    fn.requestIrq(0, (d: SdxiDevice) => d.errorIrq(), this);
    this.writeq(SDXI_MMIO_ERR_CFG, errlog.busAddr + (1 << 1) + 1); // 64 entries, enabled
    this.writeq(SDXI_MMIO_ERR_CTL, 1);
    this.writeq(SDXI_MMIO_CTL0, SDXI_GSR_ACTIVE);
    const ok = engine.core.sim.runUntil(() => this.readq(SDXI_MMIO_STS0) === SDXI_GSV_ACTIVE, ONE_SECOND, "sdxi activation");
    if (!ok) throw new Error(`${this.name}: function did not become active within 1 s (state ${fn.gsv})`);
    this.ringDoorbell(this.admin, 0); // jump start
    this.mmio.flush();
  }

  writeq(off: number, v: number): void {
    this.mmio.write(off, v);
    this.fn.mmioWrite64(off, v);
  }

  readq(off: number): number {
    return this.mmio.read(off, this.fn.mmioRead64(off));
  }

  /** A 64-bit doorbell write of the new write index (BAR2). */
  ringDoorbell(c: SdxiCxt, value: number): void {
    this.mmio.write(0x1_0000_0000 + c.id * 4096, value);
    this.fn.doorbell(c.id, value);
  }

  /** Allocate a context's structures (sdxi_cxt_alloc()); nothing is published yet. */
  createCxt(id: number): SdxiCxt {
    const dev = this.fn.dev;
    const ring = dmaAllocCoherent(dev, SDXI_RING_ENTRIES * SDXI_DESC_SIZE);
    const ctl = dmaAllocCoherent(dev, 64);
    const sts = dmaAllocCoherent(dev, 16);
    const wi = dmaAllocCoherent(dev, 8);
    const akey = dmaAllocCoherent(dev, 4096);
    const csb = dmaAllocCoherent(dev, SDXI_RING_ENTRIES * SDXI_CST_BLK_SIZE);
    if (ring === null || ctl === null || sts === null || wi === null || akey === null || csb === null) throw new Error(`${this.name}: cannot allocate context ${id}`);
    wr64(ctl.view, 16, sts.busAddr);
    wr64(ctl.view, 24, wi.busAddr);
    ctl.view.setUint32(8, SDXI_RING_ENTRIES, true);
    wr64(ctl.view, 0, ring.busAddr + 1); // ds_ring_ptr with vl last
    return new SdxiCxt(id, ring, ctl, sts, wi, akey, csb);
  }

  /** Publish a context in L1 (fields first, vl last) with AKey 0 raising `vector`. */
  publish(c: SdxiCxt, vector: number): void {
    c.akey.view.setUint32(0, (0b11 | (vector << 4)) >>> 0, true); // vl, iv, intr_num
    const o = (c.id & 0x7f) * 32;
    wr64(this.l1.view, o + 8, c.akey.busAddr);
    this.l1.view.setUint32(o + 16, 11 << 20, true); // max_buffer 4 GiB
    this.l1.view.setUint32(o + 24, 0b1011, true); // op groups
    wr64(this.l1.view, o, c.ctl.busAddr + 1);
  }

  unpublish(c: SdxiCxt): void {
    wr64(this.l1.view, (c.id & 0x7f) * 32, 0);
  }

  /**
   * Run one admin descriptor synchronously (admin.c): reserve, encode with a CST_BLK, set VL, ring the
   * doorbell and busy-poll the block for up to 1 s. Returns 0 or -ETIMEDOUT.
   */
  adminRun(subtype: number, first: number, last: number): number {
    const a = this.admin;
    const idx = a.reserve(1);
    if (idx < 0) return -EIO;
    a.armCst(idx, 1);
    encodeSdxiGeneric(a.ring.view, a.slotOff(idx), SDXI_GRP_ADMIN, subtype, SDXI_DSC_FE, a.cstBus(idx), (v, off) => {
      v.setUint16(off + 8, first, true);
      v.setUint16(off + 10, last, true);
    });
    sdxiSetValid(a.ring.view, a.slotOff(idx));
    this.ringDoorbell(a, a.writeIndex);
    const ok = this.engine.core.sim.runUntil(() => a.cstSignal(idx) === 0, ONE_SECOND, "sdxi admin");
    this.mmio.flush();
    return ok ? 0 : -ETIMEDOUT;
  }

  /** The error interrupt (error.c): consume the error log between ERR_RD and ERR_WRT. */
  errorIrq(): void {
    const sts = this.readq(SDXI_MMIO_ERR_STS);
    let rd = this.readq(SDXI_MMIO_ERR_RD);
    this.writeq(SDXI_MMIO_ERR_STS, sts & (SDXI_ERR_STS_STS | SDXI_ERR_STS_OVF | SDXI_ERR_STS_ERR));
    const wrt = this.readq(SDXI_MMIO_ERR_WRT);
    if ((sts & SDXI_ERR_STS_OVF) !== 0) this.log.push("SDXI error log overflow: entries lost");
    for (; rd < wrt; rd++) {
      const o = (rd % 64) * SDXI_ERRLOG_ENT_SIZE;
      const w0 = this.errlog.view.getUint32(o, true);
      const w1 = this.errlog.view.getUint32(o + 4, true);
      this.log.push(`SDXI error: cxt ${w1 >>> 16} dsc ${rd64(this.errlog.view, o + 8)} step ${(w0 >>> 8) & 0x3f} sub_step ${(w1 >>> 8) & 0xf} reaction ${(w1 >>> 12) & 0x7}`);
    }
    this.writeq(SDXI_MMIO_ERR_RD, rd);
  }
}

/** Mirrors struct sdxi_dma_desc: a transaction's slots and its CST_BLK. */
export class SdxiDesc extends VirtDmaDesc {
  /** First ring index and slot count. */
  start = 0;
  nslots = 0;
  /** The ring index whose CST_BLK this transaction signals. */
  cstIndex = 0;
}

/** Mirrors struct sdxi_dma_chan. */
export class SdxiChan extends VirtDmaChan {
  cxt: SdxiCxt | null = null;
  /** Cookies completed with ER when errors are reported. */
  errorCookies: Set<number> | null = null;
  constructor(
    device: SdxiDmaDevice,
    readonly index: number,
    descFree: (vd: VirtDmaDesc) => void,
  ) {
    super(device, descFree);
  }
}

export class SdxiDmaDevice extends DmaDevice {
  readonly sdxi: SdxiDevice;
  readonly switches: SdxiSwitches;
  private readonly cache: DescCache<SdxiDesc>;

  /** Mirrors sdxi_dma_register(): public MEMCPY (and MEMCPY_SG) channels, tasklet callbacks. */
  constructor(sdxi: SdxiDevice, switches: SdxiSwitches, channels: number) {
    super(sdxi.fn.dev);
    this.sdxi = sdxi;
    this.switches = switches;
    this.callbackContext = "tasklet";
    dmaCapSet(DMA_MEMCPY, this.capMask);
    dmaCapSet(DMA_MEMCPY_SG, this.capMask);
    let first: SdxiChan | null = null;
    this.cache = new DescCache(() => new SdxiDesc(first!));
    for (let i = 0; i < channels; i++) {
      const ch = new SdxiChan(this, i, (vd) => this.cache.release(vd as SdxiDesc));
      first ??= ch;
      vchanInit(ch, this);
    }
  }

  private cxtOf(chan: DmaChan): SdxiCxt {
    const c = (chan as SdxiChan).cxt;
    if (c === null) throw new Error(`${chan.name}: used without a client reference (no context allocated)`);
    return c;
  }

  /** Mirrors sdxi_dma_alloc_chan_resources(): a client context with an AKey raising the channel's vector, started via the admin ring. */
  override deviceAllocChanResources(chan: DmaChan): number {
    const ch = chan as SdxiChan;
    const id = ch.index + 1;
    const vector = ch.index + 1;
    const c = this.sdxi.createCxt(id);
    this.sdxi.publish(c, vector);
    this.sdxi.fn.requestIrq(vector, (x: SdxiChan) => (x.device as SdxiDmaDevice).irqHandler(x), ch);
    if (this.sdxi.adminRun(SDXI_ADM_CXT_START_NM, id, id) !== 0) return -EIO;
    ch.cxt = c;
    return 0;
  }

  /** Mirrors sdxi_dma_free_chan_resources(): free descriptors, stop the context (CXT_STOP + SYNC), unpublish. */
  override deviceFreeChanResources(chan: DmaChan): void {
    const ch = chan as SdxiChan;
    vchanFreeChanResources(ch);
    if (ch.cxt === null) return;
    this.sdxi.adminRun(SDXI_ADM_CXT_STOP, ch.cxt.id, ch.cxt.id);
    this.sdxi.adminRun(SDXI_ADM_SYNC, ch.cxt.id, ch.cxt.id);
    this.sdxi.unpublish(ch.cxt);
    ch.cxt = null;
    ch.errorCookies = null;
  }

  /**
   * Mirrors sdxi_dma_prep_memcpy(): size 1..4 GiB, no overlap, then reserve 2 slots (COPY with the
   * CST_BLK, fenced, and a fenced DSC_INTR) with DMA_PREP_INTERRUPT, 1 slot (unfenced COPY) without;
   * encoded with VL clear. Null when invalid or the ring is full.
   */
  override devicePrepDmaMemcpy(chan: DmaChan, dst: number, src: number, len: number, flags: number): DmaAsyncTxDescriptor | null {
    if (len < 1 || len > 0x1_0000_0000) return null;
    if (src < dst + len && dst < src + len) return null;
    const c = this.cxtOf(chan);
    const irq = (flags & DMA_PREP_INTERRUPT) !== 0;
    const start = c.reserve(irq ? 2 : 1);
    if (start < 0) return null;
    c.armCst(start, 1);
    encodeSdxiCopy(c.ring.view, c.slotOff(start), irq ? SDXI_DSC_FE : 0, len, src, dst, c.cstBus(start));
    if (irq) this.encodeIntr(c, start + 1);
    return this.prepDesc(chan as SdxiChan, flags, start, irq ? 2 : 1);
  }

  /**
   * device_prep_dma_memcpy_sg(): one COPY per segment pair, all sharing the first slot's CST_BLK
   * (signal = number of copies), so the transaction completes only when every copy has.
   */
  override devicePrepDmaMemcpySg(chan: DmaChan, dst: SgTable, dstNents: number, src: SgTable, srcNents: number, flags: number): DmaAsyncTxDescriptor | null {
    if (dstNents !== srcNents) return null;
    for (let i = 0; i < srcNents; i++) if (sgDmaLen(src, i) !== sgDmaLen(dst, i) || sgDmaLen(src, i) > 0x1_0000_0000) return null;
    const c = this.cxtOf(chan);
    const irq = (flags & DMA_PREP_INTERRUPT) !== 0;
    const n = srcNents + (irq ? 1 : 0);
    const start = c.reserve(n);
    if (start < 0) return null;
    c.armCst(start, srcNents);
    for (let i = 0; i < srcNents; i++) {
      encodeSdxiCopy(c.ring.view, c.slotOff(start + i), 0, sgDmaLen(src, i), sgDmaAddress(src, i), sgDmaAddress(dst, i), c.cstBus(start));
    }
    if (irq) this.encodeIntr(c, start + srcNents);
    return this.prepDesc(chan as SdxiChan, flags, start, n);
  }

  private encodeIntr(c: SdxiCxt, index: number): void {
    encodeSdxiGeneric(c.ring.view, c.slotOff(index), SDXI_GRP_INTR, SDXI_INTR, SDXI_DSC_FE, 0, (v, off) => v.setUint16(off + 12, 0, true));
  }

  private prepDesc(ch: SdxiChan, flags: number, start: number, nslots: number): SdxiDesc {
    const d = this.cache.alloc();
    vchanTxPrep(ch, d, flags);
    d.start = start;
    d.nslots = nslots;
    d.cstIndex = start;
    return d;
  }

  /** Mirrors sdxi_dma_issue_pending(): set VL on every submitted slot, then one doorbell with the highest end index. */
  override deviceIssuePending(chan: DmaChan): void {
    const ch = chan as SdxiChan;
    const c = this.cxtOf(chan);
    let end = -1;
    for (let n: ListNode = ch.descSubmitted.next; n !== ch.descSubmitted; n = n.next) {
      const d = n as SdxiDesc;
      for (let i = 0; i < d.nslots; i++) sdxiSetValid(c.ring.view, c.slotOff(d.start + i));
      end = Math.max(end, d.start + d.nslots);
    }
    vchanIssuePending(ch);
    if (end >= 0) this.sdxi.ringDoorbell(c, end);
    this.sdxi.mmio.flush();
  }

  /** The channel's interrupt: complete issued transactions in order while their CST_BLK reads 0. */
  irqHandler(ch: SdxiChan): void {
    const e = this.sdxi.engine;
    const prev = e.enterContext("hardirq");
    try {
      const c = ch.cxt;
      if (c === null) return;
      let n: ListNode = ch.descIssued.next;
      while (n !== ch.descIssued) {
        const d = n as SdxiDesc;
        if (c.cstSignal(d.cstIndex) !== 0) break;
        n = n.next;
        this.complete(ch, c, d);
      }
    } finally {
      e.exitContext(prev);
    }
  }

  private complete(ch: SdxiChan, c: SdxiCxt, d: SdxiDesc): void {
    if (c.cstError(d.cstIndex) && this.switches.irqReportsErrors) {
      d.txResult = { result: DMA_TRANS_ABORTED, residue: 0 };
      (ch.errorCookies ??= new Set()).add(d.cookie);
    }
    vchanCookieComplete(d);
  }

  /**
   * Mirrors sdxi_dma_tx_status(): a completed cookie is COMPLETE (DMA_ERROR if it failed and errors
   * are reported); otherwise the descriptor's CST_BLK decides: pending → IN_PROGRESS, ER → DMA_ERROR,
   * done → complete it now. Completing it now moves completed_cookie past earlier cookies that may
   * still be running when the function completes out of order (spec 4.4).
   */
  override deviceTxStatus(chan: DmaChan, cookie: number, state: DmaTxState | null): number {
    const ch = chan as SdxiChan;
    const st = dmaCookieStatus(chan, cookie, state);
    if (st === DMA_COMPLETE) return ch.errorCookies !== null && ch.errorCookies.has(cookie) ? DMA_ERROR : DMA_COMPLETE;
    const c = ch.cxt;
    if (c === null) return st;
    for (let n: ListNode = ch.descIssued.next; n !== ch.descIssued; n = n.next) {
      const d = n as SdxiDesc;
      if (d.cookie !== cookie) continue;
      if (c.cstSignal(d.cstIndex) !== 0) return DMA_IN_PROGRESS;
      if (c.cstError(d.cstIndex)) return DMA_ERROR;
      this.complete(ch, c, d);
      return DMA_COMPLETE;
    }
    return st;
  }

  /**
   * Mirrors sdxi_dma_terminate_all(): rewrite every prepared-but-unissued transaction's slots as NOPs
   * with VL set (so the ring has no holes), ring the doorbell, and free all descriptors. Issued work
   * keeps running; its callbacks are dropped.
   */
  override deviceTerminateAll(chan: DmaChan): number {
    const ch = chan as SdxiChan;
    const c = ch.cxt;
    if (c !== null) {
      let end = -1;
      for (const head of [ch.descAllocated, ch.descSubmitted]) {
        for (let n: ListNode = head.next; n !== head; n = n.next) {
          const d = n as SdxiDesc;
          for (let i = 0; i < d.nslots; i++) {
            encodeSdxiGeneric(c.ring.view, c.slotOff(d.start + i), SDXI_GRP_DMAB, SDXI_DMAB_NOP, 0, 0);
            sdxiSetValid(c.ring.view, c.slotOff(d.start + i));
          }
          end = Math.max(end, d.start + d.nslots);
        }
      }
      if (end >= 0) this.sdxi.ringDoorbell(c, end);
    }
    vchanFreeChanResources(ch);
    ch.errorCookies = null;
    this.sdxi.mmio.flush();
    return 0;
  }

  /**
   * Mirrors sdxi_dma_synchronize(): a fenced NOP with a CST_BLK, busy-polled for up to 1 s (so all
   * earlier work, including terminated work, has finished), then vchan_synchronize().
   */
  override deviceSynchronize(chan: DmaChan): void {
    const ch = chan as SdxiChan;
    const c = ch.cxt;
    if (c !== null) {
      const idx = c.reserve(1);
      if (idx >= 0) {
        c.armCst(idx, 1);
        encodeSdxiGeneric(c.ring.view, c.slotOff(idx), SDXI_GRP_DMAB, SDXI_DMAB_NOP, SDXI_DSC_FE, c.cstBus(idx));
        sdxiSetValid(c.ring.view, c.slotOff(idx));
        this.sdxi.ringDoorbell(c, c.writeIndex);
        this.sdxi.engine.core.sim.runUntil(() => c.cstSignal(idx) === 0, ONE_SECOND, "sdxi synchronize");
      }
    }
    vchanSynchronize(ch);
    this.sdxi.mmio.flush();
  }
}
