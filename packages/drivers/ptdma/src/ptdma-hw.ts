import { TRACE_CTX_DEVICE, type FaultPoint, type KernelCore, type PrngStream, type Tracepoint } from "@mmemu/kernel";
import { PAGE_SIZE, type PhysMem } from "@mmemu/mm-core";
import type { Device } from "@mmemu/dmaengine";
import type { CoherentBuffer, Fabric, Iommu } from "@mmemu/platform";
import {
  CMD_CLK_GATE_CTL_OFFSET, CMD_CONFIG_OFFSET, CMD_PT_VERSION, CMD_QUEUE_PRIO_OFFSET, CMD_Q_ABORT_BASE,
  CMD_Q_AX_CACHE_BASE, CMD_Q_CONTROL_BASE, CMD_Q_DMA_READ_STATUS_BASE, CMD_Q_DMA_STATUS_BASE,
  CMD_Q_DMA_WRITE_STATUS_BASE, CMD_Q_HALT, CMD_Q_HEAD_LO_BASE, CMD_Q_INTERRUPT_STATUS_BASE, CMD_Q_INT_ENABLE_BASE,
  CMD_Q_INT_STATUS_BASE, CMD_Q_RUN, CMD_Q_SIZE_MASK, CMD_Q_SIZE_SHIFT, CMD_Q_STATUS_BASE, CMD_Q_STATUS_INCR,
  CMD_Q_TAIL_LO_BASE, CMD_REQID_CONFIG_OFFSET, CMD_TIMEOUT_OFFSET, INT_COMPLETION, INT_ERROR,
  PT_ENGINE_PASSTHRU, PT_ERR_IDMA0_AXI_DECERR, PT_ERR_IDMA0_AXI_SLVERR, PT_ERR_ILLEGAL_BUFFER_LENGTH,
  PT_ERR_ILLEGAL_ENGINE, PT_ERR_ILLEGAL_FUNCTION_MODE, PT_ERR_ILLEGAL_FUNCTION_RSVD, PT_ERR_ILLEGAL_FUNCTION_SIZE,
  PT_ERR_ILLEGAL_FUNCTION_TYPE, PT_ERR_ILLEGAL_MEM_SEL, PT_ERR_ODMA0_AXI_DECERR, PT_ERR_ODMA0_AXI_SLVERR,
  Q_DESC_SIZE, decodePtdmaDesc, ptErrorName, type PtdmaDesc,
} from "./ptdma-regs.js";
import type { PtdmaParams } from "./ptdma-params.js";

/**
 * The PTDMA hardware: one PCI function with one queue (spec 1.2-1.9). The CPU sees only its MMIO
 * registers; descriptors are 32-byte little-endian records the engine fetches from the ring in
 * coherent memory at HEAD while RUN is set and HEAD != TAIL. Each descriptor is fetched, decoded,
 * moved through the fabric (sharing bandwidth with every other transfer), written to memory at the
 * end of the transfer, and retired: HEAD advances 32 bytes and INTERRUPT_STATUS latches COMPLETION
 * (or ERROR with the code in Q_STATUS, and the queue halts). INTERRUPT_STATUS latches whether or not
 * INT_ENABLE is set; an MSI is sent when (INTERRUPT_STATUS & INT_ENABLE) goes from zero to non-zero
 * (edge semantics; assumed, spec 7.7).
 *
 * The engine is serial: one descriptor at a time; the next fetch starts after the previous retires.
 */
export interface PtdmaHwStats {
  descriptors: number;
  bytes: number;
  errors: number;
  msiSent: number;
  msiLost: number;
  msiSpurious: number;
  aborts: number;
  /** Most descriptors ever queued in the ring at once (TAIL - HEAD at a TAIL write). */
  maxQueued: number;
}

