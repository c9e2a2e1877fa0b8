import {
  checkParams, Cost, EEXIST, EIO, ENODEV, paramDefaults,
  type CostKind, type FaultPoint, type KernelCore, type ParamValues, type Tracepoint,
} from "@mmemu/kernel";
import type { PhysMem } from "@mmemu/mm-core";
import type { Iommu } from "@mmemu/platform";
import { DmaMapService, type Device, type DeviceOptions } from "./dma-mapping.js";
import {
  DMA_INTERRUPT, DMA_MEMCPY, DMA_MEMCPY_SG, DMA_PRIVATE, DMA_SLAVE, DMA_TX_TYPE_END, DMA_TX_TYPE_NAMES,
  EPROBE_DEFER, dmaCapClear, dmaCapNames, dmaCapSet, dmaHasCap, dmaengineSynchronize,
  type DmaCapMask, type DmaChan, type DmaDevice, type ExecContext,
} from "./dmaengine.js";
import { DMAENGINE_PARAMS } from "./params.js";
import type { DmaengineDebug } from "./dma-debug.js";

/**
 * The per-machine dmaengine core, after the globals and functions of drivers/dma/dmaengine.c: the
 * device list, dma<N> ids, private channel allocation (dma_request_chan_by_mask(),
 * dma_release_channel()), the public per-CPU channel table (dmaengine_get(), dma_find_channel(),
 * dma_channel_rebalance()) and the registration checks of dma_async_device_register().
 */
export interface DmaEngineOptions {
  readonly core: KernelCore;
  readonly mem: PhysMem;
  /** The platform IOMMU devices reach memory through. @default one of its own on `mem` */
  readonly iommu?: Iommu;
  /** Overrides of {@link DMAENGINE_PARAMS}. */
  readonly params?: Readonly<Partial<Record<keyof typeof DMAENGINE_PARAMS, number>>>;
}

/** Mirrors dma_filter_fn. */
export type DmaFilterFn = (chan: DmaChan, param: unknown) => boolean;

/** Counters of the core (one record, every counter listed up front). */
export interface DmaengineStats {
  chanRequests: number;
  chanRequestFailures: number;
  chanReleases: number;
  /** Cookies completed (dma_cookie_complete()). */
  completed: number;
  /** Client callbacks run. */
  callbacks: number;
  /** dma_release_channel() calls on a channel whose client count was not 1 (the kernel WARNs). */
  releaseWarnings: number;
}

type TpChan = { chan: string };

/** Caps with a public channel table entry: all but INTERRUPT, PRIVATE and SLAVE (dma_channel_table_init()). */
const TABLE_CAPS: readonly number[] = Array.from({ length: DMA_TX_TYPE_END }, (_, i) => i).filter((c) => c !== DMA_INTERRUPT && c !== DMA_PRIVATE && c !== DMA_SLAVE);

export class DmaEngine {
  readonly core: KernelCore;
  readonly mem: PhysMem;
  readonly params: ParamValues<typeof DMAENGINE_PARAMS>;
  /** The DMA mapping layer of this machine. */
  readonly map: DmaMapService;
  /** dma_device_list, in registration order. */
  readonly devices: DmaDevice[] = [];
  /** dmaengine_ref_count: public-channel users. */
  dmaengineRefCount = 0;
  /** The attached protocol and leak checks ({@link DmaengineDebug}), or null: one null test per submit, callback and terminate. */
  debug: DmaengineDebug | null = null;
  /** The context the running code is in; providers switch it around interrupt handlers and tasklets. */
  context: ExecContext = "task";
  readonly stats: DmaengineStats = { chanRequests: 0, chanRequestFailures: 0, chanReleases: 0, completed: 0, callbacks: 0, releaseWarnings: 0 };

