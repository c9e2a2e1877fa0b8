import { Cost, ENOSYS } from "@mmemu/kernel";
import type { Device } from "./dma-mapping.js";
import type { DmaEngine } from "./registry.js";
import type { SgTable } from "./scatterlist.js";

/**
 * The dmaengine client and provider vocabulary of include/linux/dmaengine.h: transaction types and
 * capability masks, prep flags, status and result codes, the channel, device and transaction
 * descriptor objects, and the static inline client helpers (dmaengine_prep_dma_memcpy(),
 * dmaengine_submit(), dma_async_issue_pending(), dmaengine_tx_status(), terminate/synchronize).
 */

// enum dma_transaction_type, same order as the kernel so the numbers match.
export const DMA_MEMCPY = 0;
export const DMA_MEMCPY_SG = 1;
export const DMA_XOR = 2;
export const DMA_PQ = 3;
export const DMA_XOR_VAL = 4;
export const DMA_PQ_VAL = 5;
export const DMA_MEMSET = 6;
export const DMA_MEMSET_SG = 7;
export const DMA_INTERRUPT = 8;
export const DMA_PRIVATE = 9;
export const DMA_ASYNC_TX = 10;
export const DMA_SLAVE = 11;
export const DMA_CYCLIC = 12;
export const DMA_INTERLEAVE = 13;
export const DMA_COMPLETION_NO_ORDER = 14;
export const DMA_REPEAT = 15;
export const DMA_LOAD_EOT = 16;
export const DMA_TX_TYPE_END = 17;

/** Names by transaction type, for messages and debugfs-style summaries. */
export const DMA_TX_TYPE_NAMES: readonly string[] = [
  "DMA_MEMCPY", "DMA_MEMCPY_SG", "DMA_XOR", "DMA_PQ", "DMA_XOR_VAL", "DMA_PQ_VAL", "DMA_MEMSET",
  "DMA_MEMSET_SG", "DMA_INTERRUPT", "DMA_PRIVATE", "DMA_ASYNC_TX", "DMA_SLAVE", "DMA_CYCLIC",
  "DMA_INTERLEAVE", "DMA_COMPLETION_NO_ORDER", "DMA_REPEAT", "DMA_LOAD_EOT",
];

// enum dma_ctrl_flags
export const DMA_PREP_INTERRUPT = 1 << 0;
export const DMA_CTRL_ACK = 1 << 1;
export const DMA_PREP_PQ_DISABLE_P = 1 << 2;
export const DMA_PREP_PQ_DISABLE_Q = 1 << 3;
export const DMA_PREP_CONTINUE = 1 << 4;
export const DMA_PREP_FENCE = 1 << 5;
export const DMA_CTRL_REUSE = 1 << 6;
export const DMA_PREP_CMD = 1 << 7;
export const DMA_PREP_REPEAT = 1 << 8;
export const DMA_PREP_LOAD_EOT = 1 << 9;
const DMA_CTRL_ALL = (1 << 10) - 1;

// enum dma_status
export const DMA_COMPLETE = 0;
export const DMA_IN_PROGRESS = 1;
export const DMA_PAUSED = 2;
export const DMA_ERROR = 3;
export const DMA_OUT_OF_ORDER = 4;
export const DMA_STATUS_NAMES: readonly string[] = ["DMA_COMPLETE", "DMA_IN_PROGRESS", "DMA_PAUSED", "DMA_ERROR", "DMA_OUT_OF_ORDER"];

// enum dmaengine_tx_result
export const DMA_TRANS_NOERROR = 0;
export const DMA_TRANS_READ_FAILED = 1;
export const DMA_TRANS_WRITE_FAILED = 2;
export const DMA_TRANS_ABORTED = 3;
export const DMA_TRANS_RESULT_NAMES: readonly string[] = ["DMA_TRANS_NOERROR", "DMA_TRANS_READ_FAILED", "DMA_TRANS_WRITE_FAILED", "DMA_TRANS_ABORTED"];

// enum dma_residue_granularity
export const DMA_RESIDUE_GRANULARITY_DESCRIPTOR = 0;
export const DMA_RESIDUE_GRANULARITY_SEGMENT = 1;
export const DMA_RESIDUE_GRANULARITY_BURST = 2;

