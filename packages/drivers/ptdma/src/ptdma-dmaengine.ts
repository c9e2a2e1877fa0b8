import {
  DMA_COMPLETE, DMA_ERROR, DMA_INTERRUPT, DMA_IN_PROGRESS, DMA_MEMCPY, DMA_PREP_INTERRUPT, DMA_PRIVATE,
  DMA_RESIDUE_GRANULARITY_DESCRIPTOR, DMA_TRANS_ABORTED, DMA_TRANS_READ_FAILED, DMA_TRANS_WRITE_FAILED,
  DescCache, DmaDevice, VirtDmaChan, VirtDmaDesc, dmaCapSet, dmaCookieComplete, dmaCookieStatus,
  dmaRunDependencies, dmaengineDescGetCallbackInvoke, listDel, vchanCookieComplete, vchanFreeChanResources,
  vchanInit, vchanIssuePending, vchanNextDesc, vchanSynchronize, vchanTxPrep, vchanVdescFini,
  type DmaAsyncTxDescriptor, type DmaChan, type DmaTxState, type ListNode,
} from "@mmemu/dmaengine";
import {
  CMD_Q_HEAD_LO_BASE, CMD_Q_INTERRUPT_STATUS_BASE, CMD_Q_LEN, CMD_Q_STATUS_INCR, Q_DESC_SIZE, SUPPORTED_INTERRUPTS,
  ptErrorIsRead, ptErrorIsWrite, ptErrorName,
} from "./ptdma-regs.js";
import type { PtDevice } from "./ptdma-dev.js";
import { ptdmaFaults } from "./ptdma-hw.js";
import type { FaultPoint } from "@mmemu/kernel";

/**
 * The dmaengine glue of drivers/dma/amd/ptdma/ptdma-dmaengine.c (spec 1.11): one private channel
 * per function with DMA_MEMCPY | DMA_INTERRUPT | DMA_PRIVATE; virt-dma lists; pt_issue_pending()
 * starts the first issued descriptor only if the engine was idle; each completion (IRQ or a
 * tx_status poll) completes the active descriptor, runs its callback inline and starts the next, so
 * at most one descriptor is in the hardware. The quirks of the merged driver are the defaults of
 * {@link PtdmaSwitches}; each has a corrected alternative.
 */

/** Mirrors struct pt_dma_desc. */
export class PtDmaDesc extends VirtDmaDesc {
  // 48-bit DMA addresses split as the descriptor stores them (low dword as a signed int32, high 16
  // bits), so the fields stay small integers rather than boxed doubles.
  srcLo = 0;
  srcHi = 0;
  dstLo = 0;
  dstHi = 0;
  len = 0;
  /** issued_to_hw */
  issuedToHw = false;
  /** The driver's own DMA_IN_PROGRESS / DMA_COMPLETE / DMA_ERROR. */
  status = DMA_IN_PROGRESS;
  /** This descriptor's DMA_PREP_INTERRUPT (used by the corrected int_en switch). */
  get wantsIrq(): boolean {
    return (this.flags & DMA_PREP_INTERRUPT) !== 0;
  }
  /** The hardware error code that completed it, 0 if none. */
  hwError = 0;
}

/** Mirrors struct pt_dma_chan. */
export class PtDmaChan extends VirtDmaChan {
  /** Cookies that completed with a hardware error (only kept when errors are visible to clients). */
  errorCookies: Set<number> | null = null;
  /** Issued descriptors not yet started that asked for an interrupt (corrected int_en). */
  irqWanters = 0;
}

export class PtDmaDevice extends DmaDevice {
  readonly pt: PtDevice;
  readonly chan: PtDmaChan;
  /** More than one descriptor in the ring (the corrected maxInFlight switch). */
  readonly pipelined: boolean;
  private readonly maxInFlight: number;
  private inflight = 0;
  private lastHead = 0;
  private readonly cache: DescCache<PtDmaDesc>;
  private readonly descAllocFault: FaultPoint;

