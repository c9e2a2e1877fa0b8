import { TRACE_CTX_DEVICE, type FaultPoint, type KernelCore, type Tracepoint } from "@mmemu/driver-kit";
import type { Device } from "@mmemu/driver-kit";
import type { CoherentBuffer, Fabric, Iommu } from "@mmemu/driver-kit";
import {
  AE4_COMMON_CONFIG_OFF, AE4_DESC_COMPLETED, AE4_DESC_DW0_VAL, AE4_DESC_ERROR, AE4_DESC_SIZE, AE4_ERR_DST_ALIGN,
  AE4_ERR_INVALID_DESC, AE4_ERR_INVALID_HEADER, AE4_ERR_LEN_ALIGN, AE4_ERR_PTE_DST, AE4_ERR_PTE_SRC,
  AE4_ERR_SRC_ALIGN, AE4_INTR_COMPLETION, AE4_INTR_STS_OFF, AE4_MAX_IDX_OFF, AE4_Q_BASE_H_OFF, AE4_Q_BASE_L_OFF,
  AE4_Q_CONTROL_OFF, AE4_Q_INTR_EN_OFF, AE4_Q_LEN, AE4_Q_RUN, AE4_Q_SZ, AE4_RD_IDX_OFF, AE4_WR_IDX_OFF,
  MAX_AE4_HW_QUEUES, ae4ErrorName, decodeAe4Desc, writeBackAe4Status, type Ae4Desc,
} from "./ae4dma-regs.js";
import type { Ae4dmaParams } from "./ae4dma-params.js";

/**
 * The AE4DMA hardware: one PCI function with up to 16 queues (spec 2.1-2.6). Each queue has a ring of
 * 32-byte descriptors in coherent memory at Q_BASE, a read index the engine advances (RD_IDX) and a
 * write index software advances (WR_IDX, the doorbell). While a queue's RUN bit is set and RD_IDX !=
 * WR_IDX the engine fetches the descriptor at RD_IDX, checks it (4-byte alignment of length and
 * addresses), moves the bytes through the fabric and the IOMMU, writes the status byte (3 =
 * completed, else an error with its code) back into the descriptor, advances RD_IDX and latches
 * INTR_STS bit 0; an MSI goes to the queue's vector when INTR_STS goes from clear to set and
 * interrupts are enabled. A queue copies one descriptor at a time and fetches the next while it does
 * (prefetch), so the ring keeps several descriptors in flight; the queues of a function run
 * concurrently and share its bandwidth. Errors do not stop the queue [U].
 *
 * Clearing RUN stops fetching: a copy already moving completes and retires, later slots wait.
 */
export interface Ae4dmaHwStats {
  descriptors: number;
  bytes: number;
  errors: number;
  msiSent: number;
  msiLost: number;
  /** Most descriptors ever queued in one ring at once (WR_IDX - RD_IDX at a doorbell). */
  maxQueued: number;
}

/** The machine-wide AE4DMA fault points (spec 5.6); every function shares them. */
export interface Ae4dmaFaults {
  /** An invalid-descriptor error at decode: status written back with code 7, nothing copied. */
  readonly descError: FaultPoint;
  /** The queue stops making progress on a descriptor: RD_IDX frozen, no interrupt. */
  readonly hang: FaultPoint;
  /** The queue's completion MSI is dropped (INTR_STS stays latched). */
  readonly lostIrq: FaultPoint;
}

/** Define (or fetch) the AE4DMA fault points of a machine. */
export function ae4dmaFaults(core: KernelCore): Ae4dmaFaults {
  const f = core.faults;
  return {
    descError: f.define("ae4dma.desc_error", "AE4DMA descriptor error at decode: status != 3 with code 7 written back, nothing copied"),
    hang: f.define("ae4dma.hang", "an AE4DMA queue stops making progress on a descriptor: RD_IDX frozen, no interrupt"),
    lostIrq: f.define("ae4dma.lost_irq", "an AE4DMA queue's completion MSI is dropped (INTR_STS stays latched)"),
  };
}

const IDLE = 0;
const FETCH = 1;
const COPY = 2;
const HUNG = 3;