/** The machine-wide PTDMA fault points (spec 5.6); every engine shares them. */
export interface PtdmaFaults {
  /** Descriptor/format error at decode: Q_STATUS format code, queue halts, no data written. */
  readonly descError: FaultPoint;
  /** Bus fault after k bytes: a partial destination write, then a read- or write-side AXI error. */
  readonly busFault: FaultPoint;
  /** The engine stops making progress on a descriptor: HEAD frozen, no interrupt. */
  readonly hang: FaultPoint;
  /** The completion MSI is dropped; INTERRUPT_STATUS stays latched. */
  readonly lostIrq: FaultPoint;
  /** The glue's descriptor allocation fails (kmem_cache GFP_NOWAIT in pt_alloc_dma_desc): prep returns NULL. */
  readonly descAlloc: FaultPoint;
  /** An extra MSI arrives after a completion (the handler finds INTERRUPT_STATUS clear). */
  readonly spuriousIrq: FaultPoint;
}

/** Define (or fetch) the PTDMA fault points of a machine. */
export function ptdmaFaults(core: KernelCore): PtdmaFaults {
  const f = core.faults;
  return {
    descError: f.define("ptdma.desc_error", "PTDMA descriptor decode error: Q_STATUS format code, queue halts, nothing written; target: the engine (ptdma<N>)", "engine"),
    busFault: f.define("ptdma.bus_fault", "PTDMA AXI bus fault after k bytes of a transfer: partial destination write, error code, halt; target: the engine (ptdma<N>)", "engine"),
    hang: f.define("ptdma.hang", "PTDMA engine stops making progress on a descriptor: HEAD frozen, no interrupt; target: the engine (ptdma<N>)", "engine"),
    lostIrq: f.define("ptdma.lost_irq", "PTDMA completion MSI dropped (INTERRUPT_STATUS stays latched); target: the engine (ptdma<N>)", "engine"),
    spuriousIrq: f.define("ptdma.spurious_irq", "an extra PTDMA MSI after a completion; target: the engine (ptdma<N>)", "engine"),
    descAlloc: f.define("ptdma.desc_alloc", "pt_alloc_dma_desc() fails its GFP_NOWAIT allocation: device_prep_dma_memcpy() returns NULL; target: the engine (ptdma<N>)", "engine"),
  };
}

const IDLE = 0;
const FETCH = 1;
const COPY = 2;
const WRITEBACK = 3;
const HUNG = 4;

const FORMAT_CODES = [
  PT_ERR_ILLEGAL_ENGINE, PT_ERR_ILLEGAL_FUNCTION_TYPE, PT_ERR_ILLEGAL_FUNCTION_MODE, PT_ERR_ILLEGAL_FUNCTION_SIZE,
  PT_ERR_ILLEGAL_FUNCTION_RSVD, PT_ERR_ILLEGAL_BUFFER_LENGTH,
];

/** Posted writes pt_core_irq_handler() issues before its completion routine: INT_ENABLE=0 and the W1C ack. */
const IRQ_WRITES_BEFORE_COMPLETE = 2;

/** The version register: version 1 in bits 5:0, one VQM in bits 18:15 [U: exact value]. */
const PT_VERSION_VALUE = (1 << 15) | 1;

export interface PtdmaHwOptions {
  readonly core: KernelCore;
  readonly mem: PhysMem;
  /** The platform IOMMU the engine reaches memory through (rings, descriptors, copies). */
  readonly iommu: Iommu;
  readonly fabric: Fabric;
  /** The PCI function's struct device (mask, IOMMU, node). */
  readonly dev: Device;
  readonly params: PtdmaParams;
  readonly faults: PtdmaFaults;
  /** Fabric servers the engine's transfers cross besides memory: the engine, and its quadrant (-1 if none). */
  readonly engineServer: number;
  readonly quadrantServer: number;
  readonly name: string;
  /** The engine's number (N of ptdma<N>), the target of its fault points. @default 0 */
  readonly index?: number;
  /** The MSI's Linux IRQ number (irq_handler_entry's irq=). @default PTDMA_IRQ_BASE */
  readonly irq?: number;
}

/** First IRQ number given to PTDMA functions (x86 allocates MSI IRQs above the legacy and IO-APIC ones). */
export const PTDMA_IRQ_BASE = 40;

