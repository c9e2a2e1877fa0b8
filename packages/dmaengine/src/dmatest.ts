import { Cost, KernelCore, type FaultPoint, type PrngStream } from "@mmemu/kernel";
import { Fabric, type IommuMode } from "@mmemu/platform";
import { PAGE_SIZE, PhysMem } from "@mmemu/mm-core";
import {
  DMA_COMPLETE, DMA_COMPLETION_NO_ORDER, DMA_CTRL_ACK, DMA_ERROR, DMA_MEMCPY, DMA_MEMCPY_SG, DMA_PREP_INTERRUPT,
  DMA_STATUS_NAMES, DMA_TRANS_NOERROR, DMA_TRANS_RESULT_NAMES, DmaCapMask, dmaAsyncIsTxComplete, dmaAsyncIssuePending,
  dmaHasCap, dmaSubmitError, dmaSyncWait, dmaengineGetDmaDevice, dmaenginePrepDmaMemcpy, dmaenginePrepDmaMemcpySg,
  dmaengineSubmit, dmaengineTerminateSync, dmaengineTxStatus,
  type DmaChan, type DmaDevice, type DmaengineResult,
} from "./dmaengine.js";
import {
  DMA_FROM_DEVICE, DMA_TO_DEVICE, dmaMapPage, dmaMappingError, dmaMapSgtable, dmaUnmapPage, dmaUnmapSgtable,
} from "./dma-mapping.js";
import { DmaengineDebug } from "./dma-debug.js";
import type { DmaEngineModule } from "./engine-module.js";
import { DmaEngine } from "./registry.js";
import { SgTable, sgAllocTable, sgFreeTable, sgSetPage } from "./scatterlist.js";

/**
 * A small client after drivers/dma/dmatest.c: for each iteration it fills the source pages with a
 * fresh pattern, maps source and destination, prepares one memcpy, submits and issues it, waits for
 * the callback (or polls with dma_sync_wait() in polled mode), unmaps, and verifies the destination
 * page digests. Every failure class is counted separately so tests can tell them apart.
 */
export interface DmatestParams {
  /** A channel the caller holds. */
  readonly chan: DmaChan;
  /** First page of the source buffer. */
  readonly srcPfn: number;
  /** First page of the destination buffer. */
  readonly dstPfn: number;
  /** Bytes per transfer: a multiple of PAGE_SIZE, so digests can verify it. @default 4096 */
  readonly len?: number;
  /** @default 1 */
  readonly iterations?: number;
  /** Prepare without DMA_PREP_INTERRUPT and poll (dmatest's `polled`). @default false */
  readonly polled?: boolean;
  /** Wait per transfer in virtual ns (dmatest's `timeout`, 3000 ms). @default 3e9 */
  readonly timeoutNs?: number;
  /** Skip verification (dmatest's `noverify`). @default false */
  readonly noverify?: boolean;
}

/** What one run saw (every counter listed up front). */
export interface DmatestResult {
  iterations: number;
  completed: number;
  mapErrors: number;
  prepFailures: number;
  submitErrors: number;
  timeouts: number;
  /** tx_status said DMA_ERROR (or anything but COMPLETE after the callback). */
  statusErrors: number;
  /** The callback's dmaengine_result was not NOERROR. */
  callbackErrors: number;
  /** Destination pages whose digest differs from the source after a reported success. */
  verifyErrors: number;
  /** Virtual ns from the first prep to the last verify. */
  elapsedNs: number;
}

interface Done {
  fired: boolean;
  result: number;
}

function dmatestCallback(done: Done, res: DmaengineResult): void {
  done.fired = true;
  done.result = res.result;
}