/** DMA_MIN_COOKIE: cookies count from 1 and wrap back to it. */
export const DMA_MIN_COOKIE = 1;
/** Largest dma_cookie_t (an s32). */
export const DMA_MAX_COOKIE = 0x7fffffff;
/** -EPROBE_DEFER's number (include/linux/errno.h), returned when no DMA device exists at all. */
export const EPROBE_DEFER = 517;

/** Mirrors dma_cap_mask_t: a bitmap of transaction types. */
export class DmaCapMask {
  bits = 0;
}

/** Mirrors dma_cap_zero(). */
export function dmaCapZero(mask: DmaCapMask): void {
  mask.bits = 0;
}

function checkTxType(tx: number): void {
  if (!Number.isInteger(tx) || tx < 0 || tx >= DMA_TX_TYPE_END) throw new RangeError(`unknown dma_transaction_type ${tx} (valid: 0..${DMA_TX_TYPE_END - 1})`);
}

/** Mirrors dma_cap_set(). */
export function dmaCapSet(tx: number, mask: DmaCapMask): void {
  checkTxType(tx);
  mask.bits |= 1 << tx;
}

/** Mirrors dma_cap_clear(). */
export function dmaCapClear(tx: number, mask: DmaCapMask): void {
  checkTxType(tx);
  mask.bits &= ~(1 << tx);
}

/** Mirrors dma_has_cap(). */
export function dmaHasCap(tx: number, mask: DmaCapMask): boolean {
  return (mask.bits & (1 << tx)) !== 0;
}

/** A mask with the given capabilities set (dma_cap_zero() + dma_cap_set() for each). */
export function dmaCapMaskOf(...txs: number[]): DmaCapMask {
  const m = new DmaCapMask();
  for (const tx of txs) dmaCapSet(tx, m);
  return m;
}

/** Capability names of a mask ("DMA_MEMCPY|DMA_PRIVATE"). */
export function dmaCapNames(mask: DmaCapMask): string {
  const out: string[] = [];
  for (let i = 0; i < DMA_TX_TYPE_END; i++) if (dmaHasCap(i, mask)) out.push(DMA_TX_TYPE_NAMES[i]!);
  return out.join("|") || "none";
}

/** Mirrors struct dmaengine_result. */
export interface DmaengineResult {
  result: number;
  residue: number;
}

/** Mirrors struct dma_tx_state (plus the last/used pair dma_async_is_tx_complete() reports). */
export interface DmaTxState {
  last: number;
  used: number;
  residue: number;
}

/** Mirrors dma_async_tx_callback. */
export type DmaAsyncTxCallback = (param: any) => void;
/** Mirrors dma_async_tx_callback_result. */
export type DmaAsyncTxCallbackResult = (param: any, result: DmaengineResult) => void;

/** Where a provider runs client callbacks. */
export type CallbackContext = "hardirq" | "tasklet" | "workqueue";
/** The context code runs in now: a task, or one of the callback contexts. */
export type ExecContext = "task" | CallbackContext;

/** Mirrors struct dma_async_tx_descriptor. */
export class DmaAsyncTxDescriptor {
  /** Tracking cookie: 0 before submit and after completion, >= 1 in flight, < 0 on a submit error. */
  cookie = 0;
  /** DMA_PREP_* / DMA_CTRL_* flags given at prep. */
  flags = 0;
  chan: DmaChan;
  callback: DmaAsyncTxCallback | null = null;
  callbackResult: DmaAsyncTxCallbackResult | null = null;
  callbackParam: unknown = null;
  /** Debug (DmaengineDebug attached): a callback is owed for this submission. */
  dbgArmed = false;
  /** Debug: the cookie it was submitted with and the channel's terminate epoch then. */
  dbgCookie = 0;
  dbgEpoch = 0;

  constructor(chan: DmaChan) {
    this.chan = chan;
  }

  /**
   * The provider's tx_submit: assign a cookie and queue the descriptor. A method rather than a
   * per-descriptor pointer, so descriptors stay small; virt-dma descriptors use vchan_tx_submit().
   */
  txSubmit(): number {
    throw new Error(`tx_submit on ${this.chan.name}: this descriptor type has no submit operation`);
  }
}

