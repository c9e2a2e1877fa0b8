import { Completion, Cost, errnoName, EINVAL, EIO, ENODEV, ENOENT, ENOMEM, EOPNOTSUPP, ETIMEDOUT, type FaultPoint, type Tracepoint } from "@mmemu/kernel";
import { FOLIO_CONTENT_COPIED, PAGE_SIZE, type Machine } from "@mmemu/mm-core";
import {
  DMA_ATTR_NO_KERNEL_MAPPING, DMA_ATTR_SKIP_CPU_SYNC, DMA_CTRL_ACK, DMA_FROM_DEVICE, DMA_MEMCPY, DMA_PREP_INTERRUPT,
  DMA_TO_DEVICE, DMA_TRANS_NOERROR, SgTable, dmaAsyncIssuePending, dmaCapMaskOf, dmaMapSgtable, dmaSubmitError,
  dmaUnmapSgtable, dmaengineGetDmaDevice, dmaenginePrepDmaMemcpy, dmaengineSubmit, dmaengineTerminateSync, isErrPtr,
  sgAllocTable, sgFreeTable, sgSetPage,
  type DmaChan, type DmaEngine, type DmaengineResult,
} from "@mmemu/dmaengine";
import {
  kernelLog, kstrtobool, kstrtouint, migrateOffloadInit, migrateOffloadOf, migrateOffloadReasonMaskFormat,
  migrateOffloadReasonMaskParse, migrateOffloadRegister, migrateOffloadSetReasonMask, migrateOffloadUnregister,
  moduleBeginUnload, Module, RatelimitState, KERN_WARNING, MIGRATE_OFFLOAD_REASONS_ALLOWED,
  type KernelLog, type Migrator,
} from "@mmemu/offload-api";

/**
 * dcbm, the DMA Core Batch Migrator: drivers/migrate_offload/dcbm/dcbm.c of the series (V5, posted as
 * patch 6/7). Registered as the active migrator, it copies each batch of folio pairs with dmaengine
 * memcpy channels: it requests up to `nr_dma_chan` private channels for the batch, splits the batch
 * into contiguous near-equal runs, maps one scatter-gather table per side and channel, submits one
 * memcpy descriptor per mapped segment with a callback on the last one, issues every channel, waits
 * for each with a 10 s timeout, and always tears everything down again. Any failure returns an error
 * and the migration core copies the whole batch on the CPU.
 *
 * The AMDESE tree's SDXI-oriented variant (one public channel from dma_find_channel(), chunks of
 * 512, per-chunk FOLIO_CONTENT_COPIED marks) is the alternative {@link DcbmVariant}.
 */

/** Mirrors MAX_DMA_CHANNELS. */
export const MAX_DMA_CHANNELS = 16;
/** Mirrors DCBM_RING_LIMIT of the AMDESE variant: folios per chunk. */
export const DCBM_RING_LIMIT = 512;
/** The wait per channel, msecs_to_jiffies(10000), in virtual ns. */
export const DCBM_WAIT_TIMEOUT_NS = 10_000_000_000;

/**
 * Which dcbm: "v5-request-per-batch" (the posted driver, default) or "amdese-find-channel"
 * (AMDESE/linux-mm: dmaengine_get() at load, one public channel per batch, 512-folio chunks).
 */
export type DcbmVariant = "v5-request-per-batch" | "amdese-find-channel";
const VARIANTS: readonly DcbmVariant[] = ["v5-request-per-batch", "amdese-find-channel"];

