import type { FaultPoint, KernelCore, PrngStream, Tracepoint } from "@mmemu/kernel";
import { PAGE_SIZE, type PhysMem } from "@mmemu/mm-core";
import type { Device } from "@mmemu/dmaengine";
import type { CoherentBuffer, Fabric, Iommu } from "@mmemu/platform";
import {
  SDXI_ADM_CXT_START_NM, SDXI_ADM_CXT_STOP, SDXI_ADM_SYNC, SDXI_CST_ER, SDXI_CXT_ERR_FN, SDXI_CXT_RUN,
  SDXI_CXT_STOP_SW, SDXI_DESC_SIZE, SDXI_DMAB_COPY, SDXI_DMAB_NOP, SDXI_DSC_FE, SDXI_DSC_NP, SDXI_DSC_VL,
  SDXI_ERRLOG_ENT_SIZE, SDXI_ERR_STS_OVF, SDXI_ERR_STS_STS, SDXI_GRP_ADMIN, SDXI_GRP_DMAB, SDXI_GRP_INTR,
  SDXI_GSR_ACTIVE, SDXI_GSR_RESET, SDXI_GSV_ACTIVE, SDXI_GSV_ERROR, SDXI_GSV_INIT, SDXI_GSV_STOP,
  SDXI_GSV_STOPG_SF, SDXI_INTR, SDXI_MMIO_CAP0, SDXI_MMIO_CAP1, SDXI_MMIO_CTL0, SDXI_MMIO_CTL2,
  SDXI_MMIO_CXT_L2, SDXI_MMIO_ERR_CFG, SDXI_MMIO_ERR_CTL, SDXI_MMIO_ERR_RD, SDXI_MMIO_ERR_STS, SDXI_MMIO_ERR_WRT,
  SDXI_MMIO_RKEY, SDXI_MMIO_STS0, SDXI_MMIO_VERSION, SDXI_RE_CXT_STOP, SDXI_STEP_AKEY, SDXI_STEP_DATA,
  SDXI_STEP_DESC_FETCH, SDXI_SUB_ATF, SDXI_SUB_DAF, rd64, wr64,
} from "./sdxi-hw.js";
import type { SdxiParams, SdxiSwitches } from "./sdxi-params.js";

/**
 * An SDXI function (spec 3.2-3.7): global state machine driven by MMIO_CTL0, a two-level context
 * table in host memory, per-context 64-byte descriptor rings with 64-bit Write_Index/Read_Index,
 * doorbells (an out-of-order, smaller doorbell never rolls progress back), the VL bit (a slot with
 * VL=0 stalls the context), FE fences, CST_BLK completion (signal decremented, ER on error), DSC_INTR
 * interrupts through the AKey table, admin-context start/stop, and the error log. Copies move through
 * the fabric; with completionOrder "outOfOrderWithoutFence" unfenced descriptors of a context run
 * together and finish — and signal — in whatever order the shared bandwidth lets them.
 */
export interface SdxiFaults {
  readonly descError: FaultPoint;
  readonly busFault: FaultPoint;
  readonly hang: FaultPoint;
  readonly lostIrq: FaultPoint;
  readonly spuriousIrq: FaultPoint;
}

export function sdxiFaults(core: KernelCore): SdxiFaults {
  const f = core.faults;
  return {
    descError: f.define("sdxi.desc_error", "SDXI descriptor fetch/decode error: error log step 7, CST_BLK ER, the context stops"),
    busFault: f.define("sdxi.bus_fault", "SDXI data access fault after k bytes: partial write, error log step 10, CST_BLK ER, the context stops"),
    hang: f.define("sdxi.hang", "an SDXI context stops making progress on a descriptor"),
    lostIrq: f.define("sdxi.lost_irq", "an SDXI interrupt (DSC_INTR) is dropped"),
    spuriousIrq: f.define("sdxi.spurious_irq", "an extra SDXI interrupt"),
  };
}