export class PtdmaFunction {
  readonly name: string;
  readonly index: number;
  readonly dev: Device;
  readonly stats: PtdmaHwStats = { descriptors: 0, bytes: 0, errors: 0, msiSent: 0, msiLost: 0, msiSpurious: 0, aborts: 0, maxQueued: 0 };
  /** Bytes into a transfer at which the next injected bus fault strikes; null draws it at random. */
  busFaultAfter: number | null = null;
  // Global registers.
  queuePrio = 0;
  reqidConfig = 0;
  cmdTimeout = 0;
  config = 0;
  clkGateCtl = 0;
  // Queue registers.
  control = 0;
  // HEAD/TAIL hold bus addresses above 2^31; they are kept as signed int32 so they stay small integers.
  private tail32 = 0;
  private head32 = 0;
  intEnable = 0;
  intStatus = 0;
  qStatus = 0;
  qIntStatus = 0;
  axCache = 0;
  // Engine state.
  private phase = IDLE;
  private halted = false;
  /** The scheduled fetch or write-back event, cancelled on abort so stale work never resumes. */
  private pendingEvent = -1;
  private flowToken = -1;
  private readonly cur: PtdmaDesc = { dw0: 0, length: 0, src: 0, dst: 0, srcMem: 0, dstMem: 0 };
  private copyBytes = 0;
  /** Translation stall of the current descriptor (IOTLB misses x iotlb_miss), in ns. */
  private xlat = 0;
  /** Pipeline fill of the current descriptor: its first source read (desc_fetch), in ns. */
  private fill = 0;
  /** Posted MMIO writes the IRQ handler has issued so far; -1 outside the handler. */
  private irqWrites = -1;
  private errCode = 0;
  private ring: CoherentBuffer | null = null;
  private irqHandler: ((arg: any) => void) | null = null;
  private irqArg: unknown = null;

  private readonly core: KernelCore;
  private readonly mem: PhysMem;
  private readonly iommu: Iommu;
  private readonly fabric: Fabric;
  private readonly p: PtdmaParams;
  private readonly faults: PtdmaFaults;
  private readonly rng: PrngStream;
  private readonly engineServer: number;
  private readonly quadrantServer: number;
  private readonly tpFetch: Tracepoint<{ dev: string; head: number; len: number }>;
  private readonly tpErr: Tracepoint<{ dev: string; code: number; name: string; bytesDone: number }>;
  private readonly tpIrq: Tracepoint<{ dev: string; kind: string }>;
  private readonly tpDone: Tracepoint<{ dev: string; head: number; len: number; error: number }>;
  private readonly tpDoorbell: Tracepoint<{ dev: string; tail: number; queued: number }>;
  /** The MSI's IRQ number, and the CPU it is delivered to: the first CPU of the device's node (default affinity, no irqbalance). */
  readonly irq: number;
  readonly irqCpu: number;

  constructor(o: PtdmaHwOptions) {
    this.name = o.name;
    this.index = o.index ?? 0;
    this.core = o.core;
    this.mem = o.mem;
    this.iommu = o.iommu;
    this.fabric = o.fabric;
    this.dev = o.dev;
    this.p = o.params;
    this.faults = o.faults;
    this.rng = o.core.prng.stream(`ptdma:${o.name}`);
    this.engineServer = o.engineServer;
    this.quadrantServer = o.quadrantServer;
    this.tpFetch = o.core.trace.define("ptdma_desc_fetch");
    this.tpErr = o.core.trace.define("ptdma_hw_error");
    this.tpIrq = o.core.trace.define("ptdma_irq");
    this.tpDone = o.core.trace.define("ptdma_desc_complete");
    this.tpDoorbell = o.core.trace.define("ptdma_doorbell");
    this.irq = o.irq ?? PTDMA_IRQ_BASE;
    let cpu = 0;
    while (cpu < o.mem.nrCpus - 1 && o.mem.cpuToNode(cpu) !== o.dev.numaNode) cpu++;
    this.irqCpu = cpu;
  }

