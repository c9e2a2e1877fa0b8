import { Cost, type Tracepoint } from "@mmemu/driver-kit";
import {
  DMA_COMPLETE, DMA_ERROR, DMA_INTERRUPT, DMA_MEMCPY, DMA_PRIVATE, DMA_RESIDUE_GRANULARITY_DESCRIPTOR,
  DMA_TRANS_ABORTED, DMA_TRANS_READ_FAILED, DMA_TRANS_WRITE_FAILED, DescCache, DmaDevice, VirtDmaChan, VirtDmaDesc,
  dmaAllocCoherent, dmaCapSet, dmaCookieComplete, dmaCookieStatus, dmaRunDependencies, dmaengineDescGetCallbackInvoke,
  listDel, vchanFreeChanResources, vchanInit, vchanIssuePending, vchanSynchronize, vchanTxPrep, vchanVdescFini,
  type DmaAsyncTxDescriptor, type DmaChan, type DmaCoherent, type DmaEngine, type DmaTxState, type ListNode,
} from "@mmemu/driver-kit";
import {
  AE4_COMMON_CONFIG_OFF, AE4_DESC_COMPLETED, AE4_DESC_DW0_VAL, AE4_DESC_SIZE, AE4_INTR_COMPLETION, AE4_INTR_STS_OFF,
  AE4_MAX_IDX_OFF, AE4_Q_BASE_H_OFF, AE4_Q_BASE_L_OFF, AE4_Q_CONTROL_OFF, AE4_Q_INTR_EN_OFF, AE4_Q_LEN, AE4_Q_RUN,
  AE4_Q_SZ, AE4_RD_IDX_OFF, AE4_WR_IDX_OFF, ae4ErrorIsRead, ae4ErrorName, decodeAe4Desc, encodeAe4Desc, type Ae4Desc,
} from "./ae4dma-regs.js";
import type { Ae4dmaFunction } from "./ae4dma-hw.js";
import type { Ae4dmaParams } from "./ae4dma-params.js";

/**
 * The AE4DMA side of drivers/dma/amd/ptdma/ptdma-dmaengine.c and drivers/dma/amd/ae4dma/ae4dma-dev.c
 * (spec 2.4, 2.6, 4.2): one private channel per hardware queue (DMA_MEMCPY | DMA_INTERRUPT |
 * DMA_PRIVATE, the glue it shares with PTDMA); virt-dma lists; issue_pending writes every issued
 * descriptor into the queue's ring, up to the 31 slots it can hold, with a WR_IDX write (the
 * doorbell) per descriptor as the driver does; the queue's hard IRQ acks INTR_STS and wakes the
 * queue's worker, which runs on a workqueue: it reads RD_IDX, checks the status byte the hardware
 * wrote back into each retired slot (logging errors), completes the cookies in order, runs the
 * callbacks in process context, frees the descriptors and refills the ring from the issued list.
 *
 * The spec's glue caveat (2.6: the literal start loop may start one descriptor per issue_pending) is
 * resolved as the spec suggests: every issued descriptor goes to the ring, up to its capacity [D].
 * Errors are logged and, as in the driver, invisible to the client (the callback sees NOERROR)
 * unless `errorsVisibleToClient`. terminate_all clears RUN and drops the software descriptors; the
 * copy already moving in the engine still lands, so synchronize waits until the queue is idle and
 * then resets the ring (WR_IDX := RD_IDX) before RUN is set again [D].
 */

/** Mirrors struct pt_dma_desc as AE4 uses it. */
export class Ae4DmaDesc extends VirtDmaDesc {
  src = 0;
  dst = 0;
  len = 0;
  /** The ring slot holding it, -1 before it is written to the ring. */
  slot = -1;
}