  readonly tpPrep: Tracepoint<{ chan: string; op: string; len: number; flags: number; ok: boolean }>;
  readonly tpSubmit: Tracepoint<{ chan: string; cookie: number }>;
  readonly tpIssue: Tracepoint<{ chan: string; cookie: number }>;
  readonly tpComplete: Tracepoint<{ chan: string; cookie: number }>;
  readonly tpCallback: Tracepoint<{ chan: string; context: string; result: number }>;
  readonly tpTerminate: Tracepoint<{ chan: string; completed: number; used: number }>;
  readonly tpSync: Tracepoint<TpChan>;
  readonly tpRequest: Tracepoint<{ chan: string; client: string; ret: number }>;
  readonly tpRelease: Tracepoint<{ chan: string; client: string }>;

  /** Another client holding the channels a request wants (fault point dma.chan_request). */
  private readonly chanRequestFault: FaultPoint;
  /** channel_table[cap][cpu]. */
  private readonly channelTable: Array<Array<DmaChan | null>> = [];

  constructor(opts: DmaEngineOptions) {
    this.core = opts.core;
    this.mem = opts.mem;
    const over = opts.params ?? {};
    const problems = checkParams(DMAENGINE_PARAMS, over, "dmaengine");
    if (problems.length > 0) throw new RangeError(`invalid dmaengine parameters:\n  ${problems.join("\n  ")}`);
    this.params = { ...paramDefaults(DMAENGINE_PARAMS), ...over } as ParamValues<typeof DMAENGINE_PARAMS>;
    this.map = new DmaMapService(opts.core, opts.mem, opts.iommu);
    const t = opts.core.trace;
    this.tpPrep = t.define("dmae_prep");
    this.tpSubmit = t.define("dmae_submit");
    this.tpIssue = t.define("dmae_issue");
    this.tpComplete = t.define("dmae_complete");
    this.tpCallback = t.define("dmae_callback");
    this.tpTerminate = t.define("dmae_terminate");
    this.tpSync = t.define("dmae_sync");
    this.tpRequest = t.define("dmae_request");
    this.tpRelease = t.define("dmae_release");
    this.chanRequestFault = opts.core.faults.define("dma.chan_request", "dma_request_chan_by_mask() finds every matching channel taken by other clients (-ENODEV)");
    const ncpu = opts.mem.nrCpus;
    for (let cap = 0; cap < DMA_TX_TYPE_END; cap++) this.channelTable.push(new Array<DmaChan | null>(ncpu).fill(null));
  }

  /**
   * Charge CPU work to the running task. Work done in an event (an interrupt handler, a tasklet) is
   * timed by the provider's own parameters instead, so it is not charged here.
   */
  chargeTask(kind: CostKind, units: number): void {
    if (!this.core.sim.inEvent) this.core.cost.charge(kind, units);
  }

  /** Switch the execution context (around an IRQ handler or tasklet); returns the previous one. */
  enterContext(ctx: ExecContext): ExecContext {
    const prev = this.context;
    this.context = ctx;
    return prev;
  }

  /** Restore the context {@link enterContext} returned. */
  exitContext(prev: ExecContext): void {
    this.context = prev;
  }

  /** Create a struct device for a provider (mapping mask, IOMMU, NUMA node). */
  createDevice(name: string, opts: DeviceOptions = {}): Device {
    return this.map.createDevice(name, opts);
  }