export interface SdxiFnStats {
  descriptors: number;
  copies: number;
  bytes: number;
  errors: number;
  msiSent: number;
  msiLost: number;
  msiSpurious: number;
  /** Times a context stopped at a slot whose VL was 0. */
  vlStalls: number;
  /** CST_BLK updates that arrived while an older descriptor of the same context was still running. */
  outOfOrderCompletions: number;
  doorbellsIgnored: number;
}

/** The function's cached view of one context (what a real function caches until DSC_CXT_UPD). */
class Cxt {
  ring: CoherentBuffer | null = null;
  ringBase = 0;
  ringSize = 0;
  stsPtr = 0;
  wiPtr = 0;
  akeyPtr = 0;
  /** Next index to fetch (u64 counter). */
  cursor = 0;
  /** Retired prefix; written to CXT_STS.read_index. */
  readIndex = 0;
  doorbell = 0;
  inflight = 0;
  stopped = false;
  pumpScheduled = false;
  retired: Uint8Array = new Uint8Array(0);
  ops: Op[] = [];
  constructor(readonly fn: SdxiFunction, readonly id: number) {}
}

/** One descriptor being executed (one per ring slot, reused). */
class Op {
  index = 0;
  type = 0;
  subtype = 0;
  flags = 0;
  len = 0;
  copyLen = 0;
  src = 0;
  dst = 0;
  csb = 0;
  errStep = 0;
  errSub = 0;
  constructor(readonly cxt: Cxt) {}
}

export interface SdxiFnOptions {
  readonly core: KernelCore;
  readonly mem: PhysMem;
  /** The platform IOMMU the engine reaches memory through (rings, descriptors, copies). */
  readonly iommu: Iommu;
  readonly fabric: Fabric;
  readonly dev: Device;
  readonly params: SdxiParams;
  readonly switches: SdxiSwitches;
  readonly faults: SdxiFaults;
  readonly engineServer: number;
  readonly name: string;
}

export class SdxiFunction {
  readonly name: string;
  readonly dev: Device;
  readonly stats: SdxiFnStats = { descriptors: 0, copies: 0, bytes: 0, errors: 0, msiSent: 0, msiLost: 0, msiSpurious: 0, vlStalls: 0, outOfOrderCompletions: 0, doorbellsIgnored: 0 };
  /** Bytes into a copy at which the next injected bus fault strikes; null draws it at random. */
  busFaultAfter: number | null = null;
  ctl0 = 0;
  ctl2 = 0;
  gsv = SDXI_GSV_STOP;
  cxtL2 = 0;
  rkey = 0;
  errCtl = 0;
  errSts = 0;
  errCfg = 0;
  errWrt = 0;
  errRd = 0;
  /** CAP0: db_stride 0 (4 KiB), max_ds_ring_sz 0 (1024 entries). CAP1: max_cxt 127, op groups DMAB|ADMIN|INTR. */
  readonly cap0 = 0;
  readonly cap1 = (127 << 16) + (0b1011 * 0x1_0000_0000);
  readonly version = (1 << 16) | 0;
  private readonly cxts: Array<Cxt | undefined> = [];
  private readonly vectors: Array<((arg: any) => void) | undefined> = [];
  private readonly vectorArgs: unknown[] = [];
  private readonly core: KernelCore;
  private readonly mem: PhysMem;
  private readonly iommu: Iommu;
  private readonly fabric: Fabric;
  private readonly p: SdxiParams;
  private readonly maxInflight: number;
  private readonly faults: SdxiFaults;
  private readonly rng: PrngStream;
  private readonly engineServer: number;
  private readonly tpErr: Tracepoint<{ fn: string; cxt: number; index: number; step: number }>;
  private readonly tpIrq: Tracepoint<{ fn: string; vector: number; kind: string }>;