/** Mirrors dmatest_func() for a memcpy test on one channel. */
export function dmatestRun(engine: DmaEngine, p: DmatestParams): DmatestResult {
  const len = p.len ?? PAGE_SIZE;
  const iters = p.iterations ?? 1;
  const timeout = p.timeoutNs ?? 3_000_000_000;
  if (!Number.isInteger(len) || len < PAGE_SIZE || len % PAGE_SIZE !== 0) throw new RangeError(`dmatest: len must be a positive multiple of ${PAGE_SIZE} bytes so digests can verify it, got ${len}`);
  if (!Number.isInteger(iters) || iters < 1) throw new RangeError(`dmatest: iterations must be an integer >= 1, got ${iters}`);
  if (!(timeout > 0)) throw new RangeError(`dmatest: timeoutNs must be > 0, got ${timeout}`);
  const npages = len / PAGE_SIZE;
  for (const [what, pfn] of [["srcPfn", p.srcPfn], ["dstPfn", p.dstPfn]] as const) {
    if (!Number.isInteger(pfn) || pfn < 0 || pfn + npages > engine.mem.totalPages) throw new RangeError(`dmatest: ${what} ${pfn} + ${npages} pages is outside physical memory (${engine.mem.totalPages} pages)`);
  }
  const chan = p.chan;
  const dev = dmaengineGetDmaDevice(chan);
  const mem = engine.mem;
  const sim = engine.core.sim;
  const r: DmatestResult = { iterations: iters, completed: 0, mapErrors: 0, prepFailures: 0, submitErrors: 0, timeouts: 0, statusErrors: 0, callbackErrors: 0, verifyErrors: 0, elapsedNs: 0 };
  const start = sim.now;
  const done: Done = { fired: false, result: DMA_TRANS_NOERROR };
  for (let it = 0; it < iters; it++) {
    mem.fillPages(p.srcPfn, npages, 0x5a000000 + it + 1);
    mem.fillPages(p.dstPfn, npages, 0xdead0000 + it + 1);
    const src = dmaMapPage(dev, p.srcPfn, 0, len, DMA_TO_DEVICE);
    if (dmaMappingError(dev, src)) {
      r.mapErrors++;
      continue;
    }
    const dst = dmaMapPage(dev, p.dstPfn, 0, len, DMA_FROM_DEVICE);
    if (dmaMappingError(dev, dst)) {
      dmaUnmapPage(dev, src, len, DMA_TO_DEVICE);
      r.mapErrors++;
      continue;
    }
    const flags = DMA_CTRL_ACK | (p.polled === true ? 0 : DMA_PREP_INTERRUPT);
    const tx = dmaenginePrepDmaMemcpy(chan, dst, src, len, flags);
    if (tx === null) {
      r.prepFailures++;
      dmaUnmapPage(dev, dst, len, DMA_FROM_DEVICE);
      dmaUnmapPage(dev, src, len, DMA_TO_DEVICE);
      continue;
    }
    done.fired = false;
    done.result = DMA_TRANS_NOERROR;
    if (p.polled !== true) {
      tx.callbackResult = dmatestCallback;
      tx.callbackParam = done;
    }
    const cookie = dmaengineSubmit(tx);
    if (dmaSubmitError(cookie)) {
      r.submitErrors++;
      dmaUnmapPage(dev, dst, len, DMA_FROM_DEVICE);
      dmaUnmapPage(dev, src, len, DMA_TO_DEVICE);
      continue;
    }
    let status: number;
    if (p.polled === true) {
      status = dmaSyncWait(chan, cookie);
    } else {
      dmaAsyncIssuePending(chan);
      engine.chargeTask(Cost.COMPLETION_WAIT, 1);
      sim.runUntil(() => done.fired, timeout, "dmatest wait");
      status = dmaAsyncIsTxComplete(chan, cookie);
    }
    // Polled waits end in DMA_ERROR on timeout too (dma_sync_wait()), so they count as status errors.
    const timedOut = p.polled !== true && !done.fired;
    if (timedOut) {
      r.timeouts++;
      dmaengineTerminateSync(chan);
    } else if (status !== DMA_COMPLETE) {
      r.statusErrors++;
      dmaengineTerminateSync(chan);
    } else if (done.result !== DMA_TRANS_NOERROR) {
      r.callbackErrors++;
    }
    dmaUnmapPage(dev, dst, len, DMA_FROM_DEVICE);
    dmaUnmapPage(dev, src, len, DMA_TO_DEVICE);
    if (timedOut || status !== DMA_COMPLETE) continue;
    r.completed++;
    if (p.noverify === true) continue;
    for (let i = 0; i < npages; i++) {
      if (mem.digest(p.dstPfn + i) !== mem.digest(p.srcPfn + i)) {
        r.verifyErrors++;
        break;
      }
    }
  }
  r.elapsedNs = sim.now - start;
  return r;
}

// ---- the conformance kit: dmatest over every channel of an engine module ---------------------------

/** One check's outcome. "warn" is a behaviour the kit reports without failing (a driver quirk). */
export interface DmatestCase {
  readonly test: string;
  readonly chan: string;
  readonly status: "pass" | "fail" | "warn" | "skip";
  readonly detail: string;
}

export interface DmatestEngineOptions {
  /** PRNG seed of the machine. @default 1 */
  readonly seed?: number;
  /** Parameter overrides handed to the engine's probe. */
  readonly params?: Readonly<Record<string, number>>;
  /** @default "off" */
  readonly iommu?: IommuMode;
  /** Descriptors submitted at once in the in-flight test. @default 64 */
  readonly inFlight?: number;
}

