import type { BatchAuditor } from "@mmemu/mm-core";
import type { DmaAsyncTxDescriptor, DmaChan } from "./dmaengine.js";
import type { DmaEngine } from "./registry.js";
import { VirtDmaChan } from "./virt-dma.js";

/**
 * Protocol and leak checks for dmaengine providers and clients, in the spirit of
 * CONFIG_DMA_API_DEBUG (kernel/dma/debug.c, which reports mappings a driver leaks) extended to the
 * dmaengine rules of spec 4.2-4.6 and 5.8:
 *
 * - every callback a submission owes runs exactly once, unless the channel is terminated first; a
 *   second run, or a run after terminate_all, is reported when it happens;
 * - around an offload copy (as an invariant checker's {@link BatchAuditor}): channels requested
 *   during the batch are released, DMA mappings made are unmapped, descriptors prepared are completed
 *   and freed, and the callbacks owed have run — each reported with its channel and engine.
 *
 * It costs a null test per submit, callback and terminate when detached; attached, a few counter
 * updates per descriptor and a walk over the channels per batch (no per-descriptor collections).
 */
export class DmaengineDebug implements BatchAuditor {
  /** Every rule broken, also forwarded to the sink (an invariant checker) if there is one. */
  readonly violations: string[] = [];
  private chans: DmaChan[] = [];
  private held = new Int32Array(0);
  private live = new Int32Array(0);
  private owed = new Int32Array(0);
  private cookies = new Int32Array(0);
  private epochs = new Int32Array(0);
  private mappings = new Int32Array(0);

  /**
   * Attach to `engine`. With a `sink` (an InvariantChecker), rules broken at any time are reported to
   * it and the per-batch checks run at each offload copy; without one, call {@link auditStart} and
   * {@link auditEnd} around the work to check (dmatest does) and read {@link violations}.
   */
  constructor(
    readonly engine: DmaEngine,
    private readonly sink: { report(msg: string): void; addAuditor(a: BatchAuditor): void } | null = null,
  ) {
    if (engine.debug !== null) throw new Error("dmaengine debug: already attached to this dmaengine core");
    engine.debug = this;
    sink?.addAuditor(this);
  }

  /** Stop checking (the auditor stays registered with the sink but finds nothing). */
  detach(): void {
    if (this.engine.debug === this) this.engine.debug = null;
  }

  private fail(msg: string): void {
    this.violations.push(msg);
    this.sink?.report(msg);
  }

  private static where(chan: DmaChan): string {
    return `engine ${chan.device.dev.name}, channel ${chan.name}`;
  }

  /** @internal dmaengine_submit() returned `cookie` for `tx`. */
  submitted(tx: DmaAsyncTxDescriptor, cookie: number): void {
    if (cookie <= 0 || (tx.callback === null && tx.callbackResult === null)) return;
    const chan = tx.chan;
    tx.dbgArmed = true;
    tx.dbgCookie = cookie;
    tx.dbgEpoch = chan.dbgEpoch;
    chan.dbgCbOwed++;
  }

  /** @internal a client callback is about to run for `tx`. */
  callbackRun(tx: DmaAsyncTxDescriptor): void {
    const chan = tx.chan;
    if (!tx.dbgArmed) {
      this.fail(`${DmaengineDebug.where(chan)}: callback of cookie ${tx.dbgCookie || tx.cookie} run twice (or for a descriptor never submitted); each submission's callback runs exactly once`);
      return;
    }
    tx.dbgArmed = false;
    if (tx.dbgEpoch !== chan.dbgEpoch) {
      this.fail(`${DmaengineDebug.where(chan)}: callback of cookie ${tx.dbgCookie} ran after dmaengine_terminate_*(); no callback may run for a transfer terminated before it completed`);
      return;
    }
    chan.dbgCbRun++;
  }

  /** @internal terminate_all: callbacks owed so far are cancelled, not missing. */
  terminated(chan: DmaChan): void {
    chan.dbgEpoch++;
    chan.dbgCbOwed = 0;
    chan.dbgCbRun = 0;
  }

  /** Snapshot what the batch must leave as it found it. */
  offloadStart(): void {
    this.auditStart();
  }

  offloadEnd(): readonly string[] {
    return this.auditEnd();
  }

  /** Record the channels' and devices' state before the work to be audited. */
  auditStart(): void {
    const chans: DmaChan[] = [];
    for (const d of this.engine.devices) for (const c of d.channels) chans.push(c);
    const n = chans.length;
    if (this.held.length < n) {
      this.held = new Int32Array(n);
      this.live = new Int32Array(n);
      this.owed = new Int32Array(n);
      this.cookies = new Int32Array(n);
      this.epochs = new Int32Array(n);
    }
    this.chans = chans;
    for (let i = 0; i < n; i++) {
      const c = chans[i]!;
      this.held[i] = c.clientCount;
      this.live[i] = c instanceof VirtDmaChan ? c.liveDescs : 0;
      this.owed[i] = c.dbgCbOwed - c.dbgCbRun;
      this.cookies[i] = c.cookie;
      this.epochs[i] = c.dbgEpoch;
    }
    const devs = this.engine.map.devices;
    if (this.mappings.length < devs.length) this.mappings = new Int32Array(devs.length);
    for (let i = 0; i < devs.length; i++) this.mappings[i] = devs[i]!.liveMappings;
  }

  /**
   * The rules broken since {@link auditStart}: channels still held, descriptors neither completed
   * nor freed, callbacks never run, mappings not unmapped. Reported here (and returned).
   */
  auditEnd(): string[] {
    const out: string[] = [];
    const chans = this.chans;
    for (let i = 0; i < chans.length; i++) {
      const c = chans[i]!;
      const where = DmaengineDebug.where(c);
      if (c.clientCount > this.held[i]!) {
        out.push(`${where}: still held${c.dbgClientName !== null ? ` by ${c.dbgClientName}` : ""} (${c.clientCount} reference(s), ${this.held[i]} before); every channel requested for a batch must be released with dma_release_channel()`);
      }
      if (c instanceof VirtDmaChan) {
        if (c.liveDescs > this.live[i]!) {
          out.push(`${where}: ${c.liveDescs - this.live[i]!} descriptor(s) prepared during the batch were neither completed nor freed; each prepared descriptor must complete (or be terminated) and go back through desc_free`);
        }
      } else if (c.cookie !== this.cookies[i] && c.completedCookie !== c.cookie && c.dbgEpoch === this.epochs[i]) {
        out.push(`${where}: cookies up to ${c.cookie} were submitted but only ${c.completedCookie} completed, and the channel was not terminated`);
      }
      const owed = c.dbgCbOwed - c.dbgCbRun;
      if (owed > 0 && (c.dbgEpoch !== this.epochs[i] || owed > this.owed[i]!)) {
        out.push(`${where}: ${owed} callback(s) owed by submitted descriptors never ran (and the channel was not terminated); a submitted callback must run exactly once`);
      }
    }
    const devs = this.engine.map.devices;
    for (let i = 0; i < devs.length; i++) {
      const d = devs[i]!;
      const before = i < this.mappings.length ? this.mappings[i]! : 0;
      if (d.liveMappings > before) {
        out.push(`device ${d.name}: ${d.liveMappings - before} DMA mapping(s) made during the batch are still live; every dma_map_sgtable()/dma_map_page() needs its unmap`);
      }
    }
    // Without a sink the caller asked for these; with one, the checker reports what this returns.
    if (this.sink === null) this.violations.push(...out);
    return out;
  }
}
