import { TRACE_CTX_IRQ_IDLE, type Tracepoint } from "@mmemu/kernel";
import { MmioMeter, dmaAllocCoherent, type DmaCoherent, type DmaEngine } from "@mmemu/dmaengine";
import {
  CMD_CLK_GATE_CONFIG, CMD_CLK_GATE_CTL_OFFSET, CMD_CONFIG_OFFSET, CMD_CONFIG_REQID, CMD_CONFIG_VHB_EN,
  CMD_DESC_DW0_VAL, CMD_QUEUE_PRIO, CMD_QUEUE_PRIO_OFFSET, CMD_Q_ABORT_BASE, CMD_Q_CONTROL_BASE,
  CMD_Q_HEAD_LO_BASE, CMD_Q_INTERRUPT_STATUS_BASE, CMD_Q_INT_ENABLE_BASE, CMD_Q_INT_STATUS_BASE, CMD_Q_LEN,
  CMD_Q_RUN, CMD_Q_SIZE_SHIFT, CMD_Q_STATUS_BASE, CMD_Q_STATUS_INCR, CMD_Q_TAIL_LO_BASE, CMD_REQID_CONFIG_OFFSET,
  CMD_TIMEOUT_DISABLE, CMD_TIMEOUT_OFFSET, INT_ERROR, Q_DESC_SIZE, SUPPORTED_INTERRUPTS, cmdQError,
  encodePtdmaDescWords, ptErrorName, qSizeVal,
} from "./ptdma-regs.js";
import type { PtdmaFunction } from "./ptdma-hw.js";
import type { PtdmaSwitches } from "./ptdma-params.js";
import type { PtDmaDesc, PtDmaDevice } from "./ptdma-dmaengine.js";

/**
 * The PTDMA driver core of drivers/dma/amd/ptdma/ptdma-dev.c: struct pt_device and struct
 * pt_cmd_queue, pt_core_init() (the init sequence of spec 1.6), pt_core_perform_passthru() and
 * pt_core_execute_cmd() (three MMIO writes per descriptor: INT_ENABLE, TAIL_LO, CONTROL.RUN), the
 * hard-IRQ handler and pt_check_status_trans(), and the error flush of pt_do_cmd_complete().
 *
 * MMIO from task context is charged (Cost.MMIO_WRITE / MMIO_READ) when the glue's entry point
 * returns, so that charging — which may advance virtual time and run device events — never happens
 * inside what the kernel protects with a spinlock. MMIO inside the IRQ handler is timed by
 * PTDMA_PARAMS instead.
 */

/** Mirrors struct pt_cmd_queue (the driver's software view of the queue). */
export interface PtCmdQueue {
  /** Next ring slot the driver writes. */
  qidx: number;
  /** The ring: 32 × 32 B of coherent memory. */
  qbase: DmaCoherent;
  /** Bus address of the ring (qdma_tail). */
  qdmaTail: number;
  /** Cached CONTROL value (size and ring base high bits), written with RUN or'ed in or masked out. */
  qcontrol: number;
  /** The device-wide interrupt-enable flag the last prep set (spec 1.11). */
  intEn: boolean;
  /** First error code seen since the last submission. */
  cmdError: number;
  totalPtOps: number;
  intStatus: number;
  qStatus: number;
  qIntStatus: number;
}

/** Counters of the driver (one record, every counter listed up front). */
export interface PtDeviceStats {
  /** pt->total_interrupts: hard IRQs handled, including spurious ones. */
  totalInterrupts: number;
  mmioWrites: number;
  mmioReads: number;
  /** Completions whose tdata.cmd pointed at a descriptor already freed (after terminate): a use-after-free in the real driver. */
  staleCompletions: number;
  /** Errors logged ("PTDMA error: ..."). */
  errorsLogged: number;
}

export class PtDevice {
  readonly name: string;
  readonly hw: PtdmaFunction;
  readonly engine: DmaEngine;
  readonly switches: PtdmaSwitches;
  readonly cmdQ: PtCmdQueue;
  readonly stats: PtDeviceStats = { totalInterrupts: 0, mmioWrites: 0, mmioReads: 0, staleCompletions: 0, errorsLogged: 0 };
  /** dev_err() lines. */
  readonly log: string[] = [];
  /** pt->tdata.cmd: the one command the device-wide completion path will complete. */
  tdataCmd: PtDmaDesc | null = null;
  /** The descriptor generation tdataCmd had when started, to tell a freed (stale) pointer. */
  tdataGen = 0;
  /** Set by the glue after registration. */
  dma!: PtDmaDevice;
  private readonly mmio: MmioMeter;
  private readonly tpStale: Tracepoint<{ dev: string }>;
  private readonly tpIrqEntry: Tracepoint<{ irq: number; name: string }>;
  private readonly tpIrqExit: Tracepoint<{ irq: number; handled: boolean }>;
  private readonly tpStart: Tracepoint<{ dev: string; chan: string; cookie: number; len: number }>;
  private readonly irqBound: (arg: unknown) => void;