/** One queue's channel: struct pt_dma_chan with its AE4 command queue (struct ae4_cmd_queue). */
export class Ae4DmaChan extends VirtDmaChan {
  readonly q: number;
  /** The ring in coherent memory. */
  ring: DmaCoherent | null = null;
  /** tail_wi: the next slot software writes. */
  tailWi = 0;
  /** dridx: the next slot the worker retires. */
  drIdx = 0;
  /** Descriptors in the ring (q_cmd_count). */
  inRing = 0;
  /** The software descriptor of each ring slot. */
  readonly slots: Array<Ae4DmaDesc | null> = new Array<Ae4DmaDesc | null>(AE4_Q_LEN).fill(null);
  workerScheduled = false;
  /** terminate_all ran: the ring is reset once the hardware is idle. */
  resetPending = false;
  /** Hard interrupts taken (intr_cnt). */
  intrCnt = 0;
  /** Cookies that completed with a hardware error (kept only when errors are visible to clients). */
  errorCookies: Set<number> | null = null;

  constructor(device: DmaDevice, q: number, free: (vd: VirtDmaDesc) => void) {
    super(device, free);
    this.q = q;
  }
}

/** Counters of the glue (one record, every counter listed up front). */
export interface Ae4GlueStats {
  submitted: number;
  completed: number;
  /** Descriptors whose written-back status was not AE4_DESC_COMPLETED. */
  errorsLogged: number;
  /** issue_pending calls that left descriptors waiting for ring slots. */
  ringFull: number;
}

export interface Ae4GlueSwitches {
  /** false (driver): errors are only logged; true: callback_result sees READ/WRITE_FAILED and tx_status DMA_ERROR. */
  readonly errorsVisibleToClient: boolean;
}

export class Ae4DmaDevice extends DmaDevice {
  readonly hw: Ae4dmaFunction;
  readonly chans: Ae4DmaChan[] = [];
  readonly stats: Ae4GlueStats = { submitted: 0, completed: 0, errorsLogged: 0, ringFull: 0 };
  /** The driver's error log (dev_err lines). */
  readonly log: string[] = [];
  readonly switches: Ae4GlueSwitches;
  private readonly eng: DmaEngine;
  private readonly p: Ae4dmaParams;
  private readonly cache: DescCache<Ae4DmaDesc>;
  private readonly scratch: Ae4Desc = { dw0: 0, status: 0, errCode: 0, length: 0, src: 0, dst: 0 };
  private readonly tpWorker: Tracepoint<{ dev: string; q: number; retired: number }>;
  private readonly tpStart: Tracepoint<{ dev: string; chan: string; cookie: number; len: number }>;

  /**
   * Mirrors ae4_core_init() and pt_dmaengine_register() up to dma_async_device_register(): enable
   * `params.max_hw_q` queues, give each a 32-slot ring, its MSI vector and a channel.
   */
  constructor(eng: DmaEngine, hw: Ae4dmaFunction, params: Ae4dmaParams, switches: Partial<Ae4GlueSwitches> = {}) {
    super(hw.dev);
    this.eng = eng;
    this.hw = hw;
    this.p = params;
    this.switches = { errorsVisibleToClient: switches.errorsVisibleToClient ?? false };
    this.callbackContext = "workqueue";
    this.residueGranularity = DMA_RESIDUE_GRANULARITY_DESCRIPTOR;
    // Lengths and addresses must be 4-byte aligned (error codes 3-5): copy_align = 2.
    this.copyAlign = 2;
    dmaCapSet(DMA_MEMCPY, this.capMask);
    dmaCapSet(DMA_INTERRUPT, this.capMask);
    dmaCapSet(DMA_PRIVATE, this.capMask);
    let first: Ae4DmaChan | null = null;
    this.cache = new DescCache(() => new Ae4DmaDesc(first!));
    this.tpWorker = eng.core.trace.define("ae4dma_worker");
    this.tpStart = eng.core.trace.define("ae4dma_start_desc");
    hw.mmioWrite(AE4_COMMON_CONFIG_OFF, params.max_hw_q);
    for (let q = 0; q < params.max_hw_q; q++) {
      const c = new Ae4DmaChan(this, q, (vd) => this.cache.release(vd as Ae4DmaDesc));
      first ??= c;
      const ring = dmaAllocCoherent(hw.dev, AE4_Q_LEN * AE4_DESC_SIZE);
      if (ring === null) throw new Error(`${hw.name}: queue ${q}'s ring is out of reach of the DMA mask`);
      c.ring = ring;
      const base = AE4_Q_SZ * (q + 1);
      hw.mmioWrite(base + AE4_MAX_IDX_OFF, AE4_Q_LEN);
      hw.mmioWrite(base + AE4_Q_BASE_L_OFF, ring.busAddr % 0x1_0000_0000);
      hw.mmioWrite(base + AE4_Q_BASE_H_OFF, Math.floor(ring.busAddr / 0x1_0000_0000));
      hw.mmioWrite(base + AE4_RD_IDX_OFF, 0);
      hw.mmioWrite(base + AE4_WR_IDX_OFF, 0);
      hw.requestIrq(q, onIrq, c);
      hw.mmioWrite(base + AE4_Q_INTR_EN_OFF, AE4_INTR_COMPLETION);
      hw.mmioWrite(base + AE4_Q_CONTROL_OFF, AE4_Q_RUN);
      vchanInit(c, this);
      this.chans.push(c);
    }
  }