  constructor(o: SdxiFnOptions) {
    this.name = o.name;
    this.dev = o.dev;
    this.core = o.core;
    this.mem = o.mem;
    this.iommu = o.iommu;
    this.fabric = o.fabric;
    this.p = o.params;
    this.maxInflight = o.switches.completionOrder === "inOrder" ? 1 : o.params.max_inflight;
    this.faults = o.faults;
    this.rng = o.core.prng.stream(`sdxi:${o.name}`);
    this.engineServer = o.engineServer;
    this.tpErr = o.core.trace.define("sdxi_errlog");
    this.tpIrq = o.core.trace.define("sdxi_irq");
  }

  /** Connect MSI-X vector `vector` to a handler. */
  requestIrq(vector: number, handler: (arg: any) => void, arg: unknown): void {
    this.vectors[vector] = handler;
    this.vectorArgs[vector] = arg;
  }

  mmioRead64(off: number): number {
    switch (off) {
      case SDXI_MMIO_CTL0: return this.ctl0;
      case SDXI_MMIO_CTL2: return this.ctl2;
      case SDXI_MMIO_STS0: return this.gsv;
      case SDXI_MMIO_CAP0: return this.cap0;
      case SDXI_MMIO_CAP1: return this.cap1;
      case SDXI_MMIO_VERSION: return this.version;
      case SDXI_MMIO_CXT_L2: return this.cxtL2;
      case SDXI_MMIO_RKEY: return this.rkey;
      case SDXI_MMIO_ERR_CTL: return this.errCtl;
      case SDXI_MMIO_ERR_STS: return this.errSts;
      case SDXI_MMIO_ERR_CFG: return this.errCfg;
      case SDXI_MMIO_ERR_WRT: return this.errWrt;
      case SDXI_MMIO_ERR_RD: return this.errRd;
    }
    throw new RangeError(`${this.name}: MMIO read of unknown SDXI register offset 0x${off.toString(16)}`);
  }

  mmioWrite64(off: number, v: number): void {
    switch (off) {
      case SDXI_MMIO_CTL0: this.ctl0 = v; this.requestState(v & 3); return;
      case SDXI_MMIO_CTL2: this.ctl2 = v; return;
      case SDXI_MMIO_CXT_L2: this.cxtL2 = v; return;
      case SDXI_MMIO_RKEY: this.rkey = v; return;
      case SDXI_MMIO_ERR_CTL: this.errCtl = v; return;
      case SDXI_MMIO_ERR_STS: this.errSts &= ~v; return; // RW1C
      case SDXI_MMIO_ERR_CFG: this.errCfg = v; return;
      case SDXI_MMIO_ERR_RD: this.errRd = v; return;
      case SDXI_MMIO_STS0: case SDXI_MMIO_CAP0: case SDXI_MMIO_CAP1: case SDXI_MMIO_VERSION: case SDXI_MMIO_ERR_WRT: return;
    }
    throw new RangeError(`${this.name}: MMIO write of unknown SDXI register offset 0x${off.toString(16)}`);
  }

  private requestState(gsr: number): void {
    const d = this.p.state_change_latency;
    if (gsr === SDXI_GSR_ACTIVE) {
      if (this.gsv !== SDXI_GSV_STOP) return;
      this.gsv = SDXI_GSV_INIT;
      this.core.sim.schedule(d, (fn: SdxiFunction) => { fn.gsv = fn.cxtL2 !== 0 ? SDXI_GSV_ACTIVE : SDXI_GSV_ERROR; }, this);
    } else if (gsr === SDXI_GSR_RESET) {
      this.gsv = SDXI_GSV_STOP;
      this.cxts.length = 0;
    } else {
      if (this.gsv === SDXI_GSV_ACTIVE) this.gsv = SDXI_GSV_STOPG_SF;
      this.core.sim.schedule(d, (fn: SdxiFunction) => { fn.gsv = SDXI_GSV_STOP; fn.cxts.length = 0; }, this);
    }
  }