/** One hardware queue's registers and engine state. */
class HwQueue {
  control = 0;
  intrEn = 0;
  maxIdx = AE4_Q_LEN;
  rdIdx = 0;
  wrIdx = 0;
  intrSts = 0;
  baseL = 0;
  baseH = 0;
  phase = IDLE;
  pendingEvent = -1;
  flowToken = -1;
  ring: CoherentBuffer | null = null;
  readonly cur: Ae4Desc = { dw0: 0, status: 0, errCode: 0, length: 0, src: 0, dst: 0 };
  copyBytes = 0;
  errCode = 0;
  xlat = 0;
  /** When the descriptor after the current one will have been fetched (prefetched during the copy). */
  prefetchDoneAt = 0;
  irqHandler: ((arg: any) => void) | null = null;
  irqArg: unknown = null;

  constructor(
    readonly fn: Ae4dmaFunction,
    readonly q: number,
  ) {}

  get ringBase(): number {
    return (this.baseH >>> 0) * 0x1_0000_0000 + (this.baseL >>> 0);
  }
}

export interface Ae4dmaHwOptions {
  readonly core: KernelCore;
  /** The platform IOMMU the engine reaches memory through (rings, descriptors, copies). */
  readonly iommu: Iommu;
  readonly fabric: Fabric;
  /** The PCI function's struct device (mask, IOMMU, node). */
  readonly dev: Device;
  readonly params: Ae4dmaParams;
  readonly faults: Ae4dmaFaults;
  /** The fabric server of the function's copy engine. */
  readonly engineServer: number;
  readonly name: string;
}

export class Ae4dmaFunction {
  readonly name: string;
  readonly dev: Device;
  readonly stats: Ae4dmaHwStats = { descriptors: 0, bytes: 0, errors: 0, msiSent: 0, msiLost: 0, maxQueued: 0 };
  /** The common configuration register (queues enabled). */
  commonConfig = 0;
  private readonly queues: HwQueue[] = [];
  private readonly core: KernelCore;
  private readonly map: Iommu;
  private readonly fabric: Fabric;
  private readonly p: Ae4dmaParams;
  private readonly faults: Ae4dmaFaults;
  private readonly engineServer: number;
  private readonly nodeOfPfn: Uint16Array;
  private readonly tpFetch: Tracepoint<{ dev: string; q: number; slot: number; len: number }>;
  private readonly tpErr: Tracepoint<{ dev: string; q: number; code: number; name: string }>;
  private readonly tpDone: Tracepoint<{ dev: string; q: number; slot: number; len: number; error: number }>;
  private readonly tpDoorbell: Tracepoint<{ dev: string; q: number; wr_idx: number; queued: number }>;
  /** The CPU the queues' MSIs go to: the first CPU of the device's node (default affinity, no irqbalance). */
  readonly irqCpu: number;
  /** Each queue's name in traces (the device context its own events are logged in). */
  private readonly queueNames: string[] = [];

  constructor(o: Ae4dmaHwOptions) {
    this.name = o.name;
    this.core = o.core;
    this.map = o.iommu;
    this.fabric = o.fabric;
    this.dev = o.dev;
    this.p = o.params;
    this.faults = o.faults;
    this.engineServer = o.engineServer;
    this.nodeOfPfn = o.iommu.mem.nodeOfPfn;
    for (let q = 0; q < MAX_AE4_HW_QUEUES; q++) this.queues.push(new HwQueue(this, q));
    this.tpFetch = o.core.trace.define("ae4dma_desc_fetch");
    this.tpErr = o.core.trace.define("ae4dma_hw_error");
    this.tpDone = o.core.trace.define("ae4dma_desc_complete");
    this.tpDoorbell = o.core.trace.define("ae4dma_doorbell");
    const mem = o.iommu.mem;
    let cpu = 0;
    while (cpu < mem.nrCpus - 1 && mem.cpuToNode(cpu) !== o.dev.numaNode) cpu++;
    this.irqCpu = cpu;
    for (let q = 0; q < MAX_AE4_HW_QUEUES; q++) this.queueNames.push(`${o.name}q${q}`);
  }