export interface DmatestEngineReport {
  readonly engine: string;
  readonly channels: readonly string[];
  readonly cases: readonly DmatestCase[];
  readonly failed: number;
}

const KIT_NODE_PAGES = 4096;
/** Per-wait limit in virtual ns (dmatest's 3000 ms timeout). */
const KIT_TIMEOUT_NS = 3_000_000_000;
const DST_FILL = 0xdddddddd;

/**
 * What the kit runs on: a fresh machine with the engine's devices registered with its dmaengine core.
 * The kit needs two NUMA nodes with at least 16 MiB each (sources on the first, destinations on the
 * second). Built again for every fault point, so a build function rather than a machine.
 */
export interface DmatestMachine {
  readonly core: KernelCore;
  readonly mem: PhysMem;
  readonly dma: DmaEngine;
  /** The engine's devices, registered with `dma`. */
  readonly devices: readonly DmaDevice[];
}

/** Build a DmatestMachine for a seed (the CLI adapts engine modules of any loader to this). */
export type DmatestBuild = (seed: number) => DmatestMachine;

/** The kit's machine for a DmaEngineModule: two nodes of 16 MiB, the engine probed on both. */
export function dmatestModuleBuild(mod: DmaEngineModule, o: DmatestEngineOptions = {}): DmatestBuild {
  return (seed) => {
    const core = new KernelCore({ seed });
    const mem = new PhysMem([{ id: 0, pages: KIT_NODE_PAGES, cpus: 2 }, { id: 1, pages: KIT_NODE_PAGES, cpus: 2 }]);
    const dma = new DmaEngine({ core, mem });
    const fabric = new Fabric(core, { nodes: [{ id: 0, socket: 0 }, { id: 1, socket: 1 }] });
    const devices = mod.probe({ core, dma, fabric, nodes: [0, 1], params: o.params ?? {}, iommu: o.iommu ?? "off" });
    return { core, mem, dma, devices };
  };
}

/** A built machine with the kit's own state: the debug checks, the engine's fault points, a PRNG. */
class KitMachine {
  readonly core: KernelCore;
  readonly mem: PhysMem;
  readonly dma: DmaEngine;
  readonly debug: DmaengineDebug;
  readonly devices: readonly DmaDevice[];
  /** The engine's fault points (named "<engine>.<fault>"). */
  readonly faults: FaultPoint[];
  readonly dstBase: number;
  private readonly rng: PrngStream;

  constructor(name: string, build: DmatestBuild, seed: number) {
    const b = build(seed);
    this.core = b.core;
    this.mem = b.mem;
    this.dma = b.dma;
    this.devices = b.devices;
    if (!Array.isArray(this.devices) || this.devices.length === 0) throw new Error(`engine ${name}: probe() registered no device`);
    for (const d of this.devices) if (!this.dma.devices.includes(d)) throw new Error(`engine ${name}: probe() returned a device it did not register with dma_async_device_register()`);
    const nodes = this.mem.nodes.filter((n) => n.nrPages >= KIT_NODE_PAGES);
    if (nodes.length < 2) throw new Error(`dmatest: the machine needs two nodes of at least ${KIT_NODE_PAGES} pages`);
    this.faults = this.core.faults.list().filter((f) => f.name.startsWith(`${name}.`));
    this.debug = new DmaengineDebug(this.dma);
    this.dstBase = nodes[1]!.startPfn;
    this.rng = this.core.prng.stream("dmatest");
  }

  get channels(): DmaChan[] {
    return this.devices.flatMap((d) => d.channels);
  }

  /** Fill `bytes` at physical `addr` with random bytes (the source) and return them. */
  randomFill(addr: number, bytes: number): Uint8Array {
    const b = new Uint8Array(bytes);
    for (let i = 0; i < bytes; i += 4) {
      const w = this.rng.nextU32();
      b[i] = w & 0xff;
      if (i + 1 < bytes) b[i + 1] = (w >>> 8) & 0xff;
      if (i + 2 < bytes) b[i + 2] = (w >>> 16) & 0xff;
      if (i + 3 < bytes) b[i + 3] = w >>> 24;
    }
    this.mem.write(addr, b);
    return b;
  }

  /** Take `chan` for the kit alone (dma_request_channel() with a filter naming it). */
  request(chan: DmaChan): boolean {
    const mask = new DmaCapMask();
    mask.bits = 1 << DMA_MEMCPY;
    return this.dma.dmaRequestChannel(mask, (c) => c === chan, null, "dmatest") === chan;
  }