  /** Mirrors pt_dmaengine_register() up to dma_async_device_register(). */
  constructor(pt: PtDevice) {
    super(pt.hw.dev);
    this.pt = pt;
    pt.dma = this;
    const sw = pt.switches;
    this.callbackContext = sw.callbackContext;
    this.residueGranularity = DMA_RESIDUE_GRANULARITY_DESCRIPTOR;
    this.maxInFlight = sw.maxInFlight;
    this.pipelined = sw.maxInFlight > 1;
    this.lastHead = pt.tailAddr();
    dmaCapSet(DMA_MEMCPY, this.capMask);
    dmaCapSet(DMA_INTERRUPT, this.capMask);
    // PTDMA is meant for NTB use, so the driver registers it private (spec 1.11).
    dmaCapSet(DMA_PRIVATE, this.capMask);
    this.chan = new PtDmaChan(this, (vd) => this.cache.release(vd as PtDmaDesc));
    const chan = this.chan;
    this.cache = new DescCache(() => new PtDmaDesc(chan));
    this.descAllocFault = ptdmaFaults(pt.engine.core).descAlloc;
    vchanInit(this.chan, this);
  }

  /**
   * Mirrors pt_alloc_dma_desc(): a GFP_NOWAIT allocation that can fail (fault point ptdma.desc_alloc),
   * and the device-wide int_en written at every prep.
   */
  private allocDesc(flags: number): PtDmaDesc | null {
    if (this.descAllocFault.armed && this.descAllocFault.shouldFail(this.pt.hw.index)) return null;
    const d = this.cache.alloc();
    vchanTxPrep(this.chan, d, flags);
    const want = (flags & DMA_PREP_INTERRUPT) !== 0;
    this.pt.cmdQ.intEn = want;
    d.issuedToHw = false;
    d.status = DMA_IN_PROGRESS;
    d.hwError = 0;
    return d;
  }

  /** Mirrors pt_prep_dma_memcpy(); the length is an unsigned int, so sizes of 4 GiB and more wrap (spec 1.10). */
  override devicePrepDmaMemcpy(_chan: DmaChan, dst: number, src: number, len: number, flags: number): DmaAsyncTxDescriptor | null {
    const d = this.allocDesc(flags);
    if (d === null) return null;
    d.srcLo = src | 0;
    d.srcHi = Math.floor(src / 0x1_0000_0000) & 0xffff;
    d.dstLo = dst | 0;
    d.dstHi = Math.floor(dst / 0x1_0000_0000) & 0xffff;
    d.len = len | 0;
    return d;
  }

  /** Mirrors pt_prep_dma_interrupt(): a descriptor with no copy parameters (a zero-length passthru). */
  override devicePrepDmaInterrupt(_chan: DmaChan, flags: number): DmaAsyncTxDescriptor | null {
    const d = this.allocDesc(flags);
    if (d === null) return null;
    d.srcLo = d.srcHi = d.dstLo = d.dstHi = d.len = 0;
    return d;
  }

  /** Mirrors pt_issue_pending(). */
  override deviceIssuePending(_chan: DmaChan): void {
    const c = this.chan;
    if (!this.pt.switches.intEnPerDevice) {
      for (let n: ListNode = c.descSubmitted.next; n !== c.descSubmitted; n = n.next) if ((n as PtDmaDesc).wantsIrq) c.irqWanters++;
    }
    if (this.pipelined) {
      vchanIssuePending(c);
      this.fillRing();
    } else {
      const idle = vchanNextDesc(c) === null;
      vchanIssuePending(c);
      const desc = vchanNextDesc(c) as PtDmaDesc | null;
      if (idle && desc !== null) this.cmdCallback(desc, 0);
    }
    this.pt.flushCharges();
  }