  /** Queue q's name in traces: the `dev` of its start_desc events and the comm of its engine's events. */
  queueName(q: number): string {
    return this.queueNames[q] ?? `${this.name}q${q}`;
  }

  /** Log queue q's engine events as the device (no CPU runs them); returns the context to restore. */
  private enterDeviceTrace(q: number): number {
    return this.core.trace.enterContext(this.irqCpu, TRACE_CTX_DEVICE, this.queueName(q));
  }

  private traceErr(hq: HwQueue, code: number, name: string): void {
    const prev = this.enterDeviceTrace(hq.q);
    this.tpErr.emit({ dev: this.name, q: hq.q, code, name });
    this.core.trace.exitContext(prev);
  }

  /** Connect queue q's MSI-X vector to a handler (request_irq()). */
  requestIrq(q: number, handler: (arg: any) => void, arg: unknown): void {
    const hq = this.queue(q);
    hq.irqHandler = handler;
    hq.irqArg = arg;
  }

  /** Whether queue q's engine is working on (or wedged on) a descriptor. */
  busy(q: number): boolean {
    return this.queue(q).phase !== IDLE;
  }

  private queue(q: number): HwQueue {
    const hq = this.queues[q];
    if (hq === undefined) throw new RangeError(`${this.name}: queue ${q} does not exist (0..${MAX_AE4_HW_QUEUES - 1})`);
    return hq;
  }

  private decodeOff(off: number): [HwQueue, number] | null {
    if (!Number.isInteger(off) || off < AE4_Q_SZ || off >= AE4_Q_SZ * (MAX_AE4_HW_QUEUES + 1) || off % 4 !== 0) return null;
    return [this.queues[off / AE4_Q_SZ - 1 | 0]!, off % AE4_Q_SZ];
  }

  /** An MMIO read of the u32 register at `off` from BAR0. */
  mmioRead(off: number): number {
    if (off === AE4_COMMON_CONFIG_OFF) return this.commonConfig;
    const r = this.decodeOff(off);
    if (r !== null) {
      const [hq, reg] = r;
      switch (reg) {
        case AE4_Q_CONTROL_OFF: return hq.control;
        case AE4_Q_INTR_EN_OFF: return hq.intrEn;
        case AE4_MAX_IDX_OFF: return hq.maxIdx;
        case AE4_RD_IDX_OFF: return hq.rdIdx;
        case AE4_WR_IDX_OFF: return hq.wrIdx;
        case AE4_INTR_STS_OFF: return hq.intrSts;
        case AE4_Q_BASE_L_OFF: return hq.baseL;
        case AE4_Q_BASE_H_OFF: return hq.baseH;
      }
    }
    throw new RangeError(`${this.name}: MMIO read of unknown AE4DMA register offset 0x${off.toString(16)}`);
  }

  /** An MMIO write of the u32 `value` to the register at `off`. */
  mmioWrite(off: number, value: number): void {
    const v = value >>> 0;
    if (off === AE4_COMMON_CONFIG_OFF) {
      this.commonConfig = v;
      return;
    }
    const r = this.decodeOff(off);
    if (r === null) throw new RangeError(`${this.name}: MMIO write of unknown AE4DMA register offset 0x${off.toString(16)}`);
    const [hq, reg] = r;
    switch (reg) {
      case AE4_Q_CONTROL_OFF:
        hq.control = v;
        if ((v & AE4_Q_RUN) !== 0) this.kick(hq, true);
        return;
      case AE4_Q_INTR_EN_OFF: {
        const before = hq.intrSts & hq.intrEn;
        hq.intrEn = v;
        if (before === 0 && (hq.intrSts & v) !== 0) this.sendMsi(hq, 0);
        return;
      }
      case AE4_MAX_IDX_OFF:
        if (v < 2 || v > AE4_Q_LEN) throw new RangeError(`${this.name} queue ${hq.q}: MAX_IDX ${v} is outside 2..${AE4_Q_LEN}`);
        hq.maxIdx = v;
        return;
      case AE4_RD_IDX_OFF:
        hq.rdIdx = v % hq.maxIdx;
        return;
      case AE4_WR_IDX_OFF: {
        hq.wrIdx = v % hq.maxIdx;
        const queued = (hq.wrIdx - hq.rdIdx + hq.maxIdx) % hq.maxIdx;
        if (queued > this.stats.maxQueued) this.stats.maxQueued = queued;
        // The WR_IDX write is the doorbell, a posted write logged in the writer's context.
        if (this.tpDoorbell.enabled) this.tpDoorbell.emit({ dev: this.name, q: hq.q, wr_idx: hq.wrIdx, queued });
        this.kick(hq, true);
        return;
      }
      case AE4_INTR_STS_OFF:
        // The driver acks by writing the value back with bit 0 clear (spec 2.2, [U] W0C).
        hq.intrSts &= v;
        return;
      case AE4_Q_BASE_L_OFF:
        hq.baseL = v;
        hq.ring = null;
        return;
      case AE4_Q_BASE_H_OFF:
        hq.baseH = v;
        hq.ring = null;
        return;
    }
  }