  /** Log the device's own events as the device (no CPU runs them); returns the context to restore. */
  private enterDeviceTrace(): number {
    return this.core.trace.enterContext(this.irqCpu, TRACE_CTX_DEVICE, this.name);
  }

  /** CMD_Q_TAIL_LO as an unsigned value. */
  get tailLo(): number {
    return this.tail32 >>> 0;
  }

  /** CMD_Q_HEAD_LO as an unsigned value. */
  get headLo(): number {
    return this.head32 >>> 0;
  }

  /** Connect the MSI vector to a handler (request_irq()). */
  requestIrq(handler: (arg: any) => void, arg: unknown): void {
    this.irqHandler = handler;
    this.irqArg = arg;
  }

  /** Whether the engine is working on a descriptor (or wedged on one). */
  get busy(): boolean {
    return this.phase !== IDLE;
  }

  /** Whether the engine is wedged by the hang fault. */
  get hung(): boolean {
    return this.phase === HUNG;
  }

  /** An MMIO read of the register at `off` from the BAR base; a u32 as a signed int32. */
  mmioRead(off: number): number {
    const q = off - CMD_Q_STATUS_INCR;
    switch (q) {
      case CMD_Q_CONTROL_BASE: return (this.halted ? (this.control & ~CMD_Q_RUN) | CMD_Q_HALT : this.control) >>> 0;
      case CMD_Q_TAIL_LO_BASE: return this.tail32;
      case CMD_Q_HEAD_LO_BASE: return this.head32;
      case CMD_Q_INT_ENABLE_BASE: return this.intEnable;
      case CMD_Q_INTERRUPT_STATUS_BASE: return this.intStatus;
      case CMD_Q_STATUS_BASE: return this.qStatus;
      case CMD_Q_INT_STATUS_BASE: return this.qIntStatus;
      case CMD_Q_DMA_STATUS_BASE:
      case CMD_Q_DMA_READ_STATUS_BASE:
      case CMD_Q_DMA_WRITE_STATUS_BASE:
      case CMD_Q_ABORT_BASE: return 0;
      case CMD_Q_AX_CACHE_BASE: return this.axCache;
    }
    switch (off) {
      case CMD_QUEUE_PRIO_OFFSET: return this.queuePrio;
      case CMD_REQID_CONFIG_OFFSET: return this.reqidConfig;
      case CMD_TIMEOUT_OFFSET: return this.cmdTimeout;
      case CMD_PT_VERSION: return PT_VERSION_VALUE;
      case CMD_CONFIG_OFFSET: return this.config;
      case CMD_CLK_GATE_CTL_OFFSET: return this.clkGateCtl;
    }
    throw new RangeError(`${this.name}: MMIO read of unknown PTDMA register offset 0x${off.toString(16)}`);
  }