  /** Run the machine until `cond` or the kit's timeout; false on timeout. */
  wait(cond: () => boolean): boolean {
    return cond() || this.core.sim.runUntil(cond, KIT_TIMEOUT_NS, "dmatest wait");
  }

  /** Run whatever is still scheduled (bounded), so late callbacks and writes show. */
  drain(): void {
    this.core.sim.run(this.core.sim.now + KIT_TIMEOUT_NS);
  }
}

/** One copy of the kit: source and destination byte ranges, their mappings and what the client saw. */
interface KitCopy {
  srcAddr: number;
  dstAddr: number;
  len: number;
  data: Uint8Array;
  srcBus: number;
  dstBus: number;
  /** Page-aligned mapped spans. */
  srcMapLen: number;
  dstMapLen: number;
  cookie: number;
  calls: number;
  result: number;
  /** Position in the completion order (-1 until the callback runs). */
  order: number;
}

function kitCallback(c: KitCopy & { log: KitCopy[] }, res: DmaengineResult): void {
  c.calls++;
  c.result = res.result;
  if (c.order < 0) {
    c.order = c.log.length;
    c.log.push(c);
  }
}

/** Map, prepare and submit one copy of `len` bytes (src node 0 at srcAddr, dst node 1 at dstAddr). */
function kitSubmit(k: KitMachine, chan: DmaChan, srcAddr: number, dstAddr: number, len: number, log: KitCopy[], flags = DMA_CTRL_ACK | DMA_PREP_INTERRUPT): KitCopy | string {
  const dev = dmaengineGetDmaDevice(chan);
  const data = k.randomFill(srcAddr, len);
  const sp = Math.floor(srcAddr / PAGE_SIZE);
  const dp = Math.floor(dstAddr / PAGE_SIZE);
  const srcMapLen = (Math.floor((srcAddr + len - 1) / PAGE_SIZE) - sp + 1) * PAGE_SIZE;
  const dstMapLen = (Math.floor((dstAddr + len - 1) / PAGE_SIZE) - dp + 1) * PAGE_SIZE;
  k.mem.fillPages(dp, dstMapLen / PAGE_SIZE, DST_FILL);
  const sb = dmaMapPage(dev, sp, 0, srcMapLen, DMA_TO_DEVICE);
  const db = dmaMapPage(dev, dp, 0, dstMapLen, DMA_FROM_DEVICE);
  if (dmaMappingError(dev, sb) || dmaMappingError(dev, db)) return "dma_map_page failed";
  const c: KitCopy & { log: KitCopy[] } = {
    srcAddr, dstAddr, len, data, srcBus: sb, dstBus: db, srcMapLen, dstMapLen, cookie: 0, calls: 0, result: DMA_TRANS_NOERROR, order: -1, log,
  };
  const tx = dmaenginePrepDmaMemcpy(chan, db + (dstAddr - dp * PAGE_SIZE), sb + (srcAddr - sp * PAGE_SIZE), len, flags);
  if (tx === null) {
    kitUnmap(k, chan, c);
    return `device_prep_dma_memcpy(len ${len}) returned NULL`;
  }
  if ((flags & DMA_PREP_INTERRUPT) !== 0) {
    tx.callbackResult = kitCallback;
    tx.callbackParam = c;
  }
  c.cookie = dmaengineSubmit(tx);
  if (dmaSubmitError(c.cookie)) return `dmaengine_submit returned ${c.cookie}`;
  return c;
}

function kitUnmap(k: KitMachine, chan: DmaChan, c: KitCopy): void {
  const dev = dmaengineGetDmaDevice(chan);
  dmaUnmapPage(dev, c.srcBus, c.srcMapLen, DMA_TO_DEVICE);
  dmaUnmapPage(dev, c.dstBus, c.dstMapLen, DMA_FROM_DEVICE);
}

/** Byte-for-byte check of the destination: the copied range equals the source, the rest of its pages is untouched. */
function kitVerify(k: KitMachine, c: KitCopy): string | null {
  const start = Math.floor(c.dstAddr / PAGE_SIZE) * PAGE_SIZE;
  const got = k.mem.read(start, c.dstMapLen);
  const off = c.dstAddr - start;
  for (let i = 0; i < got.length; i++) {
    const inside = i >= off && i < off + c.len;
    const want = inside ? c.data[i - off]! : (DST_FILL >>> ((i & 3) * 8)) & 0xff;
    if (got[i] !== want) {
      return inside
        ? `destination byte ${i - off} of ${c.len} is 0x${got[i]!.toString(16)}, the source's is 0x${want.toString(16)}`
        : `byte ${i < off ? off - i : i - off - c.len + 1} ${i < off ? "before" : "after"} the destination range was overwritten`;
    }
  }
  return null;
}