export interface DcbmOptions {
  /** @default "v5-request-per-batch" */
  readonly variant?: DcbmVariant;
  /**
   * true (driver): DMA_PREP_INTERRUPT and the completion callback only on each channel's last
   * descriptor, which is correct only if the engine completes a channel's descriptors in order
   * (Karim Manaouil's review note). false: every descriptor interrupts and calls back, and the
   * channel is done when all have.
   * @default true
   */
  readonly callbackOnLastOnly?: boolean;
  /**
   * false (driver): the legacy `callback`, which cannot see a dmaengine_result, so a copy the engine
   * reported as failed still counts as done. true: `callback_result`, and any result other than
   * DMA_TRANS_NOERROR fails the batch with -EIO (only engines that report errors — PTDMA with
   * `errorsVisibleToClient`, SDXI — ever produce one).
   * @default false
   */
  readonly checkResults?: boolean;
  /** Per-channel wait in virtual ns. @default 10 s (DCBM_WAIT_TIMEOUT_NS) */
  readonly waitTimeoutNs?: number;
}

/** Counters beyond the two sysfs ones (one record, every counter listed up front). */
export interface DcbmStats {
  /** Batches offered to folios_copy_dma(). */
  batches: number;
  /** Batches that failed (any errno). */
  batchFailures: number;
  /** Channels obtained, summed over batches. */
  channelsUsed: number;
  /** Memcpy descriptors submitted. */
  descriptors: number;
  /** Bytes handed to the engines in successful and failed batches. */
  bytes: number;
  /** Failures by cause. */
  noChannel: number;
  allocFailures: number;
  mapFailures: number;
  nentsMismatch: number;
  prepFailures: number;
  timeouts: number;
  /** Completion results other than DMA_TRANS_NOERROR seen with `checkResults`. */
  resultErrors: number;
}

/** Mirrors struct dma_work: one channel's share of a batch. */
class DmaWork {
  chan: DmaChan | null = null;
  readonly done: Completion;
  pending = 0;
  readonly srcSgt: SgTable;
  readonly dstSgt: SgTable;
  mapped = false;
  /** A callback reported a failed transfer (checkResults). */
  failed = false;

  constructor(m: Machine) {
    this.done = new Completion(m.sim);
    this.srcSgt = new SgTable(m.core);
    this.dstSgt = new SgTable(m.core);
  }
}

/** Mirrors dma_completion_callback(): the last outstanding callback completes the channel. */
function dmaCompletionCallback(work: DmaWork): void {
  if (--work.pending === 0) work.done.complete();
}

/**
 * The checkResults form: callback_result records a failed transfer and wakes the waiter at once,
 * because an engine that stops its queue on an error (SDXI) will never call back for the rest.
 */
function dmaCompletionCallbackResult(work: DmaWork, res: DmaengineResult): void {
  if (res.result !== DMA_TRANS_NOERROR && !work.failed) {
    work.failed = true;
    work.done.complete();
    return;
  }
  if (--work.pending === 0 && !work.failed) work.done.complete();
}

const SG_ATTRS = DMA_ATTR_SKIP_CPU_SYNC | DMA_ATTR_NO_KERNEL_MAPPING;
export const DCBM_SYSFS_ATTRS = ["offloading", "nr_dma_chan", "folios_migrated", "folios_failures", "reason_mask"] as const;
/** The names of dcbm's sysfs attributes (/sys/module/dcbm/...; reason_mask only under V6). */
export type DcbmAttr = (typeof DCBM_SYSFS_ATTRS)[number];

/** One loaded dcbm module on one machine. */
export class Dcbm {
  readonly m: Machine;
  readonly dma: DmaEngine;
  readonly variant: DcbmVariant;
  /** THIS_MODULE. */
  readonly module = new Module("dcbm");
  /** The struct migrator dcbm registers ("DCBM"). */
  readonly migrator: Migrator;
  /** See {@link DcbmOptions.callbackOnLastOnly}. */
  callbackOnLastOnly: boolean;
  /** See {@link DcbmOptions.checkResults}. */
  checkResults: boolean;
  /** See {@link DcbmOptions.waitTimeoutNs}. */
  waitTimeoutNs: number;
  readonly stats: DcbmStats = {
    batches: 0, batchFailures: 0, channelsUsed: 0, descriptors: 0, bytes: 0, noChannel: 0, allocFailures: 0,
    mapFailures: 0, nentsMismatch: 0, prepFailures: 0, timeouts: 0, resultErrors: 0,
  };
  /** Fault point: kcalloc()/kmalloc()/sg_alloc_table() in the copy path fail (-ENOMEM). */
  readonly allocFail: FaultPoint;
  readonly tpBatchBegin: Tracepoint<{ nr_folios: number; nr_chan: number }>;
  readonly tpBatchEnd: Tracepoint<{ nr_folios: number; nr_chan: number; ret: number }>;
  /** The batch goes back to the CPU copy: why (`no_channel`, `no_memory`, `dma_error`, `timeout`, or the errno's name). */
  readonly tpFallback: Tracepoint<{ ret: number; nr_folios: number; reason: string }>;