  private chargeMmio(writes: number, reads: number): void {
    if (writes > 0) this.eng.chargeTask(Cost.MMIO_WRITE, writes);
    if (reads > 0) this.eng.chargeTask(Cost.MMIO_READ, reads);
  }

  private alloc(chan: DmaChan, flags: number, dst: number, src: number, len: number): Ae4DmaDesc {
    const d = this.cache.alloc();
    vchanTxPrep(chan as Ae4DmaChan, d, flags);
    d.dst = dst;
    d.src = src;
    d.len = len;
    d.slot = -1;
    return d;
  }

  /** Mirrors pt_prep_dma_memcpy() (AE4 path); the length is a u32, so 4 GiB and more is refused (NULL). */
  override devicePrepDmaMemcpy(chan: DmaChan, dst: number, src: number, len: number, flags: number): DmaAsyncTxDescriptor | null {
    if (len > 0xffff_ffff) return null;
    return this.alloc(chan, flags, dst, src, len);
  }

  /** Mirrors pt_prep_dma_interrupt(): a descriptor with no copy (length 0). */
  override devicePrepDmaInterrupt(chan: DmaChan, flags: number): DmaAsyncTxDescriptor | null {
    return this.alloc(chan, flags, 0, 0, 0);
  }

  /** Mirrors pt_issue_pending() on AE4: move submitted to issued and feed the ring. */
  override deviceIssuePending(chan: DmaChan): void {
    const c = chan as Ae4DmaChan;
    vchanIssuePending(c);
    this.fillRing(c);
  }

  /**
   * Write issued descriptors not yet in the ring into free slots (one WR_IDX doorbell each, as
   * ae4_core_queue_full()/pt_core_perform_passthru_ae4() do); at most AE4_Q_LEN - 1 in the ring.
   */
  private fillRing(c: Ae4DmaChan): void {
    if (c.resetPending && !this.resetRing(c)) return;
    // The descriptors in the ring are the first inRing of the issued list (retired ones leave it).
    let n: ListNode = c.descIssued.next;
    for (let i = 0; i < c.inRing && n !== c.descIssued; i++) n = n.next;
    const ring = c.ring!;
    const base = AE4_Q_SZ * (c.q + 1);
    let writes = 0;
    while (n !== c.descIssued) {
      if (c.inRing >= AE4_Q_LEN - 1) {
        this.stats.ringFull++;
        break;
      }
      const d = n as Ae4DmaDesc;
      n = n.next;
      // dev= is the queue's trace name, so a timeline joins the descriptor to its queue's engine events.
      if (this.tpStart.enabled) this.tpStart.emit({ dev: this.hw.queueName(c.q), chan: c.name, cookie: d.cookie, len: d.len });
      encodeAe4Desc(ring.view, c.tailWi * AE4_DESC_SIZE, AE4_DESC_DW0_VAL, d.len, d.src, d.dst);
      d.slot = c.tailWi;
      c.slots[c.tailWi] = d;
      c.tailWi = (c.tailWi + 1) % AE4_Q_LEN;
      c.inRing++;
      this.stats.submitted++;
      this.hw.mmioWrite(base + AE4_WR_IDX_OFF, c.tailWi);
      writes++;
    }
    this.chargeMmio(writes, 0);
  }