  /** Start fetching at RD_IDX if running, idle and the ring is not empty. */
  private kick(hq: HwQueue, doorbell: boolean): void {
    if (hq.phase !== IDLE || (hq.control & AE4_Q_RUN) === 0 || hq.rdIdx === hq.wrIdx) return;
    hq.phase = FETCH;
    const p = this.p;
    const now = this.core.sim.now;
    // A prefetch started during the previous copy may already have the descriptor.
    const fetch = doorbell ? p.doorbell_to_fetch + p.desc_fetch + p.desc_setup : Math.max(0, hq.prefetchDoneAt - now);
    hq.pendingEvent = this.core.sim.schedule(fetch, onFetched, hq);
  }

  /** @internal the descriptor at RD_IDX has been fetched and decoded. */
  fetched(hq: HwQueue): void {
    hq.pendingEvent = -1;
    if (hq.phase !== FETCH) return;
    if ((hq.control & AE4_Q_RUN) === 0) {
      // RUN was cleared while the descriptor was being fetched: it is not started.
      hq.phase = IDLE;
      return;
    }
    const addr = hq.ringBase + hq.rdIdx * AE4_DESC_SIZE;
    let ring = hq.ring;
    if (ring === null || addr < ring.busAddr || addr + AE4_DESC_SIZE > ring.busAddr + ring.size) ring = hq.ring = this.map.coherentAt(addr);
    if (ring === null) {
      // The ring itself is unreachable: the queue cannot even read the descriptor; it wedges.
      hq.phase = HUNG;
      if (this.tpErr.enabled) this.traceErr(hq, AE4_ERR_PTE_SRC, "RING UNREACHABLE");
      return;
    }
    const d = decodeAe4Desc(ring.view, addr - ring.busAddr, hq.cur);
    if (this.tpFetch.enabled) {
      const prev = this.enterDeviceTrace(hq.q);
      this.tpFetch.emit({ dev: this.name, q: hq.q, slot: hq.rdIdx, len: d.length });
      this.core.trace.exitContext(prev);
    }
    let code = 0;
    if ((d.dw0 & 0xff & ~(AE4_DESC_DW0_VAL | 1)) !== 0) code = AE4_ERR_INVALID_HEADER;
    else if (d.length % 4 !== 0) code = AE4_ERR_LEN_ALIGN;
    else if (d.src % 4 !== 0) code = AE4_ERR_SRC_ALIGN;
    else if (d.dst % 4 !== 0) code = AE4_ERR_DST_ALIGN;
    else if (this.faults.descError.armed && this.faults.descError.shouldFail()) code = AE4_ERR_INVALID_DESC;
    if (code !== 0) {
      this.retire(hq, code, 0);
      return;
    }
    if (this.faults.hang.armed && this.faults.hang.shouldFail()) {
      hq.phase = HUNG;
      if (this.tpErr.enabled) this.traceErr(hq, -1, "HANG");
      return;
    }
    hq.errCode = 0;
    hq.copyBytes = d.length;
    hq.xlat = 0;
    let srcNode = this.dev.numaNode;
    let dstNode = this.dev.numaNode;
    if (d.length > 0) {
      const srcPhys = this.map.translate(this.dev, d.src);
      const dstPhys = this.map.translate(this.dev, d.dst);
      if (srcPhys < 0 || dstPhys < 0) {
        this.retire(hq, srcPhys < 0 ? AE4_ERR_PTE_SRC : AE4_ERR_PTE_DST, 0);
        return;
      }
      srcNode = this.nodeOfPfn[Math.floor(srcPhys / 4096)]!;
      dstNode = this.nodeOfPfn[Math.floor(dstPhys / 4096)]!;
      if (this.p.iotlb_miss > 0) hq.xlat = (this.map.iotlbPages(this.dev, d.src, d.length) + this.map.iotlbPages(this.dev, d.dst, d.length)) * this.p.iotlb_miss;
    }
    hq.phase = COPY;
    // The next descriptor is fetched while this one copies.
    hq.prefetchDoneAt = this.core.sim.now + this.p.desc_fetch + this.p.desc_setup;
    hq.flowToken = this.fabric.startTransfer(hq.copyBytes, srcNode, dstNode, this.engineServer, -1, onCopied, hq);
  }