  /** A 64-bit doorbell write of `value` (the new Write_Index) for context `id`. */
  doorbell(id: number, value: number): void {
    if (this.gsv !== SDXI_GSV_ACTIVE) {
      this.stats.doorbellsIgnored++;
      return;
    }
    const c = this.cxts[id] ?? this.loadCxt(id);
    if (c === null) {
      this.stats.doorbellsIgnored++;
      return;
    }
    if (value > c.doorbell) c.doorbell = value;
    this.schedulePump(c, this.p.doorbell_to_fetch);
  }

  /** Look a context up through L2 → L1 → CXT_CTL and cache it; null if any level is not valid. */
  private loadCxt(id: number): Cxt | null {
    const l2 = this.at(this.cxtL2, 4096);
    const l2Off = this.vo;
    if (l2 === null) return null;
    const e2 = rd64(l2, l2Off + (id >>> 7) * 8);
    if ((e2 & 1) === 0) return null;
    const l1 = this.at(Math.floor(e2 / 4096) * 4096, 4096);
    const l1Off = this.vo;
    if (l1 === null) return null;
    const o1 = l1Off + (id & 0x7f) * 32;
    const ctlPtr = rd64(l1, o1);
    const akey = rd64(l1, o1 + 8);
    if ((ctlPtr & 1) === 0) return null;
    const ctl = this.at(Math.floor(ctlPtr / 64) * 64, 64);
    const ctlOff = this.vo;
    if (ctl === null) return null;
    const ringPtr = rd64(ctl, ctlOff);
    if ((ringPtr & 1) === 0) return null;
    const c = new Cxt(this, id);
    c.ringBase = Math.floor(ringPtr / 64) * 64;
    c.ringSize = ctl.getUint32(ctlOff + 8, true);
    c.stsPtr = Math.floor(rd64(ctl, ctlOff + 16) / 16) * 16;
    c.wiPtr = Math.floor(rd64(ctl, ctlOff + 24) / 8) * 8;
    c.akeyPtr = Math.floor(akey / 4096) * 4096;
    c.ring = this.iommu.coherentAt(c.ringBase);
    if (c.ring === null || c.ringSize === 0) return null;
    c.retired = new Uint8Array(c.ringSize);
    for (let i = 0; i < c.ringSize; i++) c.ops.push(new Op(c));
    const sts = this.at(c.stsPtr, 16);
    const stsOff = this.vo;
    if (sts !== null) {
      c.readIndex = c.cursor = rd64(sts, stsOff + 8);
    }
    this.cxts[id] = c;
    return c;
  }

  /** Offset into the DataView the last {@link at} call returned (no object per access). */
  private vo = 0;

  /** The coherent buffer view holding [bus, bus+len), with the offset left in `vo`; null if unmapped. */
  private at(bus: number, len: number): DataView | null {
    const b = this.iommu.coherentAt(bus);
    if (b === null || bus + len > b.busAddr + b.size) return null;
    this.vo = bus - b.busAddr;
    return b.view;
  }

  private cxtState(c: Cxt): number {
    const s = this.at(c.stsPtr, 16);
    const sOff = this.vo;
    return s === null ? SDXI_CXT_ERR_FN : s.getUint8(sOff) & 0xf;
  }

  private setCxtState(c: Cxt, state: number): void {
    const s = this.at(c.stsPtr, 16);
    const sOff = this.vo;
    if (s !== null) s.setUint8(sOff, (s.getUint8(sOff) & 0xf0) | state);
  }

  private schedulePump(c: Cxt, delay: number): void {
    if (c.pumpScheduled) return;
    c.pumpScheduled = true;
    this.core.sim.schedule(delay, onPump, c);
  }