/** Sizes and alignments for the memcpy test, multiples of the device's copy alignment. */
function kitSizes(align: number): Array<[number, number, number]> {
  const a = Math.max(1, align);
  const up = (x: number) => Math.ceil(x / a) * a;
  return [
    [a, 0, 0], [up(60), a, 0], [up(1000), 0, up(3)], [PAGE_SIZE, 0, 0], [PAGE_SIZE - a, a, up(2048)],
    [up(PAGE_SIZE + 100), up(100), up(7)], [16 * PAGE_SIZE, 0, 0], [up(65_000), up(2048), up(36)], [256 * PAGE_SIZE, 0, 0],
  ];
}

function errName(r: number): string {
  return DMA_TRANS_RESULT_NAMES[r] ?? String(r);
}

/**
 * Run the conformance suite after drivers/dma/dmatest.c on an engine module: every channel gets
 * memcpy and memcpy_sg (when advertised) of varied sizes and alignments and many descriptors in
 * flight; each device's first channel gets a polled run, terminate and synchronize; and every fault point the
 * engine defines is fired once on a fresh machine. Data is verified byte for byte, callbacks must run
 * exactly once (DmaengineDebug watches the protocol throughout), completion must follow cookie order
 * unless the device declares DMA_COMPLETION_NO_ORDER, and nothing may complete or write after
 * terminate_sync() returned.
 */
export function dmatestEngine(mod: DmaEngineModule, o: DmatestEngineOptions = {}): DmatestEngineReport {
  return dmatestBuild(mod.name, dmatestModuleBuild(mod, o), o);
}

/** The suite of {@link dmatestEngine} on machines from `build` (an engine loaded some other way). */
export function dmatestBuild(name: string, build: DmatestBuild, o: Pick<DmatestEngineOptions, "seed" | "inFlight"> = {}): DmatestEngineReport {
  const cases: DmatestCase[] = [];
  const add = (test: string, chan: string, status: DmatestCase["status"], detail: string) => cases.push({ test, chan, status, detail });
  const inFlight = o.inFlight ?? 64;
  if (!Number.isInteger(inFlight) || inFlight < 1 || inFlight > 1024) throw new RangeError(`dmatest: inFlight must be an integer in 1..1024, got ${inFlight}`);
  const seed = o.seed ?? 1;
  const k = new KitMachine(name, build, seed);
  const names = k.channels.map((c) => c.name);
  const firstOfDevice = new Set(k.devices.map((d) => d.channels[0]!));
  for (const chan of k.channels) {
    if (!k.request(chan)) {
      add("request", chan.name, "fail", "dma_request_channel() with a filter for this channel did not return it");
      continue;
    }
    const dev = chan.device;
    const v0 = k.debug.violations.length;
    const protocol = (test: string) => {
      const v = k.debug.violations.slice(v0);
      if (v.length > 0) add(test, chan.name, "fail", v[0]!);
      return v.length === 0;
    };
    kitMemcpy(k, chan, 1 << dev.copyAlign, add);
    kitMemcpySg(k, chan, 1 << dev.copyAlign, add);
    kitInFlight(k, chan, inFlight, add);
    if (firstOfDevice.has(chan)) {
      kitPolled(k, chan, add);
      kitTerminate(k, chan, add);
    }
    k.debug.auditStart();
    k.dma.dmaReleaseChannel(chan);
    const leaks = k.debug.auditEnd();
    if (leaks.length > 0) add("release", chan.name, "fail", leaks[0]!);
    protocol("protocol");
  }
  for (const f of k.faults) kitFault(name, build, seed, f.name, add);
  return { engine: name, channels: names, cases, failed: cases.filter((c) => c.status === "fail").length };
}

type Add = (test: string, chan: string, status: DmatestCase["status"], detail: string) => void;