  private offloadingEnabled = false;
  private nrDmaChannels = 1;
  private foliosMigratedCount = 0;
  private foliosFailuresCount = 0;
  /** V6 dcbm_reason_mask (module parameter reason_mask). */
  private reasonMaskValue = MIGRATE_OFFLOAD_REASONS_ALLOWED;
  private loaded = true;
  private readonly log: KernelLog;
  private readonly warnRs = new RatelimitState("folios_copy_dma");
  private readonly memcpyMask = dmaCapMaskOf(DMA_MEMCPY);
  /** dma_work records, reused across batches (the kernel kcallocs them per batch). */
  private readonly works: DmaWork[] = [];

  /** Mirrors dcbm_init() (module load). The driver selects CONFIG_MIGRATION_COPY_OFFLOAD. */
  constructor(m: Machine, dma: DmaEngine, opts: DcbmOptions = {}) {
    this.m = m;
    this.dma = dma;
    if (dma.core !== m.core) throw new Error("dcbm: the dmaengine core belongs to another machine");
    this.variant = opts.variant ?? "v5-request-per-batch";
    if (!VARIANTS.includes(this.variant)) throw new RangeError(`dcbm: variant must be one of ${VARIANTS.join(", ")}, got ${JSON.stringify(opts.variant)}`);
    this.callbackOnLastOnly = opts.callbackOnLastOnly ?? true;
    this.checkResults = opts.checkResults ?? false;
    this.waitTimeoutNs = opts.waitTimeoutNs ?? DCBM_WAIT_TIMEOUT_NS;
    if (!(this.waitTimeoutNs > 0)) throw new RangeError(`dcbm: waitTimeoutNs must be > 0, got ${opts.waitTimeoutNs}`);
    migrateOffloadInit(m);
    this.log = kernelLog(m.core);
    this.allocFail = m.core.faults.define("dcbm.alloc_fail", "dcbm's per-batch kcalloc/kmalloc/sg_alloc_table fails (-ENOMEM)");
    const t = m.core.trace;
    this.tpBatchBegin = t.define("dcbm_batch_begin");
    this.tpBatchEnd = t.define("dcbm_batch_end");
    this.tpFallback = t.define("dcbm_fallback");
    this.migrator = { name: "DCBM", offloadCopy: (dst, src, n) => this.foliosCopyDma(dst, src, n), owner: this.module };
    if (this.variant === "amdese-find-channel") dma.dmaengineGet();
    this.log.prInfo("dcbm: DMA Core Batch Migrator initialized");
  }

  // ---- knobs (typed) ----------------------------------------------------------------------------

  /** /sys/module/dcbm/offloading: whether DCBM is the registered migrator. */
  get offloading(): boolean {
    return this.offloadingEnabled;
  }

  /**
   * Mirrors offloading_store(): register (true) or unregister (false) the migrator; a no-op when
   * unchanged. Returns 0 or the registration's -errno (the knob stays off then).
   */
  setOffloading(enable: boolean): number {
    this.checkLoaded();
    if (enable === this.offloadingEnabled) return 0;
    if (enable) {
      const ret = migrateOffloadRegister(this.m, this.migrator, this.reasonMaskValue);
      if (ret !== 0) return ret;
      this.offloadingEnabled = true;
    } else {
      migrateOffloadUnregister(this.m, this.migrator);
      this.offloadingEnabled = false;
    }
    return 0;
  }