  /** @internal fetch and start what the ring, the doorbell, VL and fences allow. */
  pump(c: Cxt): void {
    c.pumpScheduled = false;
    if (c.stopped || this.gsv !== SDXI_GSV_ACTIVE || this.cxtState(c) !== SDXI_CXT_RUN) return;
    const wi = this.at(c.wiPtr, 8);
    const wiOff = this.vo;
    const writeIndex = wi === null ? 0 : rd64(wi, wiOff);
    const limit = Math.min(writeIndex, c.doorbell);
    const ring = c.ring!;
    while (c.cursor < limit && c.inflight < this.maxInflight) {
      const slot = c.cursor % c.ringSize;
      const off = c.ringBase - ring.busAddr + slot * SDXI_DESC_SIZE;
      const opc = ring.view.getUint32(off, true);
      if ((opc & SDXI_DSC_VL) === 0) {
        this.stats.vlStalls++;
        if (this.p.vl_poll_interval > 0) this.schedulePump(c, this.p.vl_poll_interval);
        return;
      }
      if ((opc & SDXI_DSC_FE) !== 0 && c.inflight > 0) return; // fenced: wait for everything earlier
      const op = c.ops[slot]!;
      op.index = c.cursor;
      op.flags = opc & 0x3f;
      op.subtype = (opc >>> 8) & 0xff;
      op.type = (opc >>> 16) & 0x7ff;
      op.len = ring.view.getUint32(off + 4, true) + 1;
      op.src = rd64(ring.view, off + 16);
      op.dst = rd64(ring.view, off + 24);
      const csb = rd64(ring.view, off + 56);
      op.csb = (csb & SDXI_DSC_NP) !== 0 ? 0 : Math.floor(csb / 32) * 32;
      op.errStep = 0;
      op.errSub = 0;
      c.retired[slot] = 0;
      c.cursor++;
      c.inflight++;
      this.stats.descriptors++;
      if (op.type === SDXI_GRP_ADMIN && c.id === 0) {
        // Admin operations act on other contexts' state; read their fields now.
        op.len = ring.view.getUint16(off + 8, true);
        op.copyLen = ring.view.getUint16(off + 10, true);
      } else if (op.type === SDXI_GRP_INTR) {
        op.len = ring.view.getUint16(off + 12, true);
      }
      this.core.sim.schedule(this.p.desc_fetch + this.p.desc_setup, onExec, op);
    }
  }

  /** @internal run one fetched descriptor. */
  exec(op: Op): void {
    const c = op.cxt;
    if (c.stopped) return;
    if (this.faults.hang.armed && this.faults.hang.shouldFail()) {
      if (this.tpErr.enabled) this.tpErr.emit({ fn: this.name, cxt: c.id, index: op.index, step: -1 });
      return; // never completes; the context's inflight slot stays taken
    }
    if (this.faults.descError.armed && this.faults.descError.shouldFail()) {
      this.fail(op, SDXI_STEP_DESC_FETCH, 0);
      return;
    }
    if (op.type === SDXI_GRP_DMAB && op.subtype === SDXI_DMAB_COPY) {
      const sp = this.iommu.translate(this.dev, op.src);
      const dp = this.iommu.translate(this.dev, op.dst);
      if (sp < 0 || dp < 0) {
        this.fail(op, SDXI_STEP_DATA, SDXI_SUB_ATF);
        return;
      }
      op.copyLen = op.len;
      if (this.faults.busFault.armed && this.faults.busFault.shouldFail()) {
        const k = this.busFaultAfter ?? this.rng.below(Math.ceil(op.len / 64)) * 64;
        op.copyLen = Math.min(Math.max(0, Math.floor(k)), op.len - 1);
        op.errStep = SDXI_STEP_DATA;
        op.errSub = SDXI_SUB_DAF;
      }
      const nodes = this.mem.nodeOfPfn;
      this.fabric.startTransfer(op.copyLen, nodes[Math.floor(sp / PAGE_SIZE)]!, nodes[Math.floor(dp / PAGE_SIZE)]!, this.engineServer, -1, onCopied, op);
      return;
    }
    if (op.type === SDXI_GRP_DMAB && op.subtype === SDXI_DMAB_NOP) {
      this.core.sim.schedule(this.p.completion_writeback, onRetire, op);
      return;
    }
    if (op.type === SDXI_GRP_INTR && op.subtype === SDXI_INTR) {
      // pump() left the AKey index in `len`.
      const a = this.at(c.akeyPtr + op.len * 16, 16);
    const aOff = this.vo;
      const w = a === null ? 0 : a.getUint32(aOff, true);
      if ((w & 3) !== 3) {
        this.fail(op, SDXI_STEP_AKEY, 0);
        return;
      }
      this.raise((w >>> 4) & 0x7ff);
      this.core.sim.schedule(this.p.completion_writeback, onRetire, op);
      return;
    }
    if (op.type === SDXI_GRP_ADMIN && c.id === 0) {
      if (op.subtype === SDXI_ADM_CXT_START_NM || op.subtype === SDXI_ADM_CXT_STOP) {
        // For admin descriptors pump() left cxt_start in `len` and cxt_end in `copyLen`.
        for (let id = op.len; id <= op.copyLen; id++) {
          this.cxts[id] = undefined; // drop the cached copy
          const t = this.loadCxt(id);
          if (t === null) continue;
          if (op.subtype === SDXI_ADM_CXT_START_NM) this.setCxtState(t, SDXI_CXT_RUN);
          else {
            this.setCxtState(t, SDXI_CXT_STOP_SW);
            t.stopped = true;
            this.cxts[id] = undefined;
          }
        }
      } else if (op.subtype !== SDXI_ADM_SYNC) {
        this.fail(op, SDXI_STEP_DESC_FETCH, 0);
        return;
      }
      this.core.sim.schedule(this.p.completion_writeback, onRetire, op);
      return;
    }
    this.fail(op, SDXI_STEP_DESC_FETCH, 0);
  }