  /**
   * Mirrors dma_async_device_register(): checks that every advertised capability has its prep op and
   * that tx_status and issue_pending exist (-EIO), that there are channels (-ENODEV); assigns dma<N>
   * and channel names; private devices start with privatecnt 1 ("always private").
   */
  dmaAsyncDeviceRegister(device: DmaDevice): number {
    if (this.devices.includes(device)) return -EEXIST;
    const claims: Array<[number, string, unknown]> = [
      [DMA_MEMCPY, "device_prep_dma_memcpy", device.devicePrepDmaMemcpy],
      [DMA_MEMCPY_SG, "device_prep_dma_memcpy_sg", device.devicePrepDmaMemcpySg],
      [DMA_INTERRUPT, "device_prep_dma_interrupt", device.devicePrepDmaInterrupt],
    ];
    for (const [cap, op, fn] of claims) {
      if (dmaHasCap(cap, device.capMask) && typeof fn !== "function") {
        this.registerError(device, `claims capability ${DMA_TX_TYPE_NAMES[cap]}, but op ${op} is not defined`);
        return -EIO;
      }
    }
    for (let cap = 0; cap < DMA_TX_TYPE_END; cap++) {
      if (dmaHasCap(cap, device.capMask) && cap !== DMA_MEMCPY && cap !== DMA_MEMCPY_SG && cap !== DMA_INTERRUPT && cap !== DMA_PRIVATE) {
        this.registerError(device, `claims capability ${DMA_TX_TYPE_NAMES[cap]}, which this emulator has no prep op for`);
        return -EIO;
      }
    }
    if (typeof device.deviceTxStatus !== "function") {
      this.registerError(device, "device tx_status is not defined");
      return -EIO;
    }
    if (typeof device.deviceIssuePending !== "function") {
      this.registerError(device, "device issue_pending is not defined");
      return -EIO;
    }
    if (device.channels.length === 0) {
      this.registerError(device, "device has no channels");
      return -ENODEV;
    }
    device.devId = this.lowestFreeId();
    device.engine = this;
    device.channels.forEach((chan, i) => {
      chan.chanId = i;
      chan.name = `dma${device.devId}chan${i}`;
    });
    if (this.dmaengineRefCount > 0 && !dmaHasCap(DMA_PRIVATE, device.capMask)) {
      for (const chan of device.channels) for (let r = 0; r < this.dmaengineRefCount; r++) this.dmaChanGet(chan);
    }
    this.devices.push(device);
    if (dmaHasCap(DMA_PRIVATE, device.capMask)) device.privatecnt++;
    this.dmaChannelRebalance();
    return 0;
  }

  /** Registration problems are logged as the kernel's dev_err() would be. */
  readonly log: string[] = [];

  private registerError(device: DmaDevice, msg: string): void {
    this.log.push(`${device.dev.name}: ${msg}`);
  }

  private lowestFreeId(): number {
    const used = new Set(this.devices.map((d) => d.devId));
    let id = 0;
    while (used.has(id)) id++;
    return id;
  }

  /** Mirrors dma_async_device_unregister(). Channels still held by clients are an error here (the kernel WARNs). */
  dmaAsyncDeviceUnregister(device: DmaDevice): void {
    const i = this.devices.indexOf(device);
    if (i < 0) throw new Error(`dma_async_device_unregister: ${device.dev.name} is not registered`);
    const held = device.channels.filter((c) => c.clientCount > 0 && dmaHasCap(DMA_PRIVATE, device.capMask));
    if (held.length > 0) throw new Error(`dma_async_device_unregister(${device.dev.name}): channels ${held.map((c) => c.name).join(", ")} are still held by clients`);
    this.devices.splice(i, 1);
    device.engine = null;
    this.dmaChannelRebalance();
  }

  /** Mirrors dma_chan_get(): take a client reference; the first one allocates channel resources. */
  private dmaChanGet(chan: DmaChan): number {
    if (chan.clientCount > 0) {
      chan.clientCount++;
      return 0;
    }
    const alloc = chan.device.deviceAllocChanResources;
    if (alloc !== undefined) {
      const ret = alloc.call(chan.device, chan);
      if (ret < 0) return ret;
    }
    chan.clientCount++;
    return 0;
  }

  /** Mirrors dma_chan_put(): drop a reference; the last one synchronizes and frees channel resources. */
  private dmaChanPut(chan: DmaChan): void {
    if (chan.clientCount === 0) return;
    chan.clientCount--;
    if (chan.clientCount === 0 && chan.device.deviceFreeChanResources !== undefined) {
      dmaengineSynchronize(chan);
      chan.device.deviceFreeChanResources(chan);
    }
  }