  /** After terminate_all: once the queue is idle, drop what the ring still holds and set RUN again. */
  private resetRing(c: Ae4DmaChan): boolean {
    if (this.hw.busy(c.q)) return false;
    const base = AE4_Q_SZ * (c.q + 1);
    const rd = this.hw.mmioRead(base + AE4_RD_IDX_OFF);
    this.hw.mmioWrite(base + AE4_WR_IDX_OFF, rd);
    c.tailWi = c.drIdx = rd;
    c.slots.fill(null);
    c.inRing = 0;
    c.resetPending = false;
    this.hw.mmioWrite(base + AE4_Q_CONTROL_OFF, AE4_Q_RUN);
    this.chargeMmio(2, 1);
    return true;
  }

  /** @internal the queue's hard IRQ (ae4_core_irq_handler()): ack INTR_STS and wake the worker. */
  irq(c: Ae4DmaChan): void {
    c.intrCnt++;
    const base = AE4_Q_SZ * (c.q + 1);
    const sts = this.hw.mmioRead(base + AE4_INTR_STS_OFF);
    this.hw.mmioWrite(base + AE4_INTR_STS_OFF, sts & ~AE4_INTR_COMPLETION);
    if (c.workerScheduled) return;
    c.workerScheduled = true;
    this.eng.core.sim.schedule(this.eng.params.workqueue_latency, onWorker, c);
  }

  /**
   * @internal the queue's worker (ae4_check_status_error() and the completion loop of
   * pt_cmd_callback_work()): retire every slot up to RD_IDX in order, in process context.
   */
  worker(c: Ae4DmaChan): void {
    c.workerScheduled = false;
    const e = this.eng;
    const prev = e.enterContext("workqueue");
    let retired = 0;
    try {
      const rd = this.hw.mmioRead(AE4_Q_SZ * (c.q + 1) + AE4_RD_IDX_OFF);
      const ring = c.ring!;
      while (c.drIdx !== rd && c.inRing > 0) {
        const slot = c.drIdx;
        const d = c.slots[slot]!;
        const st = decodeAe4Desc(ring.view, slot * AE4_DESC_SIZE, this.scratch);
        c.slots[slot] = null;
        c.drIdx = (slot + 1) % AE4_Q_LEN;
        c.inRing--;
        retired++;
        if (st.status !== AE4_DESC_COMPLETED) this.logError(c, d, st.errCode);
        dmaCookieComplete(d);
        listDel(d);
        this.stats.completed++;
        dmaengineDescGetCallbackInvoke(d, d.txResult);
        dmaRunDependencies(d);
        vchanVdescFini(d);
      }
      if (this.tpWorker.enabled) this.tpWorker.emit({ dev: this.hw.name, q: c.q, retired });
    } finally {
      e.exitContext(prev);
    }
    // The worker's own CPU time delays the refill doorbells it rings after the loop.
    if (retired > 0) e.core.sim.schedule(retired * this.p.worker_per_desc, onRefill, c);
  }

  /** @internal the worker's refill of the ring after its completion loop. */
  refill(c: Ae4DmaChan): void {
    this.fillRing(c);
  }