/** Mirrors struct dma_chan. */
export class DmaChan {
  readonly device: DmaDevice;
  /** Index within the device (chan_id). */
  chanId = -1;
  /** sysfs name, "dma<N>chan<M>", set at registration. */
  name = "";
  /** Last cookie handed out. */
  cookie = DMA_MIN_COOKIE;
  /** Last cookie completed. */
  completedCookie = DMA_MIN_COOKIE;
  /** References held by clients (1 for a private channel). */
  clientCount = 0;
  /** How many per-CPU public table slots point here. */
  tableCount = 0;
  /** Name of the client holding a private channel (dbg_client_name). */
  dbgClientName: string | null = null;
  /** sysfs memcpy_count / bytes_transferred: neither PTDMA nor dcbm updates them, so they stay 0 (spec 1.12). */
  memcpyCount = 0;
  bytesTransferred = 0;
  /** Debug (DmaengineDebug attached): callbacks owed by submissions, and callbacks run, since the last terminate. */
  dbgCbOwed = 0;
  dbgCbRun = 0;
  /** Debug: terminate_all calls so far (a callback of an earlier epoch ran after its terminate). */
  dbgEpoch = 0;

  constructor(device: DmaDevice) {
    this.device = device;
  }
}

/**
 * Mirrors struct dma_device. A provider subclasses it, sets capabilities and attributes, pushes its
 * channels, and implements the `device*` operations it supports; registration checks that every
 * advertised capability has its prep operation (spec 4.9).
 */
export class DmaDevice {
  readonly capMask = new DmaCapMask();
  readonly channels: DmaChan[] = [];
  /** The struct device used for mapping (dmaengine_get_dma_device()). */
  readonly dev: Device;
  /** dma<N> index, assigned at registration. */
  devId = -1;
  /** Private-allocation count; 1 from registration for devices registered with DMA_PRIVATE. */
  privatecnt = 0;
  /** Set when registered. */
  engine: DmaEngine | null = null;
  /** Where this provider runs client callbacks (spec 4.2: PTDMA hardirq, SDXI tasklet, AE4 workqueue). */
  callbackContext: CallbackContext = "tasklet";
  residueGranularity = DMA_RESIDUE_GRANULARITY_DESCRIPTOR;
  /** Whether DMA_CTRL_REUSE is allowed. */
  descriptorReuse = false;
  /** log2 of the required copy alignment (copy_align), 0 = none. */
  copyAlign = 0;

  constructor(dev: Device) {
    this.dev = dev;
  }

  deviceAllocChanResources?(chan: DmaChan): number;
  deviceFreeChanResources?(chan: DmaChan): void;
  devicePrepDmaMemcpy?(chan: DmaChan, dst: number, src: number, len: number, flags: number): DmaAsyncTxDescriptor | null;
  devicePrepDmaMemcpySg?(chan: DmaChan, dst: SgTable, dstNents: number, src: SgTable, srcNents: number, flags: number): DmaAsyncTxDescriptor | null;
  devicePrepDmaInterrupt?(chan: DmaChan, flags: number): DmaAsyncTxDescriptor | null;
  deviceIssuePending?(chan: DmaChan): void;
  deviceTxStatus?(chan: DmaChan, cookie: number, state: DmaTxState | null): number;
  devicePause?(chan: DmaChan): number;
  deviceResume?(chan: DmaChan): number;
  deviceTerminateAll?(chan: DmaChan): number;
  deviceSynchronize?(chan: DmaChan): void;
}

function engineOf(chan: DmaChan): DmaEngine {
  const e = chan.device.engine;
  if (e === null) throw new Error(`channel ${chan.name || "(unnamed)"}: its device is not registered with dmaengine`);
  return e;
}

function checkAddr(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** 64) throw new RangeError(`${what} must be a DMA address (an integer in [0, 2^64)), got ${v}`);
}

function checkFlags(flags: number): void {
  if (!Number.isInteger(flags) || (flags & ~DMA_CTRL_ALL) !== 0 || flags < 0) throw new RangeError(`unknown dma_ctrl_flags bits in ${flags} (valid: DMA_PREP_INTERRUPT..DMA_PREP_LOAD_EOT, mask 0x${DMA_CTRL_ALL.toString(16)})`);
}

/**
 * Mirrors dmaengine_prep_dma_memcpy(): returns the provider's descriptor, or null if the device cannot
 * prepare it (no memcpy op, ring full, invalid size for this engine). Invalid arguments — a length
 * or address that is not a non-negative integer, unknown flag bits — are programming errors and throw.
 */