  /** Mirrors private_candidate(). */
  private privateCandidate(mask: DmaCapMask, dev: DmaDevice, fn: DmaFilterFn | null, param: unknown): DmaChan | null {
    if ((dev.capMask.bits & mask.bits) !== mask.bits) return null;
    // A public multi-channel device is skipped once any of its channels is publicly in use.
    if (dev.channels.length > 1 && !dmaHasCap(DMA_PRIVATE, dev.capMask)) {
      for (const c of dev.channels) if (c.clientCount > 0) return null;
    }
    for (const c of dev.channels) {
      if (c.clientCount > 0) continue;
      if (fn !== null && !fn(c, param)) continue;
      return c;
    }
    return null;
  }

  /** Mirrors __dma_request_channel(): first matching free channel, marked private; null if none. */
  private requestChannel(mask: DmaCapMask, fn: DmaFilterFn | null, param: unknown, client: string): DmaChan | null {
    if (this.context !== "task" || this.core.sim.inEvent) throw new Error(`dma_request_channel called from ${this.context} context: it takes a mutex and may sleep`);
    this.stats.chanRequests++;
    // Every matching channel held by other clients: the search finds none (fault point dma.chan_request).
    const taken = this.chanRequestFault.armed && this.chanRequestFault.shouldFail();
    // The walk starts at the list's head every time, so a client's k-th channel costs k + 1 candidates.
    let examined = 0;
    for (const dev of taken ? [] : this.devices) {
      examined++;
      const chan = this.privateCandidate(mask, dev, fn, param);
      if (chan === null) continue;
      dmaCapSet(DMA_PRIVATE, dev.capMask);
      dev.privatecnt++;
      const err = this.dmaChanGet(chan);
      if (err !== 0) {
        if (--dev.privatecnt === 0) dmaCapClear(DMA_PRIVATE, dev.capMask);
        continue;
      }
      chan.dbgClientName = client;
      if (this.tpRequest.enabled) this.tpRequest.emit({ chan: chan.name, client, ret: 0 });
      this.chargeTask(Cost.DMA_CHAN_CANDIDATE, examined);
      this.chargeTask(Cost.DMA_CHAN_REQUEST, 1);
      return chan;
    }
    this.stats.chanRequestFailures++;
    this.chargeTask(Cost.DMA_CHAN_CANDIDATE, examined);
    this.chargeTask(Cost.DMA_CHAN_REQUEST, 1);
    return null;
  }

  /**
   * Mirrors dma_request_chan_by_mask(): an exclusive channel whose device has every capability in
   * `mask`, or -ENODEV (-EPROBE_DEFER when no DMA device is registered at all, -ENODEV for an empty
   * mask). The first reference runs the driver's alloc_chan_resources.
   */
  dmaRequestChanByMask(mask: DmaCapMask, client = "client"): DmaChan | number {
    if (mask.bits === 0) return -ENODEV;
    const chan = this.requestChannel(mask, null, null, client);
    if (chan !== null) return chan;
    const ret = this.devices.length === 0 ? -EPROBE_DEFER : -ENODEV;
    if (this.tpRequest.enabled) this.tpRequest.emit({ chan: "", client, ret });
    return ret;
  }

  /** Mirrors dma_request_channel(): like dma_request_chan_by_mask() with a filter, but null on failure. */
  dmaRequestChannel(mask: DmaCapMask, fn: DmaFilterFn | null = null, param: unknown = null, client = "client"): DmaChan | null {
    return this.requestChannel(mask, fn, param, client);
  }