  /** Mirrors pt_tx_status(): poll the hardware (which may complete and start descriptors), then the cookie. */
  override deviceTxStatus(_chan: DmaChan, cookie: number, state: DmaTxState | null): number {
    this.pt.checkStatusTrans();
    this.pt.flushCharges();
    const st = dmaCookieStatus(this.chan, cookie, state);
    if (st === DMA_COMPLETE && this.chan.errorCookies !== null && this.chan.errorCookies.has(cookie)) return DMA_ERROR;
    return st;
  }

  /** Mirrors pt_pause(): clear RUN. */
  override devicePause(_chan: DmaChan): number {
    this.pt.stopQueue();
    this.pt.flushCharges();
    return 0;
  }

  /**
   * Mirrors pt_resume(): set RUN and push the first issued descriptor through the completion path —
   * which, if that descriptor was already in the hardware, completes it early, as the driver does.
   */
  override deviceResume(_chan: DmaChan): number {
    this.pt.startQueue();
    const d = vchanNextDesc(this.chan) as PtDmaDesc | null;
    if (d !== null) this.cmdCallback(d, 0);
    this.pt.flushCharges();
    return 0;
  }

  /**
   * Mirrors pt_terminate_all(): ack INTERRUPT_STATUS and free every software descriptor. The
   * descriptor in the ring keeps running unless `terminateStopsHardware` (spec 4.6).
   */
  override deviceTerminateAll(_chan: DmaChan): number {
    const c = this.chan;
    if (this.pt.switches.terminateStopsHardware) {
      this.pt.abortQueue();
      this.lastHead = this.pt.tailAddr();
    } else {
      this.pt.iowrite32(CMD_Q_STATUS_INCR + CMD_Q_INTERRUPT_STATUS_BASE, SUPPORTED_INTERRUPTS);
    }
    vchanFreeChanResources(c);
    c.errorCookies = null;
    c.irqWanters = 0;
    this.inflight = 0;
    this.pt.flushCharges();
    return 0;
  }

  /** Mirrors pt_synchronize(): vchan_synchronize(); it does not wait for the hardware. */
  override deviceSynchronize(_chan: DmaChan): void {
    vchanSynchronize(this.chan);
  }

  /** Mirrors pt_free_chan_resources(). */
  override deviceFreeChanResources(_chan: DmaChan): void {
    vchanFreeChanResources(this.chan);
  }

  /** Mirrors pt_cmd_callback(): complete what finished and start the next descriptor. */
  cmdCallback(desc: PtDmaDesc, err: number): void {
    if (err !== 0) desc.status = DMA_ERROR;
    const next = this.handleActiveDesc(desc);
    if (next !== null) this.startDesc(next);
  }

  /** Mirrors pt_handle_active_desc(): retire descriptors until one is found that still has to be started. */
  private handleActiveDesc(first: PtDmaDesc | null): PtDmaDesc | null {
    let desc = first;
    const c = this.chan;
    do {
      let tx: PtDmaDesc | null = null;
      if (desc !== null) {
        if (!desc.issuedToHw && desc.status !== DMA_ERROR) return desc;
        if (desc.status !== DMA_COMPLETE) {
          if (desc.status !== DMA_ERROR) desc.status = DMA_COMPLETE;
          tx = this.retire(desc);
        }
      }
      desc = vchanNextDesc(c) as PtDmaDesc | null;
      if (tx !== null) this.callback(tx);
    } while (desc !== null);
    return null;
  }

  /**
   * Complete the cookie. Inline callback context: unlink and return the descriptor for the caller to
   * call back; deferred context: hand it to the tasklet (vchan_cookie_complete) and return null.
   */
  private retire(d: PtDmaDesc): PtDmaDesc | null {
    const visible = this.pt.switches.errorsVisibleToClient && d.status === DMA_ERROR;
    if (visible) {
      (this.chan.errorCookies ??= new Set()).add(d.cookie);
      const result = ptErrorIsRead(d.hwError) ? DMA_TRANS_READ_FAILED : ptErrorIsWrite(d.hwError) ? DMA_TRANS_WRITE_FAILED : DMA_TRANS_ABORTED;
      d.txResult = { result, residue: 0 };
    }
    if (this.callbackContext !== "hardirq") {
      vchanCookieComplete(d);
      return null;
    }
    dmaCookieComplete(d);
    listDel(d);
    return d;
  }