  /** Mirrors pt_core_init(): program the globals, allocate the ring, clear and enable interrupts. */
  constructor(engine: DmaEngine, hw: PtdmaFunction, switches: PtdmaSwitches) {
    this.engine = engine;
    this.hw = hw;
    this.name = hw.name;
    this.switches = switches;
    const t = engine.core.trace;
    this.mmio = new MmioMeter(engine, hw.name);
    this.tpStale = t.define("ptdma_stale_completion");
    this.tpIrqEntry = t.define("irq_handler_entry");
    this.tpIrqExit = t.define("irq_handler_exit");
    this.tpStart = t.define("ptdma_start_desc");
    this.irqBound = () => this.irqHandler();

    this.iowrite32(CMD_CONFIG_OFFSET, CMD_CONFIG_VHB_EN);
    this.iowrite32(CMD_QUEUE_PRIO_OFFSET, CMD_QUEUE_PRIO);
    this.iowrite32(CMD_TIMEOUT_OFFSET, CMD_TIMEOUT_DISABLE);
    this.iowrite32(CMD_CLK_GATE_CTL_OFFSET, CMD_CLK_GATE_CONFIG);
    this.iowrite32(CMD_REQID_CONFIG_OFFSET, CMD_CONFIG_REQID);
    const qbase = dmaAllocCoherent(hw.dev, CMD_Q_LEN * Q_DESC_SIZE);
    if (qbase === null) throw new Error(`${this.name}: unable to allocate command queue (ring outside the DMA mask)`);
    this.cmdQ = { qidx: 0, qbase, qdmaTail: qbase.busAddr, qcontrol: 0, intEn: false, cmdError: 0, totalPtOps: 0, intStatus: 0, qStatus: 0, qIntStatus: 0 };
    this.disableQueueInterrupts();
    this.iowrite32(CMD_Q_STATUS_INCR + CMD_Q_CONTROL_BASE, 0);
    this.ioread32(CMD_Q_STATUS_INCR + CMD_Q_INT_STATUS_BASE);
    this.ioread32(CMD_Q_STATUS_INCR + CMD_Q_STATUS_BASE);
    this.iowrite32(CMD_Q_STATUS_INCR + CMD_Q_INTERRUPT_STATUS_BASE, SUPPORTED_INTERRUPTS);
    hw.requestIrq(this.irqBound, null);
    const q = this.cmdQ;
    q.qcontrol = (qSizeVal(CMD_Q_LEN) << CMD_Q_SIZE_SHIFT) | ((Math.floor(q.qdmaTail / 0x1_0000_0000) & 0xffff) << 16);
    const lo = q.qdmaTail % 0x1_0000_0000;
    this.iowrite32(CMD_Q_STATUS_INCR + CMD_Q_TAIL_LO_BASE, lo);
    this.iowrite32(CMD_Q_STATUS_INCR + CMD_Q_HEAD_LO_BASE, lo);
    this.iowrite32(CMD_Q_STATUS_INCR + CMD_Q_CONTROL_BASE, q.qcontrol);
    this.enableQueueInterrupts();
    this.flushCharges();
  }

  /** iowrite32() to the BAR. */
  iowrite32(off: number, value: number): void {
    this.stats.mmioWrites++;
    this.mmio.write(off, value | 0);
    this.hw.mmioWrite(off, value | 0);
  }

  /** ioread32() from the BAR. */
  ioread32(off: number): number {
    this.stats.mmioReads++;
    return this.mmio.read(off, this.hw.mmioRead(off));
  }

  /** Charge the task for the MMIO it did in the entry point that is returning. */
  flushCharges(): void {
    this.mmio.flush();
  }

  /** Mirrors pt_core_disable_queue_interrupts(). */
  disableQueueInterrupts(): void {
    this.iowrite32(CMD_Q_STATUS_INCR + CMD_Q_INT_ENABLE_BASE, 0);
  }

  /** Mirrors pt_core_enable_queue_interrupts(). */
  enableQueueInterrupts(): void {
    this.iowrite32(CMD_Q_STATUS_INCR + CMD_Q_INT_ENABLE_BASE, SUPPORTED_INTERRUPTS);
  }

  /** Mirrors pt_start_queue(): CONTROL with RUN set (the doorbell). */
  startQueue(): void {
    this.iowrite32(CMD_Q_STATUS_INCR + CMD_Q_CONTROL_BASE, this.cmdQ.qcontrol | CMD_Q_RUN);
  }

  /** Mirrors pt_stop_queue(). */
  stopQueue(): void {
    this.iowrite32(CMD_Q_STATUS_INCR + CMD_Q_CONTROL_BASE, this.cmdQ.qcontrol & ~CMD_Q_RUN);
  }

  /** The low 32 bits of the ring slot `qidx` (the software tail), as a signed int32 like the registers. */
  tailAddr(): number {
    // The ring's bus address is an integer: >>> 0 is its low 32 bits (a double % calls into C).
    return ((this.cmdQ.qdmaTail >>> 0) + this.cmdQ.qidx * Q_DESC_SIZE) | 0;
  }