export function dmaenginePrepDmaMemcpy(chan: DmaChan, dst: number, src: number, len: number, flags: number): DmaAsyncTxDescriptor | null {
  checkAddr("dmaengine_prep_dma_memcpy: dst", dst);
  checkAddr("dmaengine_prep_dma_memcpy: src", src);
  if (!Number.isInteger(len) || len < 0) throw new RangeError(`dmaengine_prep_dma_memcpy: len must be a non-negative integer number of bytes, got ${len}`);
  checkFlags(flags);
  const dev = chan.device;
  if (dev.devicePrepDmaMemcpy === undefined) return null;
  const e = engineOf(chan);
  const tx = dev.devicePrepDmaMemcpy(chan, dst, src, len, flags);
  if (e.tpPrep.enabled) e.tpPrep.emit({ chan: chan.name, op: "memcpy", len, flags, ok: tx !== null });
  e.chargeTask(Cost.DMA_PREP, 1);
  return tx;
}

/**
 * Mirrors a client's call of device_prep_dma_memcpy_sg() (DMA_MEMCPY_SG): one transaction copying
 * the first `srcNents` mapped segments of `src` to the first `dstNents` of `dst`.
 */
export function dmaenginePrepDmaMemcpySg(chan: DmaChan, dst: SgTable, dstNents: number, src: SgTable, srcNents: number, flags: number): DmaAsyncTxDescriptor | null {
  if (!Number.isInteger(dstNents) || dstNents < 1 || dstNents > dst.nents) throw new RangeError(`device_prep_dma_memcpy_sg: dst_nents ${dstNents} must be in 1..${dst.nents} (the mapped entries of dst)`);
  if (!Number.isInteger(srcNents) || srcNents < 1 || srcNents > src.nents) throw new RangeError(`device_prep_dma_memcpy_sg: src_nents ${srcNents} must be in 1..${src.nents} (the mapped entries of src)`);
  checkFlags(flags);
  const dev = chan.device;
  if (dev.devicePrepDmaMemcpySg === undefined) return null;
  const e = engineOf(chan);
  const tx = dev.devicePrepDmaMemcpySg(chan, dst, dstNents, src, srcNents, flags);
  if (e.tpPrep.enabled) e.tpPrep.emit({ chan: chan.name, op: "memcpy_sg", len: srcNents, flags, ok: tx !== null });
  e.chargeTask(Cost.DMA_PREP, 1);
  return tx;
}

/** Mirrors device_prep_dma_interrupt() as clients call it (DMA_INTERRUPT). */
export function dmaenginePrepDmaInterrupt(chan: DmaChan, flags: number): DmaAsyncTxDescriptor | null {
  checkFlags(flags);
  const dev = chan.device;
  if (dev.devicePrepDmaInterrupt === undefined) return null;
  const e = engineOf(chan);
  const tx = dev.devicePrepDmaInterrupt(chan, flags);
  if (e.tpPrep.enabled) e.tpPrep.emit({ chan: chan.name, op: "interrupt", len: 0, flags, ok: tx !== null });
  e.chargeTask(Cost.DMA_PREP, 1);
  return tx;
}

/** Mirrors dmaengine_submit(): hand the descriptor to the engine; returns its cookie (< 0 on error). */
export function dmaengineSubmit(tx: DmaAsyncTxDescriptor): number {
  const e = engineOf(tx.chan);
  const cookie = tx.txSubmit();
  if (e.debug !== null) e.debug.submitted(tx, cookie);
  if (e.tpSubmit.enabled) e.tpSubmit.emit({ chan: tx.chan.name, cookie });
  e.chargeTask(Cost.DMA_SUBMIT, 1);
  return cookie;
}

/** Mirrors dma_submit_error(). */
export function dmaSubmitError(cookie: number): boolean {
  return cookie < 0;
}

/** Mirrors dma_async_issue_pending(): push submitted descriptors to the hardware. */
export function dmaAsyncIssuePending(chan: DmaChan): void {
  const e = engineOf(chan);
  if (e.tpIssue.enabled) e.tpIssue.emit({ chan: chan.name, cookie: chan.cookie });
  chan.device.deviceIssuePending!(chan);
  e.chargeTask(Cost.DMA_ISSUE_PENDING, 1);
}