  /** @internal the fabric moved a copy's bytes: the data lands now. */
  copied(op: Op): void {
    if (op.cxt.stopped) return;
    const moved = this.iommu.deviceCopy(this.dev, op.dst, op.src, op.copyLen);
    this.stats.bytes += moved;
    if (moved < op.copyLen && op.errStep === 0) {
      op.errStep = SDXI_STEP_DATA;
      op.errSub = SDXI_SUB_ATF;
    }
    this.stats.copies++;
    // Pipeline fill: the data mover writes nothing before its first source read returns, a read of
    // host memory like the descriptor fetch, so a copy takes one desc_fetch more. Folded after the
    // last beat as the PTDMA model does (same descriptor time, no extra event; the mover's bandwidth
    // is not held meanwhile either way).
    this.core.sim.schedule(this.p.completion_writeback + (op.copyLen > 0 ? this.p.desc_fetch : 0), onRetire, op);
  }

  private fail(op: Op, step: number, sub: number): void {
    op.errStep = step;
    op.errSub = sub;
    this.core.sim.schedule(this.p.completion_writeback, onRetire, op);
  }

  /** @internal CST_BLK update, Read_Index advance, error log; then fetch more. */
  retire(op: Op): void {
    const c = op.cxt;
    if (c.stopped) return;
    const err = op.errStep !== 0;
    if (op.csb !== 0) {
      const b = this.at(op.csb, 32);
    const bOff = this.vo;
      if (b !== null) {
        const sig = rd64(b, bOff);
        if (sig > 0) wr64(b, bOff, sig - 1); // never below 0 (spec 5.8)
        if (err) b.setUint32(bOff + 8, (b.getUint32(bOff + 8, true) | SDXI_CST_ER) >>> 0, true);
      }
    }
    if (op.index > c.readIndex) this.stats.outOfOrderCompletions++;
    c.retired[op.index % c.ringSize] = 1;
    c.inflight--;
    while (c.readIndex < c.cursor && c.retired[c.readIndex % c.ringSize] === 1) c.readIndex++;
    const sts = this.at(c.stsPtr, 16);
    const stsOff = this.vo;
    if (sts !== null) wr64(sts, stsOff + 8, c.readIndex);
    if (err) {
      this.stats.errors++;
      // Data-access faults are reported and the context goes on (reaction "informative"); any other
      // failure stops the context, and the proposal has no recovery, so its ring wedges (spec 3.7).
      const stop = op.errStep !== SDXI_STEP_DATA;
      this.logError(c, op, stop);
      if (stop) {
        this.setCxtState(c, SDXI_CXT_ERR_FN);
        c.stopped = true;
        return;
      }
    }
    this.schedulePump(c, 0);
  }