  /**
   * Mirrors pt_core_perform_passthru() + pt_core_execute_cmd(): build the 32-byte descriptor, set
   * INT_ENABLE from `intEn`, copy it into ring slot qidx, advance qidx, write TAIL_LO, set RUN.
   */
  performPassthru(desc: PtDmaDesc, intEn: boolean): void {
    const q = this.cmdQ;
    if (this.tpStart.enabled) this.tpStart.emit({ dev: this.name, chan: desc.chan.name, cookie: desc.cookie, len: desc.len });
    q.cmdError = 0;
    q.totalPtOps++;
    if (intEn) this.enableQueueInterrupts();
    else this.disableQueueInterrupts();
    encodePtdmaDescWords(q.qbase.view, q.qidx * Q_DESC_SIZE, CMD_DESC_DW0_VAL, desc.len, desc.srcLo, desc.srcHi, desc.dstLo, desc.dstHi);
    q.qidx = (q.qidx + 1) % CMD_Q_LEN;
    this.iowrite32(CMD_Q_STATUS_INCR + CMD_Q_TAIL_LO_BASE, this.tailAddr());
    this.startQueue();
  }

  /** Mirrors pt_core_irq_handler(), in hard-IRQ context. */
  irqHandler(): void {
    const prev = this.engine.enterContext("hardirq");
    // handle_irq_event(): irq_handler_entry/exit around the action, on the CPU the MSI targets.
    const tracing = this.tpIrqEntry.enabled || this.tpIrqExit.enabled;
    const bus = this.engine.core.trace;
    const prevTrace = tracing ? bus.enterContext(this.hw.irqCpu, TRACE_CTX_IRQ_IDLE) : -1;
    if (this.tpIrqEntry.enabled) this.tpIrqEntry.emit({ irq: this.hw.irq, name: this.name });
    try {
      this.disableQueueInterrupts();
      this.stats.totalInterrupts++;
      this.checkStatusTrans();
      this.enableQueueInterrupts();
    } finally {
      this.engine.exitContext(prev);
      // pt_core_irq_handler() always returns IRQ_HANDLED.
      if (this.tpIrqExit.enabled) this.tpIrqExit.emit({ irq: this.hw.irq, handled: true });
      if (tracing) bus.exitContext(prevTrace);
    }
  }

  /**
   * Mirrors pt_check_status_trans(): if INTERRUPT_STATUS has anything latched, read Q_STATUS and
   * Q_INT_STATUS, keep the first error code, acknowledge (write 1 to clear), and complete.
   */
  checkStatusTrans(): void {
    const q = this.cmdQ;
    const status = this.ioread32(CMD_Q_STATUS_INCR + CMD_Q_INTERRUPT_STATUS_BASE);
    if (status === 0) return;
    q.intStatus = status;
    q.qStatus = this.ioread32(CMD_Q_STATUS_INCR + CMD_Q_STATUS_BASE);
    q.qIntStatus = this.ioread32(CMD_Q_STATUS_INCR + CMD_Q_INT_STATUS_BASE);
    if ((status & INT_ERROR) !== 0 && q.cmdError === 0) q.cmdError = cmdQError(q.qStatus);
    this.iowrite32(CMD_Q_STATUS_INCR + CMD_Q_INTERRUPT_STATUS_BASE, status);
    this.doCmdComplete();
  }

  /**
   * Mirrors pt_do_cmd_complete(): on an error, log it and flush the ring by writing the software
   * tail into HEAD_LO; then run the command's callback with the submission's return value — always 0,
   * which is why the error never reaches the client (spec 1.9).
   */
  private doCmdComplete(): void {
    const q = this.cmdQ;
    const err = q.cmdError;
    if (this.dma.pipelined) {
      // The corrected glue reads HEAD before any flush to learn how many descriptors retired.
      this.dma.completePipelined(err);
      return;
    }
    if (err !== 0) {
      this.stats.errorsLogged++;
      this.log.push(`PTDMA error: ${ptErrorName(err)} (0x${err.toString(16)})`);
      this.iowrite32(CMD_Q_STATUS_INCR + CMD_Q_HEAD_LO_BASE, this.tailAddr());
    }
    const cmd = this.tdataCmd;
    if (cmd === null) return;
    if (!cmd.live || cmd.gen !== this.tdataGen) {
      // The pointer outlived its descriptor (terminate freed it while the hardware still ran it).
      this.stats.staleCompletions++;
      if (this.tpStale.enabled) this.tpStale.emit({ dev: this.name });
      this.tdataCmd = null;
      this.dma.startNextIfIdle();
      return;
    }
    cmd.hwError = err;
    this.dma.cmdCallback(cmd, this.switches.errorsVisibleToClient && err !== 0 ? -5 : 0);
  }

  /** The terminate path of the corrected driver: stop the queue, abort the engine, flush the ring. */
  abortQueue(): void {
    this.stopQueue();
    this.iowrite32(CMD_Q_STATUS_INCR + CMD_Q_ABORT_BASE, 1);
    this.iowrite32(CMD_Q_STATUS_INCR + CMD_Q_HEAD_LO_BASE, this.tailAddr());
    this.iowrite32(CMD_Q_STATUS_INCR + CMD_Q_INTERRUPT_STATUS_BASE, SUPPORTED_INTERRUPTS);
    this.tdataCmd = null;
  }
}