  /** An MMIO write of `value` (a u32) to the register at `off`. */
  mmioWrite(off: number, value: number): void {
    const v = value | 0;
    const q = off - CMD_Q_STATUS_INCR;
    // Inside the IRQ handler each posted write costs the CPU mmio_write_cost before the next access:
    // a doorbell reaches the engine after the writes the handler issued before it, beyond the ones
    // handlerEntry() already counts.
    let lead = 0;
    if (this.irqWrites >= 0) {
      if (this.irqWrites > IRQ_WRITES_BEFORE_COMPLETE) lead = (this.irqWrites - IRQ_WRITES_BEFORE_COMPLETE) * this.p.mmio_write_cost;
      this.irqWrites++;
    }
    switch (q) {
      case CMD_Q_CONTROL_BASE:
        this.control = v;
        if ((v & CMD_Q_RUN) !== 0) {
          this.halted = false;
          this.kick(true, lead);
        }
        return;
      case CMD_Q_TAIL_LO_BASE: {
        this.tail32 = v;
        const rb = this.ringBytes();
        const queued = (((v - this.head32) % rb) + rb) % rb / Q_DESC_SIZE;
        if (queued > this.stats.maxQueued) this.stats.maxQueued = queued;
        // The tail write is the doorbell, a posted write logged in the writer's context.
        if (this.tpDoorbell.enabled) this.tpDoorbell.emit({ dev: this.name, tail: v >>> 0, queued });
        if ((this.control & CMD_Q_RUN) !== 0 && !this.halted) this.kick(true, lead);
        return;
      }
      case CMD_Q_HEAD_LO_BASE:
        this.head32 = v;
        return;
      case CMD_Q_INT_ENABLE_BASE: {
        const before = this.intStatus & this.intEnable;
        this.intEnable = v;
        if (before === 0 && (this.intStatus & v) !== 0) this.sendMsi();
        return;
      }
      case CMD_Q_INTERRUPT_STATUS_BASE:
        this.intStatus &= ~v; // write 1 to clear
        return;
      case CMD_Q_ABORT_BASE:
        if (v !== 0) this.abort();
        return;
      case CMD_Q_AX_CACHE_BASE:
        this.axCache = v;
        return;
      case CMD_Q_STATUS_BASE:
      case CMD_Q_INT_STATUS_BASE:
        return; // read-only; writes are ignored
    }
    switch (off) {
      case CMD_QUEUE_PRIO_OFFSET: this.queuePrio = v; return;
      case CMD_REQID_CONFIG_OFFSET: this.reqidConfig = v; return;
      case CMD_TIMEOUT_OFFSET: this.cmdTimeout = v; return;
      case CMD_CONFIG_OFFSET: this.config = v; return;
      case CMD_CLK_GATE_CTL_OFFSET: this.clkGateCtl = v; return;
    }
    throw new RangeError(`${this.name}: MMIO write of unknown PTDMA register offset 0x${off.toString(16)}`);
  }

  /** Ring size in bytes from CONTROL.Q_SIZE, cached per CONTROL value. */
  private ringBytes(): number {
    if (this.rbControl !== this.control) {
      this.rbControl = this.control;
      this.rbBytes = Q_DESC_SIZE << (((this.control & CMD_Q_SIZE_MASK) >>> CMD_Q_SIZE_SHIFT) + 1);
    }
    return this.rbBytes;
  }

  private rbControl = -1;
  private rbBytes = 0;

  /**
   * Start fetching at HEAD if running, idle and the ring is not empty. `lead`: CPU time the writer
   * still spends on earlier posted writes before the doorbell leaves it.
   */
  private kick(doorbell: boolean, lead = 0): void {
    if (this.phase !== IDLE || this.halted || (this.control & CMD_Q_RUN) === 0 || this.head32 === this.tail32) return;
    this.phase = FETCH;
    const p = this.p;
    const delay = (doorbell ? lead + p.doorbell_to_fetch : this.wbDelay) + p.desc_fetch + p.desc_setup;
    this.pendingEvent = this.core.sim.schedule(delay, onFetched, this);
  }