  /** /sys/module/dcbm/nr_dma_chan: channels requested per batch (at most). */
  get nrDmaChan(): number {
    return this.nrDmaChannels;
  }

  /** Mirrors nr_dma_chan_store(): 1..MAX_DMA_CHANNELS, else -EINVAL. */
  setNrDmaChan(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > MAX_DMA_CHANNELS) return -EINVAL;
    this.nrDmaChannels = n;
    return 0;
  }

  /** /sys/module/dcbm/folios_migrated: folios copied by DMA in successful batches. */
  get foliosMigrated(): number {
    return this.foliosMigratedCount;
  }

  /** /sys/module/dcbm/folios_failures: folios of batches that fell back to the CPU. */
  get foliosFailures(): number {
    return this.foliosFailuresCount;
  }

  /** Mirrors folios_migrated_store(): any write resets. */
  resetFoliosMigrated(): void {
    this.foliosMigratedCount = 0;
  }

  /** Mirrors folios_failures_store(): any write resets. */
  resetFoliosFailures(): void {
    this.foliosFailuresCount = 0;
  }

  /** V6's reason_mask module parameter: the mask registered with, and pushed to the core while active. */
  get reasonMask(): number {
    return this.reasonMaskValue;
  }

  /** Mirrors reason_mask_param_set() after parsing. -EOPNOTSUPP before V6, which has no mask. */
  setReasonMask(mask: number): number {
    const st = migrateOffloadOf(this.m)!;
    if (st.series !== "v6") return -EOPNOTSUPP;
    this.reasonMaskValue = mask & MIGRATE_OFFLOAD_REASONS_ALLOWED;
    if (this.offloadingEnabled) migrateOffloadSetReasonMask(this.m, this.migrator, this.reasonMaskValue);
    return 0;
  }

  // ---- the sysfs interface ----------------------------------------------------------------------

  /**
   * Read an attribute as sysfs shows it ("1\n"). Returns -ENOENT for an attribute this dcbm does not
   * have (reason_mask exists only under V6).
   */
  sysfsRead(attr: string): string | number {
    switch (attr) {
      case "offloading":
        return `${this.offloadingEnabled ? 1 : 0}\n`;
      case "nr_dma_chan":
        return `${this.nrDmaChannels}\n`;
      case "folios_migrated":
        return `${this.foliosMigratedCount}\n`;
      case "folios_failures":
        return `${this.foliosFailuresCount}\n`;
      case "reason_mask":
        if (!this.hasReasonMask()) return -ENOENT;
        return `${migrateOffloadReasonMaskFormat(this.reasonMaskValue)}\n`;
      default:
        return -ENOENT;
    }
  }

  /**
   * Write an attribute as `echo value > /sys/module/dcbm/<attr>` would: returns the bytes consumed
   * (the buffer's length) or -errno, with the stores' parsing (kstrtobool for offloading, kstrtouint
   * base 0 for nr_dma_chan, anything resets a counter, reason names or a number for reason_mask).
   */
  sysfsWrite(attr: string, buf: string): number {
    switch (attr) {
      case "offloading": {
        const v = kstrtobool(buf);
        if (v < 0) return v;
        const ret = this.setOffloading(v === 1);
        return ret < 0 ? ret : buf.length;
      }
      case "nr_dma_chan": {
        const v = kstrtouint(buf, 0);
        if (v < 0) return v;
        const ret = this.setNrDmaChan(v);
        return ret < 0 ? ret : buf.length;
      }
      case "folios_migrated":
        this.resetFoliosMigrated();
        return buf.length;
      case "folios_failures":
        this.resetFoliosFailures();
        return buf.length;
      case "reason_mask": {
        if (!this.hasReasonMask()) return -ENOENT;
        const out = { value: 0 };
        const ret = migrateOffloadReasonMaskParse(buf, out);
        if (ret < 0) return ret;
        this.setReasonMask(out.value);
        return buf.length;
      }
      default:
        return -ENOENT;
    }
  }

  private hasReasonMask(): boolean {
    return migrateOffloadOf(this.m)!.series === "v6";
  }

  /**
   * rmmod dcbm: refused (-EAGAIN, "in use") while the migrator is registered, because registration
   * pins the module; otherwise dcbm_exit() runs and the module is gone.
   */
  rmmod(): number {
    this.checkLoaded();
    const ret = moduleBeginUnload(this.module);
    if (ret < 0) return ret;
    // dcbm_exit(): unregister if still enabled (unreachable while the pin is held, kept as the driver has it).
    if (this.offloadingEnabled) {
      migrateOffloadUnregister(this.m, this.migrator);
      this.offloadingEnabled = false;
    }
    if (this.variant === "amdese-find-channel") this.dma.dmaenginePut();
    this.loaded = false;
    this.log.prInfo("dcbm: DMA Core Batch Migrator unloaded");
    return 0;
  }

  private checkLoaded(): void {
    if (!this.loaded) throw new Error("dcbm: the module has been unloaded");
  }

  // ---- the copy path ----------------------------------------------------------------------------

  /**
   * Mirrors folios_copy_dma(), the migrator's offload_copy: copy `n` folio pairs (src[i] → dst[i])
   * with DMA. Returns 0 when every channel completed, or -errno after tearing everything down (the
   * core then copies the batch on the CPU).
   */
  foliosCopyDma(dst: Int32Array, src: Int32Array, n: number): number {
    this.stats.batches++;
    const ret = this.variant === "amdese-find-channel" ? this.copyFindChannel(dst, src, n) : this.copyRequestPerBatch(dst, src, n);
    if (ret !== 0) this.stats.batchFailures++;
    return ret;
  }

  private work(i: number): DmaWork {
    let w = this.works[i];
    if (w === undefined) {
      w = new DmaWork(this.m);
      this.works[i] = w;
    }
    return w;
  }

  /** The posted driver: channels requested per batch, a near-equal contiguous split, one table pair per channel. */
  private copyRequestPerBatch(dst: Int32Array, src: Int32Array, n: number): number {
    const maxChannels = Math.min(this.nrDmaChannels, n, MAX_DMA_CHANNELS);
    // kcalloc(max_channels): a failure returns before the fallback accounting, as the driver does.
    if (this.allocFail.armed && this.allocFail.shouldFail()) {
      this.stats.allocFailures++;
      if (this.tpFallback.enabled) this.tpFallback.emit({ ret: -ENOMEM, nr_folios: n, reason: fallbackReason(-ENOMEM) });
      return -ENOMEM;
    }
    let actual = 0;
    for (let i = 0; i < maxChannels; i++) {
      const chan = this.dma.dmaRequestChanByMask(this.memcpyMask, "dcbm");
      if (isErrPtr(chan)) break;
      const w = this.work(actual);
      w.chan = chan;
      w.done.reinit();
      w.pending = 0;
      w.mapped = false;
      w.failed = false;
      actual++;
    }
    if (actual === 0) {
      // No channel: -ENODEV straight back, again without the warning or the failure counter.
      this.stats.noChannel++;
      if (this.tpFallback.enabled) this.tpFallback.emit({ ret: -ENODEV, nr_folios: n, reason: fallbackReason(-ENODEV) });
      return -ENODEV;
    }
    this.stats.channelsUsed += actual;
    if (this.tpBatchBegin.enabled) this.tpBatchBegin.emit({ nr_folios: n, nr_chan: actual });
    let ret = 0;
    out: {
      let pos = 0;
      for (let i = 0; i < actual; i++) {
        const per = Math.floor((n * (i + 1)) / actual) - Math.floor((n * i) / actual);
        if (per === 0) continue;
        ret = this.setupSgTables(this.works[i]!, dst, src, pos, per);
        pos += per;
        if (ret !== 0) break out;
      }
      for (let i = 0; i < actual; i++) {
        ret = this.submitDmaTransfers(this.works[i]!);
        if (ret !== 0) break out;
      }
      for (let i = 0; i < actual; i++) {
        const w = this.works[i]!;
        if (w.pending > 0) dmaAsyncIssuePending(w.chan!);
      }
      for (let i = 0; i < actual; i++) {
        const w = this.works[i]!;
        if (w.pending === 0) continue;
        this.m.charge(Cost.COMPLETION_WAIT, 1);
        if (w.done.waitTimeout(this.waitTimeoutNs) === 0) {
          this.stats.timeouts++;
          ret = -ETIMEDOUT;
          break out;
        }
      }
      for (let i = 0; i < actual; i++) {
        if (this.works[i]!.failed) {
          this.stats.resultErrors++;
          ret = -EIO;
          break out;
        }
      }
    }
    this.cleanupDmaWork(actual);
    if (this.tpBatchEnd.enabled) this.tpBatchEnd.emit({ nr_folios: n, nr_chan: actual, ret });
    if (ret !== 0) return this.fallback(ret, n, n, `dcbm: DMA copy failed (${ret}), falling back to CPU`);
    this.foliosMigratedCount += n;
    this.markCopied(dst, 0, n);
    return 0;
  }

  /**
   * Mirrors setup_sg_tables(): one entry per folio on each side, both tables mapped for the channel's
   * device; a segment-count mismatch (an IOMMU merging the sides differently) is -EINVAL. On failure
   * everything it set up is undone and `mapped` stays false.
   */
  private setupSgTables(w: DmaWork, dst: Int32Array, src: Int32Array, pos: number, nr: number): number {
    if (this.allocFail.armed && this.allocFail.shouldFail()) {
      this.stats.allocFailures++;
      return -ENOMEM;
    }
    let ret = sgAllocTable(w.srcSgt, nr);
    if (ret !== 0) return ret;
    ret = sgAllocTable(w.dstSgt, nr);
    if (ret !== 0) {
      sgFreeTable(w.srcSgt);
      return ret;
    }
    // sg_set_folio() for each pair. The first entry goes through sgSetPage()'s argument checks; the
    // rest are written straight into the table's arrays, because a 1 GiB batch of 4 KiB folios is
    // half a million entries and head pfns of allocated folios cannot fail those checks.
    const order = this.m.folios.order;
    sgSetPage(w.srcSgt, 0, src[pos]!, PAGE_SIZE << order[src[pos]!]!, 0);
    sgSetPage(w.dstSgt, 0, dst[pos]!, PAGE_SIZE << order[dst[pos]!]!, 0);
    this.stats.bytes += fillSgPairs(w.srcSgt, w.dstSgt, src, dst, pos, nr, order);
    const dev = dmaengineGetDmaDevice(w.chan!);
    ret = dmaMapSgtable(dev, w.srcSgt, DMA_TO_DEVICE, SG_ATTRS);
    if (ret !== 0) {
      this.stats.mapFailures++;
      sgFreeTable(w.dstSgt);
      sgFreeTable(w.srcSgt);
      return ret;
    }
    ret = dmaMapSgtable(dev, w.dstSgt, DMA_FROM_DEVICE, SG_ATTRS);
    if (ret !== 0) {
      this.stats.mapFailures++;
      dmaUnmapSgtable(dev, w.srcSgt, DMA_TO_DEVICE, SG_ATTRS);
      sgFreeTable(w.dstSgt);
      sgFreeTable(w.srcSgt);
      return ret;
    }
    if (w.srcSgt.nents !== w.dstSgt.nents) {
      this.stats.nentsMismatch++;
      dmaUnmapSgtable(dev, w.dstSgt, DMA_FROM_DEVICE, SG_ATTRS);
      dmaUnmapSgtable(dev, w.srcSgt, DMA_TO_DEVICE, SG_ATTRS);
      sgFreeTable(w.dstSgt);
      sgFreeTable(w.srcSgt);
      return -EINVAL;
    }
    w.mapped = true;
    return 0;
  }

  /**
   * Mirrors submit_dma_transfers(): one memcpy per mapped source segment (to the same-index
   * destination segment), DMA_CTRL_ACK on all, the interrupt and callback on the last only unless
   * `callbackOnLastOnly` is off. A prep or submit failure is -EIO.
   */
  private submitDmaTransfers(w: DmaWork): number {
    const s = w.srcSgt;
    const d = w.dstSgt;
    const nents = s.nents;
    const lastOnly = this.callbackOnLastOnly;
    const result = this.checkResults;
    w.pending = lastOnly ? 1 : nents;
    const chan = w.chan!;
    for (let i = 0; i < nents; i++) {
      const last = i === nents - 1;
      const irq = last || !lastOnly;
      const tx = dmaenginePrepDmaMemcpy(chan, d.dmaAddress[i]!, s.dmaAddress[i]!, s.dmaLength[i]!, DMA_CTRL_ACK | (irq ? DMA_PREP_INTERRUPT : 0));
      if (tx === null) {
        this.stats.prepFailures++;
        w.pending = 0;
        return -EIO;
      }
      if (irq) {
        if (result) tx.callbackResult = dmaCompletionCallbackResult;
        else tx.callback = dmaCompletionCallback;
        tx.callbackParam = w;
      }
      const cookie = dmaengineSubmit(tx);
      if (dmaSubmitError(cookie)) {
        this.stats.prepFailures++;
        w.pending = 0;
        return -EIO;
      }
    }
    this.stats.descriptors += nents;
    return 0;
  }

  /**
   * Mirrors cleanup_dma_work(): for every channel obtained, terminate (when mapped — also after
   * success, as the driver does), unmap and free both tables, and release the channel.
   */
  private cleanupDmaWork(actual: number): void {
    for (let i = 0; i < actual; i++) {
      const w = this.works[i]!;
      const chan = w.chan;
      if (chan === null) continue;
      if (w.mapped) {
        dmaengineTerminateSync(chan);
        this.unmapWork(w);
      }
      this.dma.dmaReleaseChannel(chan);
      w.chan = null;
    }
  }

  private unmapWork(w: DmaWork): void {
    const dev = dmaengineGetDmaDevice(w.chan!);
    dmaUnmapSgtable(dev, w.srcSgt, DMA_TO_DEVICE, SG_ATTRS);
    sgFreeTable(w.srcSgt);
    dmaUnmapSgtable(dev, w.dstSgt, DMA_FROM_DEVICE, SG_ATTRS);
    sgFreeTable(w.dstSgt);
    w.mapped = false;
  }

  /**
   * The AMDESE variant of folios_copy_dma(): this CPU's public memcpy channel (dma_find_channel()),
   * the batch in chunks of DCBM_RING_LIMIT, each mapped, submitted, issued and waited for on its
   * own, then its destinations marked FOLIO_CONTENT_COPIED. A failure stops at that chunk: earlier
   * chunks count as migrated (and stay marked, which only a V6 core honours).
   */
  private copyFindChannel(dst: Int32Array, src: Int32Array, n: number): number {
    if (n === 0) return 0;
    const chan = this.dma.dmaFindChannel(DMA_MEMCPY, this.m.current.cpu);
    if (chan === null) {
      this.stats.noChannel++;
      return -ENODEV;
    }
    this.stats.channelsUsed++;
    if (this.tpBatchBegin.enabled) this.tpBatchBegin.emit({ nr_folios: n, nr_chan: 1 });
    let done = 0;
    let ret = 0;
    const w = this.work(0);
    while (done < n) {
      const chunk = Math.min(n - done, DCBM_RING_LIMIT);
      w.chan = chan;
      w.done.reinit();
      w.mapped = false;
      w.failed = false;
      ret = this.setupSgTables(w, dst, src, done, chunk);
      if (ret !== 0) break;
      ret = this.submitDmaTransfers(w);
      if (ret === 0 && w.pending > 0) {
        dmaAsyncIssuePending(chan);
        this.m.charge(Cost.COMPLETION_WAIT, 1);
        if (w.done.waitTimeout(this.waitTimeoutNs) === 0) {
          this.stats.timeouts++;
          ret = -ETIMEDOUT;
        } else if (w.failed) {
          this.stats.resultErrors++;
          ret = -EIO;
        }
      }
      if (ret !== 0) {
        // cleanup_dma_work(aborted): terminate, unmap; the shared channel is not released.
        dmaengineTerminateSync(chan);
        this.unmapWork(w);
        break;
      }
      this.markCopied(dst, done, chunk, true);
      this.unmapWork(w);
      done += chunk;
    }
    w.chan = null;
    if (this.tpBatchEnd.enabled) this.tpBatchEnd.emit({ nr_folios: n, nr_chan: 1, ret });
    this.foliosMigratedCount += done;
    if (ret !== 0) return this.fallback(ret, n, n - done, `dcbm: DMA copy failed (${ret}) after ${done}/${n} folios; CPU fallback for the rest`);
    return 0;
  }

  /** V6 (and the AMDESE tree, always): mark each copied destination for the move phase. */
  private markCopied(dst: Int32Array, from: number, count: number, always = false): void {
    if (!always && migrateOffloadOf(this.m)!.series !== "v6") return;
    const info = this.m.folios.migrateInfo;
    for (let i = from; i < from + count; i++) info[dst[i]!]! |= FOLIO_CONTENT_COPIED;
  }

  /** The error exit: a ratelimited "falling back to CPU" warning and the failure counter. */
  private fallback(ret: number, n: number, failed: number, msg: string): number {
    this.log.printkRatelimited(this.warnRs, KERN_WARNING, msg);
    this.foliosFailuresCount += failed;
    if (this.tpFallback.enabled) this.tpFallback.emit({ ret, nr_folios: n, reason: fallbackReason(ret) });
    return ret;
  }
}