  /**
   * Mirrors dma_release_channel(): drop the client's reference (the last one synchronizes and frees
   * the channel's resources) and the device's private count. Releasing a channel nobody holds throws.
   */
  dmaReleaseChannel(chan: DmaChan): void {
    if (chan.clientCount === 0) throw new Error(`dma_release_channel(${chan.name}): the channel is not held (released twice?)`);
    if (chan.clientCount !== 1) this.stats.releaseWarnings++;
    const client = chan.dbgClientName ?? "";
    this.dmaChanPut(chan);
    const dev = chan.device;
    if (--dev.privatecnt === 0) dmaCapClear(DMA_PRIVATE, dev.capMask);
    chan.dbgClientName = null;
    this.stats.chanReleases++;
    if (this.tpRelease.enabled) this.tpRelease.emit({ chan: chan.name, client });
    this.chargeTask(Cost.DMA_CHAN_RELEASE, 1);
  }

  /** Mirrors dmaengine_get(): take references on every public channel and fill the per-CPU table. */
  dmaengineGet(): void {
    this.dmaengineRefCount++;
    for (const dev of this.devices) {
      if (dmaHasCap(DMA_PRIVATE, dev.capMask)) continue;
      for (const chan of dev.channels) this.dmaChanGet(chan);
    }
    if (this.dmaengineRefCount === 1) this.dmaChannelRebalance();
  }

  /** Mirrors dmaengine_put(). */
  dmaenginePut(): void {
    if (this.dmaengineRefCount === 0) throw new Error("dmaengine_put() without a matching dmaengine_get()");
    this.dmaengineRefCount--;
    for (const dev of this.devices) {
      if (dmaHasCap(DMA_PRIVATE, dev.capMask)) continue;
      for (const chan of dev.channels) this.dmaChanPut(chan);
    }
  }

  /**
   * Mirrors dma_find_channel(): this CPU's public channel for `txType` (shared, not exclusive), or
   * null. Filled only while some dmaengine_get() user exists.
   */
  dmaFindChannel(txType: number, cpu = 0): DmaChan | null {
    const row = this.channelTable[txType];
    if (row === undefined) throw new RangeError(`dma_find_channel: unknown transaction type ${txType}`);
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= row.length) throw new RangeError(`dma_find_channel: cpu ${cpu} is outside 0..${row.length - 1}`);
    return row[cpu]!;
  }

  /** Mirrors dma_channel_rebalance(): spread public channels over CPUs, preferring the CPU's node. */
  private dmaChannelRebalance(): void {
    for (const row of this.channelTable) row.fill(null);
    for (const dev of this.devices) {
      if (dmaHasCap(DMA_PRIVATE, dev.capMask)) continue;
      for (const c of dev.channels) c.tableCount = 0;
    }
    if (this.dmaengineRefCount === 0) return;
    for (const cap of TABLE_CAPS) {
      const row = this.channelTable[cap]!;
      for (let cpu = 0; cpu < row.length; cpu++) row[cpu] = this.minChan(cap, cpu);
    }
  }

  /** Mirrors min_chan(). */
  private minChan(cap: number, cpu: number): DmaChan | null {
    const node = this.mem.cpuToNode(cpu);
    let min: DmaChan | null = null;
    let localmin: DmaChan | null = null;
    for (const dev of this.devices) {
      if (!dmaHasCap(cap, dev.capMask) || dmaHasCap(DMA_PRIVATE, dev.capMask)) continue;
      for (const c of dev.channels) {
        if (c.clientCount === 0) continue;
        if (min === null || c.tableCount < min.tableCount) min = c;
        if (dev.dev.numaNode === node && (localmin === null || c.tableCount < localmin.tableCount)) localmin = c;
      }
    }
    const chan = localmin ?? min;
    if (chan !== null) chan.tableCount++;
    return chan;
  }

  /** The debugfs summary (/sys/kernel/debug/dmaengine/summary). */
  summary(): string {
    const lines: string[] = [];
    for (const d of this.devices) {
      lines.push(`dma${d.devId} (${d.dev.name}): number of channels: ${d.channels.length} caps: ${dmaCapNames(d.capMask)}`);
      for (const c of d.channels) if (c.clientCount > 0) lines.push(` ${c.name.padEnd(20)} | ${c.dbgClientName ?? "in-use"}`);
      lines.push("");
    }
    return lines.join("\n");
  }
}