  /** @internal the descriptor at HEAD has been fetched and decoded. */
  fetched(): void {
    this.pendingEvent = -1;
    if (this.phase !== FETCH) return;
    const base = (this.control >>> 16) * 0x1_0000_0000 + (this.head32 >>> 0);
    let ring = this.ring;
    if (ring === null || base < ring.busAddr || base + Q_DESC_SIZE > ring.busAddr + ring.size) ring = this.ring = this.iommu.coherentAt(base);
    if (ring === null) {
      // The ring itself is unreachable: a read-side decode error with nothing fetched.
      this.retire(PT_ERR_IDMA0_AXI_DECERR);
      return;
    }
    const d = decodePtdmaDesc(ring.view, base - ring.busAddr, this.cur);
    if (this.tpFetch.enabled) {
      const prev = this.enterDeviceTrace();
      this.tpFetch.emit({ dev: this.name, head: this.head32 >>> 0, len: d.length });
      this.core.trace.exitContext(prev);
    }
    this.errCode = 0;
    const engine = (d.dw0 >>> 20) & 0xf;
    const fn = (d.dw0 >>> 5) & 0x7fff;
    let code = 0;
    if (engine !== PT_ENGINE_PASSTHRU) code = PT_ERR_ILLEGAL_ENGINE;
    else if (fn !== 0) code = PT_ERR_ILLEGAL_FUNCTION_TYPE; // byteswap/bitwise passthru functions are not modelled
    else if (d.srcMem !== 0 || d.dstMem !== 0) code = PT_ERR_ILLEGAL_MEM_SEL;
    else if (this.faults.descError.armed && this.faults.descError.shouldFail(this.index)) code = FORMAT_CODES[this.rng.below(FORMAT_CODES.length)]!;
    if (code !== 0) {
      this.retire(code);
      return;
    }
    if (this.faults.hang.armed && this.faults.hang.shouldFail(this.index)) {
      this.phase = HUNG;
      if (this.tpErr.enabled) this.tpErr.emit({ dev: this.name, code: -1, name: "HANG", bytesDone: 0 });
      return;
    }
    const srcPhys = this.iommu.translate(this.dev, d.src);
    const dstPhys = this.iommu.translate(this.dev, d.dst);
    if (srcPhys < 0 || dstPhys < 0) {
      this.retire(srcPhys < 0 ? PT_ERR_IDMA0_AXI_DECERR : PT_ERR_ODMA0_AXI_DECERR);
      return;
    }
    this.copyBytes = d.length;
    // IOTLB misses: one page walk per IOMMU page touched on each side (a streaming copy reuses none).
    this.xlat = this.p.iotlb_miss > 0 && d.length > 0
      ? (this.iommu.iotlbPages(this.dev, d.src, d.length) + this.iommu.iotlbPages(this.dev, d.dst, d.length)) * this.p.iotlb_miss
      : 0;
    // Pipeline fill: the engine writes nothing before its first source read returns, a read of host
    // memory over the same path as the descriptor fetch, so it waits one desc_fetch more.
    this.fill = d.length > 0 ? this.p.desc_fetch : 0;
    if (this.faults.busFault.armed && d.length > 0 && this.faults.busFault.shouldFail(this.index)) {
      const k = this.busFaultAfter ?? this.rng.below(Math.ceil(d.length / 64)) * 64;
      this.copyBytes = Math.min(Math.max(0, Math.floor(k)), d.length - 1);
      this.errCode = this.rng.chance(0.5) ? PT_ERR_IDMA0_AXI_SLVERR : PT_ERR_ODMA0_AXI_SLVERR;
    }
    this.phase = COPY;
    const nodes = this.mem.nodeOfPfn;
    const srcNode = nodes[Math.floor(srcPhys / PAGE_SIZE)]!;
    const dstNode = nodes[Math.floor(dstPhys / PAGE_SIZE)]!;
    this.flowToken = this.fabric.startTransfer(this.copyBytes, srcNode, dstNode, this.engineServer, this.quadrantServer, onCopied, this);
  }

  /**
   * @internal the fabric moved the last byte: the data lands now and the descriptor retires. The
   * completion write-back (HEAD, INTERRUPT_STATUS) is folded into the delays that follow it — the MSI
   * and the next fetch start `completion_writeback` later — which saves an event per descriptor; a
   * poller can see the latch that much early. The engine's translation stalls (`xlat`, spread through
   * the transfer in the hardware) are folded in the same way: the engine holds no bandwidth while
   * it waits for a page walk, so charging them after the last beat gives the same descriptor time.
   * The pipeline fill (the first source read) is folded in the same way.
   */
  copied(): void {
    if (this.phase !== COPY) return;
    this.flowToken = -1;
    const d = this.cur;
    const moved = this.iommu.deviceCopy(this.dev, d.dst, d.src, this.copyBytes);
    if (moved < this.copyBytes && this.errCode === 0) this.errCode = PT_ERR_ODMA0_AXI_DECERR;
    this.stats.bytes += moved;
    this.phase = WRITEBACK;
    this.retire(this.errCode, this.p.completion_writeback + this.xlat + this.fill);
  }