  private callback(tx: PtDmaDesc): void {
    const visible = this.pt.switches.errorsVisibleToClient && tx.status === DMA_ERROR;
    // The driver passes no result, so the client sees DMA_TRANS_NOERROR even for a failed copy.
    dmaengineDescGetCallbackInvoke(tx, visible ? tx.txResult : null);
    dmaRunDependencies(tx);
    vchanVdescFini(tx);
  }

  /** Mirrors pt_dma_start_desc(): mark issued, point tdata.cmd at it, and submit it to the ring. */
  private startDesc(d: PtDmaDesc): void {
    d.issuedToHw = true;
    const c = this.chan;
    let intEn: boolean;
    if (this.pt.switches.intEnPerDevice) {
      intEn = this.pt.cmdQ.intEn;
    } else {
      if (d.wantsIrq && c.irqWanters > 0) c.irqWanters--;
      intEn = d.wantsIrq || c.irqWanters > 0;
    }
    this.pt.tdataCmd = d;
    this.pt.tdataGen = d.gen;
    this.pt.performPassthru(d, intEn);
  }

  /** After a stale completion: start the first issued descriptor if the hardware has nothing of ours. */
  startNextIfIdle(): void {
    const d = vchanNextDesc(this.chan) as PtDmaDesc | null;
    if (d !== null && !d.issuedToHw) this.startDesc(d);
  }

  /** Pipelined glue: keep up to maxInFlight issued descriptors in the ring. */
  private fillRing(): void {
    const c = this.chan;
    let n: ListNode = c.descIssued.next;
    while (n !== c.descIssued && (n as PtDmaDesc).issuedToHw) n = n.next;
    while (this.inflight < this.maxInFlight && n !== c.descIssued) {
      const d = n as PtDmaDesc;
      n = n.next;
      this.inflight++;
      this.startDesc(d);
    }
  }

  /**
   * Pipelined glue's completion: the descriptors between the last seen HEAD and HEAD now are done
   * (DPDK counts completions from HEAD, spec 1.8); on an error the ring is flushed, the failing one
   * (the last retired) completes with the error, and the ones the flush dropped are restarted.
   */
  completePipelined(err: number): void {
    const pt = this.pt;
    const ringBytes = CMD_Q_LEN * Q_DESC_SIZE;
    const head = pt.ioread32(CMD_Q_STATUS_INCR + CMD_Q_HEAD_LO_BASE);
    const n = ((head - this.lastHead + ringBytes) % ringBytes) / Q_DESC_SIZE;
    this.lastHead = head;
    if (err !== 0) {
      pt.stats.errorsLogged++;
      pt.log.push(`PTDMA error: ${ptErrorName(err)} (0x${err.toString(16)})`);
      pt.iowrite32(CMD_Q_STATUS_INCR + CMD_Q_HEAD_LO_BASE, pt.tailAddr());
      this.lastHead = pt.tailAddr();
    }
    const c = this.chan;
    for (let i = 0; i < n; i++) {
      const d = vchanNextDesc(c) as PtDmaDesc | null;
      if (d === null || !d.issuedToHw) break;
      this.inflight--;
      if (err !== 0 && i === n - 1) {
        d.hwError = err;
        if (pt.switches.errorsVisibleToClient) d.status = DMA_ERROR;
      }
      if (d.status !== DMA_ERROR) d.status = DMA_COMPLETE;
      const tx = this.retire(d);
      if (tx !== null) this.callback(tx);
    }
    if (err !== 0) {
      for (let m: ListNode = c.descIssued.next; m !== c.descIssued; m = m.next) (m as PtDmaDesc).issuedToHw = false;
      this.inflight = 0;
    }
    this.fillRing();
  }
}