  private logError(c: Ae4DmaChan, d: Ae4DmaDesc, code: number): void {
    this.stats.errorsLogged++;
    this.log.push(`${this.hw.name} queue ${c.q}: descriptor error ${code} (${ae4ErrorName(code)})`);
    if (!this.switches.errorsVisibleToClient) return;
    (c.errorCookies ??= new Set()).add(d.cookie);
    d.txResult = { result: ae4ErrorIsRead(code) ? DMA_TRANS_READ_FAILED : code >= 64 ? DMA_TRANS_WRITE_FAILED : DMA_TRANS_ABORTED, residue: 0 };
  }

  /** Mirrors pt_tx_status() on AE4: the cookie's status (the driver's ring scan only logs). */
  override deviceTxStatus(chan: DmaChan, cookie: number, state: DmaTxState | null): number {
    const c = chan as Ae4DmaChan;
    const st = dmaCookieStatus(c, cookie, state);
    if (st === DMA_COMPLETE && c.errorCookies !== null && c.errorCookies.has(cookie)) return DMA_ERROR;
    return st;
  }

  /** Mirrors pt_pause(): clear RUN (a copy already moving completes). */
  override devicePause(chan: DmaChan): number {
    const c = chan as Ae4DmaChan;
    this.hw.mmioWrite(AE4_Q_SZ * (c.q + 1) + AE4_Q_CONTROL_OFF, 0);
    this.chargeMmio(1, 0);
    return 0;
  }

  /** Mirrors pt_resume(): set RUN again. */
  override deviceResume(chan: DmaChan): number {
    const c = chan as Ae4DmaChan;
    this.hw.mmioWrite(AE4_Q_SZ * (c.q + 1) + AE4_Q_CONTROL_OFF, AE4_Q_RUN);
    this.chargeMmio(1, 0);
    return 0;
  }

  /** Mirrors pt_terminate_all(): clear RUN and free every software descriptor; the ring is reset when idle. */
  override deviceTerminateAll(chan: DmaChan): number {
    const c = chan as Ae4DmaChan;
    this.hw.mmioWrite(AE4_Q_SZ * (c.q + 1) + AE4_Q_CONTROL_OFF, 0);
    this.chargeMmio(1, 0);
    c.slots.fill(null);
    c.inRing = 0;
    c.resetPending = true;
    c.errorCookies = null;
    vchanFreeChanResources(c);
    this.resetRing(c);
    return 0;
  }

  /**
   * Mirrors pt_synchronize() (vchan_synchronize()), and waits until the queue's engine is idle so no
   * write of a terminated descriptor can land afterwards [D]; then the ring is reset.
   */
  override deviceSynchronize(chan: DmaChan): void {
    const c = chan as Ae4DmaChan;
    vchanSynchronize(c);
    const sim = this.eng.core.sim;
    if (c.workerScheduled) sim.runUntil(() => !c.workerScheduled, undefined, `ae4 synchronize(${c.name}) worker`);
    if (c.resetPending) {
      // A wedged queue (the hang fault) never goes idle: give up after 5 s, AE4_TIME_OUT.
      sim.runUntil(() => !this.hw.busy(c.q), 5_000_000_000, `ae4 synchronize(${c.name}) engine idle`);
      this.resetRing(c);
    }
  }

  /** Mirrors pt_free_chan_resources(). */
  override deviceFreeChanResources(chan: DmaChan): void {
    const c = chan as Ae4DmaChan;
    if (c.inRing > 0) this.deviceTerminateAll(c);
    vchanFreeChanResources(c);
  }
}

function onIrq(c: Ae4DmaChan): void {
  const dev = c.device as Ae4DmaDevice;
  const e = dev.engine!;
  const prev = e.enterContext("hardirq");
  try {
    dev.irq(c);
  } finally {
    e.exitContext(prev);
  }
}

function onWorker(c: Ae4DmaChan): void {
  (c.device as Ae4DmaDevice).worker(c);
}

function onRefill(c: Ae4DmaChan): void {
  (c.device as Ae4DmaDevice).refill(c);
}