  /** @internal the fabric moved the last byte: the data lands and the descriptor retires. */
  copied(hq: HwQueue): void {
    if (hq.phase !== COPY) return;
    hq.flowToken = -1;
    const d = hq.cur;
    const moved = this.map.deviceCopy(this.dev, d.dst, d.src, hq.copyBytes);
    if (moved < hq.copyBytes && hq.errCode === 0) hq.errCode = AE4_ERR_PTE_DST;
    this.stats.bytes += moved;
    this.retire(hq, hq.errCode, this.p.completion_writeback + hq.xlat);
  }

  /**
   * Write the status back into the slot, advance RD_IDX, latch INTR_STS, go on with the next slot.
   * The write-back time is folded into the MSI's and the next fetch's delays (one event fewer).
   */
  private retire(hq: HwQueue, code: number, writeback: number): void {
    const ring = hq.ring!;
    const slotOff = hq.ringBase + hq.rdIdx * AE4_DESC_SIZE - ring.busAddr;
    if (this.tpDone.enabled) {
      const prev = this.enterDeviceTrace(hq.q);
      this.tpDone.emit({ dev: this.name, q: hq.q, slot: hq.rdIdx, len: hq.cur.length, error: code });
      this.core.trace.exitContext(prev);
    }
    if (code !== 0) {
      this.stats.errors++;
      writeBackAe4Status(ring.view, slotOff, AE4_DESC_ERROR, code);
      if (this.tpErr.enabled) this.traceErr(hq, code, ae4ErrorName(code));
    } else {
      this.stats.descriptors++;
      writeBackAe4Status(ring.view, slotOff, AE4_DESC_COMPLETED, 0);
    }
    hq.rdIdx = (hq.rdIdx + 1) % hq.maxIdx;
    hq.phase = IDLE;
    const before = hq.intrSts & hq.intrEn;
    hq.intrSts |= AE4_INTR_COMPLETION;
    if (before === 0 && (hq.intrSts & hq.intrEn) !== 0) this.sendMsi(hq, writeback);
    const now = this.core.sim.now;
    if (hq.prefetchDoneAt < now + writeback) hq.prefetchDoneAt = now + writeback;
    this.kick(hq, false);
  }

  private sendMsi(hq: HwQueue, delay: number): void {
    if (this.faults.lostIrq.armed && this.faults.lostIrq.shouldFail()) {
      this.stats.msiLost++;
      return;
    }
    this.stats.msiSent++;
    this.core.sim.schedule(delay + this.p.msi_latency + this.p.irq_handler, onMsi, hq);
  }

  /** @internal the MSI reached the CPU: run the queue's handler. */
  deliverMsi(hq: HwQueue): void {
    if (hq.irqHandler !== null) hq.irqHandler(hq.irqArg);
  }
}

function onFetched(hq: HwQueue): void {
  hq.fn.fetched(hq);
}

function onCopied(hq: HwQueue): void {
  hq.fn.copied(hq);
}

function onMsi(hq: HwQueue): void {
  hq.fn.deliverMsi(hq);
}