function kitMemcpy(k: KitMachine, chan: DmaChan, align: number, add: Add): void {
  const log: KitCopy[] = [];
  let n = 0;
  for (const [len, so, doff] of kitSizes(align)) {
    const c = kitSubmit(k, chan, so, k.dstBase * PAGE_SIZE + doff, len, log);
    const what = `len ${len} src+${so} dst+${doff}`;
    if (typeof c === "string") return add("memcpy", chan.name, "fail", `${what}: ${c}`);
    dmaAsyncIssuePending(chan);
    if (!k.wait(() => c.calls > 0)) {
      dmaengineTerminateSync(chan);
      kitUnmap(k, chan, c);
      return add("memcpy", chan.name, "fail", `${what}: no callback within 3 s`);
    }
    const st = dmaengineTxStatus(chan, c.cookie);
    kitUnmap(k, chan, c);
    if (st !== DMA_COMPLETE) return add("memcpy", chan.name, "fail", `${what}: tx_status ${DMA_STATUS_NAMES[st] ?? st} after the callback`);
    if (c.result !== DMA_TRANS_NOERROR) return add("memcpy", chan.name, "fail", `${what}: callback result ${errName(c.result)}`);
    const bad = kitVerify(k, c);
    if (bad !== null) return add("memcpy", chan.name, "fail", `${what}: ${bad}`);
    n++;
  }
  add("memcpy", chan.name, "pass", `${n} sizes and alignments (copy_align ${align}), verified byte for byte with guard bytes`);
}

function kitInFlight(k: KitMachine, chan: DmaChan, n: number, add: Add): void {
  const log: KitCopy[] = [];
  const copies: KitCopy[] = [];
  for (let i = 0; i < n; i++) {
    const len = PAGE_SIZE * (1 + (i % 3));
    const c = kitSubmit(k, chan, i * 3 * PAGE_SIZE, (k.dstBase + i * 3) * PAGE_SIZE, len, log);
    if (typeof c === "string") return add("in-flight", chan.name, "fail", `descriptor ${i}: ${c}`);
    copies.push(c);
  }
  dmaAsyncIssuePending(chan);
  const ok = k.wait(() => copies.every((c) => c.calls > 0));
  k.drain();
  for (const c of copies) kitUnmap(k, chan, c);
  if (!ok) {
    dmaengineTerminateSync(chan);
    return add("in-flight", chan.name, "fail", `${copies.filter((c) => c.calls === 0).length} of ${n} callbacks never ran (3 s)`);
  }
  const twice = copies.findIndex((c) => c.calls !== 1);
  if (twice >= 0) return add("in-flight", chan.name, "fail", `descriptor ${twice}'s callback ran ${copies[twice]!.calls} times`);
  const noOrder = dmaHasCap(DMA_COMPLETION_NO_ORDER, chan.device.capMask);
  const outOfOrder = copies.findIndex((c, i) => c.order !== i);
  if (outOfOrder >= 0 && !noOrder) return add("in-flight", chan.name, "fail", `descriptor ${outOfOrder} completed ${copies[outOfOrder]!.order}th: completion out of cookie order without DMA_COMPLETION_NO_ORDER`);
  for (let i = 0; i < n; i++) {
    const bad = kitVerify(k, copies[i]!);
    if (bad !== null) return add("in-flight", chan.name, "fail", `descriptor ${i}: ${bad}`);
  }
  add("in-flight", chan.name, "pass", `${n} descriptors issued at once: each callback once, in cookie order, data verified`);
}

function kitMemcpySg(k: KitMachine, chan: DmaChan, align: number, add: Add): void {
  if (!dmaHasCap(DMA_MEMCPY_SG, chan.device.capMask)) return add("memcpy_sg", chan.name, "skip", "the device does not advertise DMA_MEMCPY_SG");
  const a = Math.max(1, align);
  const up = (x: number) => Math.ceil(x / a) * a;
  // Whole scattered pages, then entries of varied aligned lengths at varied aligned offsets.
  const layouts: Array<Array<[number, number, number]>> = [
    [0, 1, 2, 3].map(() => [PAGE_SIZE, 0, 0]),
    [0, 1, 2, 3].map((i) => [up(300 + 900 * i), up(36 * i), up(100 * (3 - i))]),
  ];
  for (const [n, layout] of layouts.entries()) {
    const err = kitSgOnce(k, chan, layout, 1000 + n * 64);
    if (err !== null) return add("memcpy_sg", chan.name, "fail", `layout ${n}: ${err}`);
  }
  add("memcpy_sg", chan.name, "pass", "2 layouts of 4 scattered entries per side (whole pages; varied lengths and offsets), verified");
}