  private retire(code: number, writeback = 0): void {
    // The ring is aligned to its size, so advancing wraps within the low bits.
    const rb = this.ringBytes();
    const h = this.head32;
    if (this.tpDone.enabled) {
      const prev = this.enterDeviceTrace();
      this.tpDone.emit({ dev: this.name, head: h >>> 0, len: this.cur.length, error: code });
      this.core.trace.exitContext(prev);
    }
    this.head32 = (h & ~(rb - 1)) | ((h + Q_DESC_SIZE) & (rb - 1));
    this.phase = IDLE;
    this.wbDelay = writeback;
    if (code !== 0) {
      this.stats.errors++;
      this.qStatus = (this.qStatus & ~0x3f) | code;
      this.halted = true;
      if (this.tpErr.enabled) {
        const prev = this.enterDeviceTrace();
        this.tpErr.emit({ dev: this.name, code, name: ptErrorName(code), bytesDone: this.copyBytes });
        this.core.trace.exitContext(prev);
      }
      this.latch(INT_ERROR);
    } else {
      this.stats.descriptors++;
      this.latch(INT_COMPLETION);
    }
    if (this.faults.spuriousIrq.armed && this.faults.spuriousIrq.shouldFail(this.index)) {
      this.stats.msiSpurious++;
      if (this.tpIrq.enabled) this.tpIrq.emit({ dev: this.name, kind: "spurious" });
      this.core.sim.schedule(writeback + 2 * this.p.msi_latency + this.handlerEntry(), onMsi, this);
    }
    this.kick(false);
    this.wbDelay = 0;
  }

  /** Write-back time still to elapse after a retire (added to the MSI and the next fetch). */
  private wbDelay = 0;

  private latch(bits: number): void {
    const before = this.intStatus & this.intEnable;
    this.intStatus |= bits;
    if (before === 0 && (this.intStatus & this.intEnable) !== 0) this.sendMsi();
  }

  /**
   * Time from the MSI's arrival to the completion routine: pt_core_irq_handler() writes INT_ENABLE=0,
   * pt_check_status_trans() reads three registers and acknowledges with a W1C write.
   */
  private handlerEntry(): number {
    return this.p.irq_handler_fixed + 3 * this.p.mmio_read_latency + IRQ_WRITES_BEFORE_COMPLETE * this.p.mmio_write_cost;
  }

  private sendMsi(): void {
    if (this.faults.lostIrq.armed && this.faults.lostIrq.shouldFail(this.index)) {
      this.stats.msiLost++;
      if (this.tpIrq.enabled) this.tpIrq.emit({ dev: this.name, kind: "lost" });
      return;
    }
    this.stats.msiSent++;
    if (this.tpIrq.enabled) {
      const prev = this.enterDeviceTrace();
      this.tpIrq.emit({ dev: this.name, kind: "raise" });
      this.core.trace.exitContext(prev);
    }
    this.core.sim.schedule(this.wbDelay + this.p.msi_latency + this.handlerEntry(), onMsi, this);
  }

  /** @internal the MSI reached the CPU: run the registered handler. */
  deliverMsi(): void {
    if (this.irqHandler === null) return;
    this.irqWrites = 0;
    try {
      this.irqHandler(this.irqArg);
    } finally {
      this.irqWrites = -1;
    }
  }

  /** CMD_Q_ABORT (assumed semantics, spec 1.2): drop the current descriptor, keeping whatever part of the copy had moved, and stop. */
  private abort(): void {
    this.stats.aborts++;
    if (this.pendingEvent >= 0) {
      this.core.sim.cancel(this.pendingEvent);
      this.pendingEvent = -1;
    }
    if (this.phase === COPY && this.flowToken >= 0) {
      const moved = this.fabric.cancel(this.flowToken);
      if (moved > 0) this.iommu.deviceCopy(this.dev, this.cur.dst, this.cur.src, moved);
      this.flowToken = -1;
    }
    this.phase = IDLE;
    this.control &= ~CMD_Q_RUN;
  }
}

function onFetched(hw: PtdmaFunction): void {
  hw.fetched();
}

function onCopied(hw: PtdmaFunction): void {
  hw.copied();
}

function onMsi(hw: PtdmaFunction): void {
  hw.deliverMsi();
}