/** Mirrors dmaengine_tx_status(). */
export function dmaengineTxStatus(chan: DmaChan, cookie: number, state: DmaTxState | null = null): number {
  return chan.device.deviceTxStatus!(chan, cookie, state);
}

/** Mirrors dma_async_is_complete(): cookie order decides (completion is assumed in cookie order). */
export function dmaAsyncIsComplete(cookie: number, lastComplete: number, lastUsed: number): number {
  if (lastComplete <= lastUsed) {
    if (cookie <= lastComplete || cookie > lastUsed) return DMA_COMPLETE;
  } else if (cookie <= lastComplete && cookie > lastUsed) {
    return DMA_COMPLETE;
  }
  return DMA_IN_PROGRESS;
}

/** Mirrors dma_async_is_tx_complete(): the status, with last/used reported through `state`. */
export function dmaAsyncIsTxComplete(chan: DmaChan, cookie: number, state: DmaTxState | null = null): number {
  const st = state ?? { last: 0, used: 0, residue: 0 };
  return chan.device.deviceTxStatus!(chan, cookie, st);
}

/** Mirrors dmaengine_terminate_async(): drop every descriptor; hardware may still be running. */
export function dmaengineTerminateAsync(chan: DmaChan): number {
  const e = engineOf(chan);
  if (e.tpTerminate.enabled) e.tpTerminate.emit({ chan: chan.name, completed: chan.completedCookie, used: chan.cookie });
  if (chan.device.deviceTerminateAll === undefined) return -ENOSYS;
  if (e.debug !== null) e.debug.terminated(chan);
  return chan.device.deviceTerminateAll(chan);
}

/**
 * Mirrors dmaengine_synchronize(): sleeps until callbacks of terminated work can no longer run. Like
 * the kernel's might_sleep(), calling it from a callback or interrupt (an event) is a bug and throws.
 */
export function dmaengineSynchronize(chan: DmaChan): void {
  const e = engineOf(chan);
  if (e.core.sim.inEvent || e.context !== "task") throw new Error(`dmaengine_synchronize(${chan.name}) called from ${e.context} context: it sleeps and must be called from a task`);
  if (e.tpSync.enabled) e.tpSync.emit({ chan: chan.name });
  chan.device.deviceSynchronize?.(chan);
}

/** Mirrors dmaengine_terminate_sync(). */
export function dmaengineTerminateSync(chan: DmaChan): number {
  const ret = dmaengineTerminateAsync(chan);
  if (ret !== 0) return ret;
  dmaengineSynchronize(chan);
  return 0;
}

/** Mirrors dmaengine_pause(). */
export function dmaenginePause(chan: DmaChan): number {
  return chan.device.devicePause === undefined ? -ENOSYS : chan.device.devicePause(chan);
}

/** Mirrors dmaengine_resume(). */
export function dmaengineResume(chan: DmaChan): number {
  return chan.device.deviceResume === undefined ? -ENOSYS : chan.device.deviceResume(chan);
}

/** Mirrors dmaengine_get_dma_device(): the device clients map buffers for. */
export function dmaengineGetDmaDevice(chan: DmaChan): Device {
  return chan.device.dev;
}

/**
 * Mirrors dma_sync_wait(): issue pending work, then busy-poll tx_status for up to 5 s. Polls between
 * events from this loop (on a timed machine a poll's own MMIO charges run events, and a polled engine
 * progresses only when polled); gives up early when a poll completes nothing and no event is left.
 */
export function dmaSyncWait(chan: DmaChan, cookie: number): number {
  const sim = engineOf(chan).core.sim;
  dmaAsyncIssuePending(chan);
  const deadline = sim.now + 5_000_000_000;
  let idlePolls = 0;
  while (sim.now <= deadline && idlePolls < 2) {
    const done0 = chan.completedCookie;
    const status = dmaengineTxStatus(chan, cookie);
    if (status !== DMA_IN_PROGRESS) return status;
    idlePolls = sim.step() || chan.completedCookie !== done0 ? 0 : idlePolls + 1;
  }
  return DMA_ERROR;
}

/** IS_ERR() for the channel-or-errno returns of this package. */
export function isErrPtr(x: unknown): x is number {
  return typeof x === "number";
}