/** One memcpy_sg transaction: entry i copies `len` bytes at src page offset `so` to dst page offset `doff`. */
function kitSgOnce(k: KitMachine, chan: DmaChan, layout: ReadonlyArray<[number, number, number]>, firstPage: number): string | null {
  const dev = dmaengineGetDmaDevice(chan);
  const n = layout.length;
  const src = new SgTable(k.core);
  const dst = new SgTable(k.core);
  sgAllocTable(src, n);
  sgAllocTable(dst, n);
  const copies: KitCopy[] = [];
  for (let i = 0; i < n; i++) {
    const [len, so, doff] = layout[i]!;
    // Scattered on both sides, in opposite orders.
    const sp = firstPage + i * 5;
    const dp = k.dstBase + firstPage + (n - i) * 7;
    sgSetPage(src, i, sp, len, so);
    sgSetPage(dst, i, dp, len, doff);
    k.mem.fillPages(dp, 1, DST_FILL);
    const data = k.randomFill(sp * PAGE_SIZE + so, len);
    copies.push({ srcAddr: sp * PAGE_SIZE + so, dstAddr: dp * PAGE_SIZE + doff, len, data, srcBus: 0, dstBus: 0, srcMapLen: PAGE_SIZE, dstMapLen: PAGE_SIZE, cookie: 0, calls: 0, result: 0, order: -1 });
  }
  if (dmaMapSgtable(dev, src, DMA_TO_DEVICE) !== 0) return "dma_map_sgtable(src) failed";
  if (dmaMapSgtable(dev, dst, DMA_FROM_DEVICE) !== 0) {
    dmaUnmapSgtable(dev, src, DMA_TO_DEVICE);
    return "dma_map_sgtable(dst) failed";
  }
  const done = Object.assign(copies[0]!, { log: [] as KitCopy[] });
  const tx = dmaenginePrepDmaMemcpySg(chan, dst, dst.nents, src, src.nents, DMA_CTRL_ACK | DMA_PREP_INTERRUPT);
  let err: string | null = null;
  if (tx === null) err = "device_prep_dma_memcpy_sg returned NULL";
  else {
    tx.callbackResult = kitCallback;
    tx.callbackParam = done;
    dmaengineSubmit(tx);
    dmaAsyncIssuePending(chan);
    if (!k.wait(() => done.calls > 0)) {
      dmaengineTerminateSync(chan);
      err = "no callback within 3 s";
    }
  }
  dmaUnmapSgtable(dev, src, DMA_TO_DEVICE);
  dmaUnmapSgtable(dev, dst, DMA_FROM_DEVICE);
  sgFreeTable(src);
  sgFreeTable(dst);
  for (let i = 0; i < n && err === null; i++) {
    const bad = kitVerify(k, copies[i]!);
    if (bad !== null) err = `entry ${i}: ${bad}`;
  }
  return err;
}

function kitPolled(k: KitMachine, chan: DmaChan, add: Add): void {
  const log: KitCopy[] = [];
  const copies: KitCopy[] = [];
  for (let i = 0; i < 4; i++) {
    const c = kitSubmit(k, chan, i * PAGE_SIZE, (k.dstBase + i) * PAGE_SIZE, PAGE_SIZE, log, DMA_CTRL_ACK);
    if (typeof c === "string") return add("polled", chan.name, "fail", c);
    copies.push(c);
  }
  const st = dmaSyncWait(chan, copies[3]!.cookie);
  for (const c of copies) kitUnmap(k, chan, c);
  if (st !== DMA_COMPLETE) {
    dmaengineTerminateSync(chan);
    return add("polled", chan.name, "fail", `dma_sync_wait() without DMA_PREP_INTERRUPT returned ${DMA_STATUS_NAMES[st] ?? st}`);
  }
  for (const c of copies) {
    const bad = kitVerify(k, c);
    if (bad !== null) return add("polled", chan.name, "fail", bad);
  }
  add("polled", chan.name, "pass", "4 descriptors without DMA_PREP_INTERRUPT completed by polling tx_status, verified");
}