  private logError(c: Cxt, op: Op, stop: boolean): void {
    if (this.tpErr.enabled) this.tpErr.emit({ fn: this.name, cxt: c.id, index: op.index, step: op.errStep });
    if ((this.errCfg & 1) === 0) return;
    const entries = ((this.errCfg >>> 1) & 0x1f) * 64;
    const log = this.at(Math.floor(this.errCfg / 4096) * 4096, entries * SDXI_ERRLOG_ENT_SIZE);
    const logOff = this.vo;
    if (log === null || entries === 0) {
      this.errSts |= 1 << 3;
      return;
    }
    if (this.errWrt - this.errRd >= entries) {
      this.errSts |= SDXI_ERR_STS_OVF;
      return;
    }
    const o = logOff + (this.errWrt % entries) * SDXI_ERRLOG_ENT_SIZE;
    for (let i = 0; i < SDXI_ERRLOG_ENT_SIZE; i += 4) log.setUint32(o + i, 0, true);
    log.setUint32(o, (1 | (op.errStep << 8)) >>> 0, true);
    log.setUint32(o + 4, (0b011 | (op.errSub << 8) | ((stop ? SDXI_RE_CXT_STOP : 0) << 12) | (c.id << 16)) >>> 0, true);
    wr64(log, o + 8, op.index);
    this.errWrt++;
    this.errSts |= SDXI_ERR_STS_STS;
    if ((this.errCtl & 1) !== 0) this.raise(0);
  }

  private raise(vector: number): void {
    if (this.faults.lostIrq.armed && this.faults.lostIrq.shouldFail()) {
      this.stats.msiLost++;
      if (this.tpIrq.enabled) this.tpIrq.emit({ fn: this.name, vector, kind: "lost" });
      return;
    }
    this.stats.msiSent++;
    if (this.tpIrq.enabled) this.tpIrq.emit({ fn: this.name, vector, kind: "raise" });
    const delay = this.p.msi_latency + this.p.irq_handler_fixed;
    this.core.sim.schedule(delay, onMsi, this.msiArg(vector));
    if (this.faults.spuriousIrq.armed && this.faults.spuriousIrq.shouldFail()) {
      this.stats.msiSpurious++;
      this.core.sim.schedule(2 * delay, onMsi, this.msiArg(vector));
    }
  }

  private readonly msiArgs: Array<{ fn: SdxiFunction; vector: number }> = [];

  private msiArg(vector: number): { fn: SdxiFunction; vector: number } {
    return (this.msiArgs[vector] ??= { fn: this, vector });
  }

  /** @internal deliver an MSI to its handler. */
  deliver(vector: number): void {
    const h = this.vectors[vector];
    if (h !== undefined) h(this.vectorArgs[vector]);
  }

  /** Whether context `id` is stopped (after an error, a hang or CXT_STOP). */
  cxtStopped(id: number): boolean {
    const c = this.cxts[id];
    return c === undefined || c.stopped;
  }
}

function onPump(c: Cxt): void {
  c.fn.pump(c);
}

function onExec(op: Op): void {
  op.cxt.fn.exec(op);
}

function onCopied(op: Op): void {
  op.cxt.fn.copied(op);
}

function onRetire(op: Op): void {
  op.cxt.fn.retire(op);
}

function onMsi(a: { fn: SdxiFunction; vector: number }): void {
  a.fn.deliver(a.vector);
}