/**
 * The sg_set_folio() loop of setup_sg_tables() for entries 0..nr-1 (the pairs at pos..pos+nr-1),
 * written straight into the tables' arrays; returns the source bytes. A function of its own so the
 * JIT optimises the loop on its own: inside setupSgTables a long first batch had it compiled on stack
 * replacement before the code after it had ever run, and that code deoptimised on every call.
 */
function fillSgPairs(srcSgt: SgTable, dstSgt: SgTable, src: Int32Array, dst: Int32Array, pos: number, nr: number, order: Uint8Array): number {
  const sp = srcSgt.pfn, sl = srcSgt.length, so = srcSgt.offset;
  const dp = dstSgt.pfn, dl = dstSgt.length, doff = dstSgt.offset;
  let bytes = 0;
  for (let i = 0; i < nr; i++) {
    const s = src[pos + i]!;
    const d = dst[pos + i]!;
    const sb = PAGE_SIZE << order[s]!;
    sp[i] = s;
    sl[i] = sb;
    so[i] = 0;
    dp[i] = d;
    dl[i] = PAGE_SIZE << order[d]!;
    doff[i] = 0;
    bytes += sb;
  }
  return bytes;
}

/** Why a batch fell back to the CPU, from the errno the copy returned. */
function fallbackReason(ret: number): string {
  switch (ret) {
    case -ENODEV: return "no_channel";
    case -ENOMEM: return "no_memory";
    case -EIO: return "dma_error";
    case -ETIMEDOUT: return "timeout";
  }
  return errnoName(ret);
}