function kitTerminate(k: KitMachine, chan: DmaChan, add: Add): void {
  const log: KitCopy[] = [];
  const copies: KitCopy[] = [];
  for (let i = 0; i < 16; i++) {
    const c = kitSubmit(k, chan, i * 16 * PAGE_SIZE, (k.dstBase + i * 16) * PAGE_SIZE, 16 * PAGE_SIZE, log);
    if (typeof c === "string") return add("terminate", chan.name, "fail", c);
    copies.push(c);
  }
  dmaAsyncIssuePending(chan);
  k.core.sim.runUntil(() => log.length >= 1, KIT_TIMEOUT_NS);
  const ret = dmaengineTerminateSync(chan);
  const calls = copies.reduce((a, c) => a + c.calls, 0);
  const snap = copies.map((c) => k.mem.read(c.dstAddr, c.len));
  k.drain();
  for (const c of copies) kitUnmap(k, chan, c);
  if (ret !== 0) return add("terminate", chan.name, "fail", `dmaengine_terminate_sync() returned ${ret}`);
  if (copies.reduce((a, c) => a + c.calls, 0) !== calls) return add("terminate", chan.name, "fail", "a callback ran after dmaengine_terminate_sync() returned");
  // A descriptor the engine was already moving may land late if terminate cannot stop the hardware
  // (PTDMA's terminate_all only frees software descriptors, spec 4.6): reported, not failed. A
  // second one means queued work started after the terminate, which no engine may do.
  const late = copies.flatMap((c, i) => (bytesEqual(k.mem.read(c.dstAddr, c.len), snap[i]!) ? [] : [i]));
  if (late.length > 1) return add("terminate", chan.name, "fail", `descriptors ${late.join(", ")} wrote their destinations after dmaengine_terminate_sync() returned: queued work ran after the terminate`);
  let note = "";
  if (late.length === 1) {
    add("terminate", chan.name, "warn", `descriptor ${late[0]}, in the engine at the terminate, wrote its destination after dmaengine_terminate_sync() returned: terminate does not stop the hardware, so a client that unmaps at once races a late write`);
    note = " (one late write, see the warning)";
  }
  // The channel is usable again.
  const again = kitSubmit(k, chan, 0, k.dstBase * PAGE_SIZE, PAGE_SIZE, []);
  if (typeof again === "string") return add("terminate", chan.name, "fail", `after terminate: ${again}`);
  dmaAsyncIssuePending(chan);
  const ok = k.wait(() => again.calls > 0);
  kitUnmap(k, chan, again);
  if (!ok) return add("terminate", chan.name, "fail", "the channel does not complete new work after terminate_sync");
  const bad = kitVerify(k, again);
  if (bad !== null) return add("terminate", chan.name, "fail", `after terminate: ${bad}`);
  add("terminate", chan.name, "pass", `terminate_sync after ${calls} of 16 completions: no callback afterwards, no queued descriptor started${note}, the channel works again`);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Fire one fault point once on a fresh machine and classify what the client saw. */
function kitFault(name: string, build: DmatestBuild, seed: number, fault: string, add: Add): void {
  const k = new KitMachine(name, build, seed);
  const chan = k.channels[0]!;
  const test = `fault ${fault}`;
  if (!k.request(chan)) return add(test, chan.name, "fail", "could not take the channel");
  k.core.faults.arm(fault, { times: 1 });
  const log: KitCopy[] = [];
  const c = kitSubmit(k, chan, 0, k.dstBase * PAGE_SIZE, 4 * PAGE_SIZE, log);
  if (typeof c === "string") {
    k.dma.dmaReleaseChannel(chan);
    return add(test, chan.name, "pass", `reported at submission: ${c}`);
  }
  dmaAsyncIssuePending(chan);
  const done = k.wait(() => c.calls > 0);
  const st = dmaengineTxStatus(chan, c.cookie);
  dmaengineTerminateSync(chan);
  const calls = c.calls;
  k.drain();
  kitUnmap(k, chan, c);
  k.dma.dmaReleaseChannel(chan);
  const v = k.debug.violations;
  if (v.length > 0) return add(test, chan.name, "fail", v[0]!);
  if (c.calls !== calls) return add(test, chan.name, "fail", "the callback ran after dmaengine_terminate_sync() returned");
  const bad = kitVerify(k, c);
  if (!done) return add(test, chan.name, "warn", `no completion within 3 s (tx_status ${DMA_STATUS_NAMES[st] ?? st}); terminate_sync recovered the channel state`);
  if (c.result !== DMA_TRANS_NOERROR || st === DMA_ERROR) return add(test, chan.name, "pass", `reported to the client: callback ${errName(c.result)}, tx_status ${DMA_STATUS_NAMES[st] ?? st}`);
  if (bad !== null) return add(test, chan.name, "warn", `hidden from the client: success reported but ${bad}`);
  add(test, chan.name, "pass", "the transfer completed intact (the fault does not affect data)");
}

/** The report as text: one line per case, failures first in the summary. */
export function formatDmatestReport(r: DmatestEngineReport): string {
  const out = [`dmatest ${r.engine}: ${r.channels.length} channel(s) (${r.channels.join(", ")})`];
  for (const c of r.cases) out.push(`${c.status.toUpperCase().padEnd(5)}${c.test.padEnd(28)}${c.chan.padEnd(14)}${c.detail}`);
  const count = (s: DmatestCase["status"]) => r.cases.filter((c) => c.status === s).length;
  out.push(`${r.failed === 0 ? "PASSED" : "FAILED"}: ${count("pass")} passed, ${count("fail")} failed, ${count("warn")} warnings, ${count("skip")} skipped`);
  return out.join("\n");
}
