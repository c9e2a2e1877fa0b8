import {
  checkParams, Cost, defineParamSection, EAGAIN, EINVAL, ENOENT, ENOMEM, paramDefaults,
  type FaultPoint, type ParamTable, type ParamValues, type Tracepoint,
} from "@mmemu/kernel";
import { FOLIO_CONTENT_COPIED, PAGE_SIZE, type Machine } from "@mmemu/mm-core";
import type { Fabric } from "@mmemu/platform";
import {
  kernelLog, kstrtoint, kstrtouint, migrateOffloadInit, migrateOffloadOf, migrateOffloadRegister,
  migrateOffloadUnregister, Module, moduleBeginUnload, type KernelLog, type Migrator,
} from "@mmemu/offload-api";

/**
 * mtcopy, the multi-threaded CPU batch copier of the series' V2/V3 postings (Zi Yan's
 * drivers/migoffcopy/mtcopy/copy_pages.c, migrator "CPU_MT_COPY"; dropped from V4). A batch is
 * divided among `threads` work items queued on chosen CPUs; each copies its share with
 * copy_mc_to_kernel(); the caller joins them all with flush_work(). Here it plugs into the V4-V6
 * registration API (the V2/V3 one differed only in names).
 *
 * Timing: each work item is virtual-time work on its CPU, so the workers overlap; their copies are
 * fabric flows at the CPU copy rate (cpu.cpu_copy_bw, the vanilla copy's parameter) that share node
 * memory and cross-socket bandwidth with each other and with DMA engines, as real parallel copies do.
 * Only the queueing and joining (Cost.WORK_QUEUE per item) is charged to the migrating task.
 */

/** Mirrors MAX_NUM_COPY_THREADS. */
export const MAX_NUM_COPY_THREADS = 32;

/** cpu_id_list_0: cpuselect 0 spreads workers across dies (CPU 0, 8, 16, ... on a Zen 3 with 8-core CCDs). */
export const CPU_ID_LIST_SPREAD: readonly number[] = Object.freeze(Array.from({ length: MAX_NUM_COPY_THREADS }, (_, i) => i * 8));
/** cpu_id_list_1: cpuselect 1 fills one die first (CPU 0, 1, 2, ...). */
export const CPU_ID_LIST_FILL: readonly number[] = Object.freeze(Array.from({ length: MAX_NUM_COPY_THREADS }, (_, i) => i));

export const MTCOPY_PARAMS = {
  worker_wakeup: {
    unit: "ns", default: 2000, min: 0, max: 1_000_000, integer: true,
    doc: "From queue_work_on() until the kworker on the target CPU starts the item (an idle CPU waking up).",
    source: "No public figure; a few microseconds is typical of an idle-CPU wakeup [U].",
  },
} as const satisfies ParamTable;

/** mtcopy's profile section. */
export const MTCOPY_SECTION = defineParamSection("mtcopy", "The multi-threaded CPU copy migrator (cpu_mt): worker wake-up (its copies run through the fabric at cpu.cpu_copy_bw)", MTCOPY_PARAMS);

export type MtcopyParams = ParamValues<typeof MTCOPY_PARAMS>;

export interface MtcopyOptions {
  /**
   * The machine's fabric: every worker copy is a flow at the CPU copy rate (cpu.cpu_copy_bw, the same
   * parameter as the vanilla copy) sharing memory and link bandwidth with DMA and the other workers.
   */
  readonly fabric: Fabric;
  /** Overrides of {@link MTCOPY_PARAMS}. */
  readonly params?: Readonly<Partial<Record<keyof typeof MTCOPY_PARAMS, number>>>;
}

/** Counters (one record, every counter listed up front). */
export interface MtcopyStats {
  batches: number;
  /** Batches cut into per-folio slices (fewer folios than threads). */
  slicedBatches: number;
  workItems: number;
  bytes: number;
  /** Work items that hit a machine check (copy_mc_to_kernel() left bytes uncopied). */
  workerErrors: number;
  allocFailures: number;
}

/** Mirrors struct copy_page_info: one work item, its share of the batch, and its result. */
class CopyPageInfo {
  /** Index in the batch (work_items[index]). */
  index = 0;
  cpu = 0;
  /** Contiguous mode: pairs [first, first + count). Sliced mode: every pair, slice `slice` of each. */
  first = 0;
  count = 0;
  slice = -1;
  chunk = 0;
  ret = 0;
  done = false;
  // Node-pair segments of the item's copy, run one after another.
  segSrc: number[] = [];
  segDst: number[] = [];
  segBytes: number[] = [];
  seg = 0;
  owner: Mtcopy;
  batch: MtBatch;
  constructor(owner: Mtcopy, batch: MtBatch) {
    this.owner = owner;
    this.batch = batch;
  }
}

/**
 * One copy_page_lists_mt() call's own state: the kernel allocates its work items and takes its lists
 * per call, so a second migration's call (another task's, while this one sleeps in flush_work) never
 * shares them. Pooled per nesting level, so a batch allocates nothing after the first.
 */
class MtBatch {
  readonly workers: CopyPageInfo[] = [];
  dst: Int32Array = new Int32Array(0);
  src: Int32Array = new Int32Array(0);
  /** Work items of this call (limit_mt_num when it started) and how many have run. */
  total = 0;
  nDone = 0;
}

function onWorkerStart(w: CopyPageInfo): void {
  w.owner.runSegment(w);
}

function onSegmentDone(w: CopyPageInfo): void {
  w.seg++;
  w.owner.runSegment(w);
}

export const MTCOPY_SYSFS_ATTRS = ["offloading", "threads", "cpuselect"] as const;
/** The attributes under /sys/kernel/cpu_mt/. */
export type MtcopyAttr = (typeof MTCOPY_SYSFS_ATTRS)[number];

export class Mtcopy {
  readonly m: Machine;
  readonly params: MtcopyParams;
  readonly module = new Module("mtcopy");
  /** The struct migrator ("CPU_MT_COPY"). */
  readonly migrator: Migrator;
  readonly stats: MtcopyStats = { batches: 0, slicedBatches: 0, workItems: 0, bytes: 0, workerErrors: 0, allocFailures: 0 };
  /** Fault point: the GFP_NOWAIT allocation of a work item fails (-ENOMEM). */
  readonly workAllocFail: FaultPoint;
  readonly tpBatch: Tracepoint<{ nr_folios: number; threads: number; sliced: boolean; ret: number; ns: number }>;
  readonly tpWorker: Tracepoint<{ worker: number; cpu: number; items: number; bytes: number; ret: number }>;
  private readonly fabric: Fabric;
  private readonly log: KernelLog;
  private limitMtNum = 4;
  private cpuselectValue = 0;
  private cpuIdList: readonly number[] = CPU_ID_LIST_SPREAD;
  private isDispatching = false;
  /** The batches of calls in flight, one per nesting level (a call started during another's flush_work). */
  private readonly batches: MtBatch[] = [];
  private depth = 0;
  /** Per CPU: work items waiting for it (a CPU runs one at a time). */
  private readonly cpuQueue: CopyPageInfo[][] = [];
  private readonly cpuBusy: boolean[] = [];
  // The batch being copied (valid during copyPageListsMt).

  /** Mirrors cpu_mt_module_init(). */
  constructor(m: Machine, opts: MtcopyOptions) {
    this.m = m;
    const over = opts.params ?? {};
    const problems = checkParams(MTCOPY_PARAMS, over, "mtcopy");
    if (problems.length > 0) throw new RangeError(`invalid mtcopy parameters:\n  ${problems.join("\n  ")}`);
    this.params = { ...paramDefaults(MTCOPY_PARAMS), ...over } as MtcopyParams;
    this.fabric = opts.fabric;
    migrateOffloadInit(m);
    this.log = kernelLog(m.core);
    this.workAllocFail = m.core.faults.define("mtcopy.work_alloc", "mtcopy's GFP_NOWAIT work-item allocation fails (-ENOMEM)");
    this.tpBatch = m.core.trace.define("mtcopy_batch");
    this.tpWorker = m.core.trace.define("mtcopy_worker");
    this.migrator = { name: "CPU_MT_COPY", offloadCopy: (dst, src, n) => this.copyPageListsMt(dst, src, n), owner: this.module };
  }

  /** rmmod cpu_mt: refused (-EAGAIN, "in use") while the migrator is registered, which pins the module. */
  rmmod(): number {
    return moduleBeginUnload(this.module);
  }

  // ---- knobs --------------------------------------------------------------------------------------

  /** /sys/kernel/cpu_mt/offloading. */
  get offloading(): boolean {
    return this.isDispatching;
  }

  /** Register (true) or unregister (false) CPU_MT_COPY; unchanged is a no-op. Returns 0 or the registration's -errno. */
  setOffloading(on: boolean): number {
    if (on === this.isDispatching) return 0;
    if (on) {
      const ret = migrateOffloadRegister(this.m, this.migrator);
      if (ret !== 0) return ret;
      this.isDispatching = true;
    } else {
      migrateOffloadUnregister(this.m, this.migrator);
      this.isDispatching = false;
    }
    return 0;
  }

  /** /sys/kernel/cpu_mt/threads (limit_mt_num). */
  get threads(): number {
    return this.limitMtNum;
  }

  /** Mirrors mt_threads_set(): 1..MAX_NUM_COPY_THREADS, else -EINVAL. */
  setThreads(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > MAX_NUM_COPY_THREADS) return -EINVAL;
    this.limitMtNum = n;
    return 0;
  }

  /** /sys/kernel/cpu_mt/cpuselect. */
  get cpuselect(): number {
    return this.cpuselectValue;
  }

  /** Mirrors mt_cpuselect_set(): 1 fills a die, anything else spreads (the value is kept as written). */
  setCpuselect(v: number): number {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) return -EINVAL;
    this.cpuselectValue = v;
    this.cpuIdList = v === 1 ? CPU_ID_LIST_FILL : CPU_ID_LIST_SPREAD;
    return 0;
  }

  /**
   * The CPU the i-th work item is queued on: cpu_id_list[i]. The lists assume a 256-thread machine;
   * an id this machine does not have becomes i modulo its CPU count, so workers stay on distinct
   * CPUs where there are enough (the kernel would queue on a CPU that does not exist).
   */
  cpuOfWorker(i: number): number {
    const id = this.cpuIdList[i]!;
    return id < this.m.nrCpus ? id : i % this.m.nrCpus;
  }

  /** Read an attribute as sysfs shows it, or -ENOENT. */
  sysfsRead(attr: string): string | number {
    switch (attr) {
      case "offloading":
        return `${this.isDispatching ? 1 : 0}\n`;
      case "threads":
        return `${this.limitMtNum}\n`;
      case "cpuselect":
        return `${this.cpuselectValue}\n`;
      default:
        return -ENOENT;
    }
  }

  /**
   * Write an attribute. `offloading` mirrors mt_offloading_set(): kstrtoint, 0 stops and 1 starts
   * offloading, other numbers are ignored, and the store returns sizeof(int) = 4 whatever was
   * written (a quirk of the original). `threads` and `cpuselect` parse with kstrtouint (base 0).
   */
  sysfsWrite(attr: string, buf: string): number {
    switch (attr) {
      case "offloading": {
        const out = { value: 0 };
        const ret = kstrtoint(buf, 0, out);
        if (ret < 0) return ret;
        if (out.value === 0 || out.value === 1) {
          const r = this.setOffloading(out.value === 1);
          if (r < 0) return r;
        }
        return 4;
      }
      case "threads": {
        const v = kstrtouint(buf, 0);
        if (v < 0) return v;
        const ret = this.setThreads(v);
        return ret < 0 ? ret : buf.length;
      }
      case "cpuselect": {
        const v = kstrtouint(buf, 0);
        if (v < 0) return v;
        this.setCpuselect(v);
        return buf.length;
      }
      default:
        return -ENOENT;
    }
  }

  // ---- the copy -----------------------------------------------------------------------------------

  private worker(b: MtBatch, i: number): CopyPageInfo {
    let w = b.workers[i];
    if (w === undefined) {
      w = new CopyPageInfo(this, b);
      b.workers[i] = w;
    }
    return w;
  }

  /**
   * Mirrors copy_page_lists_mt(): split the batch over `threads` work items, queue each on its CPU,
   * join them all. Fewer folios than threads: every folio is cut into `threads` equal slices and
   * worker k copies slice k of each (bytes beyond threads × floor(size / threads) are copied by
   * nobody, which the kernel only warns about). Otherwise contiguous runs, the first n % threads
   * workers one folio longer. Returns 0, -ENOMEM (a work item could not be allocated) or -EAGAIN
   * (some worker hit a machine check).
   */
  copyPageListsMt(dst: Int32Array, src: Int32Array, n: number): number {
    const b = (this.batches[this.depth] ??= new MtBatch());
    this.depth++;
    try {
      return this.copyBatch(b, dst, src, n);
    } finally {
      this.depth--;
    }
  }

  private copyBatch(b: MtBatch, dst: Int32Array, src: Int32Array, n: number): number {
    const m = this.m;
    const total = this.limitMtNum;
    const start = m.sim.now;
    this.stats.batches++;
    for (let i = 0; i < total; i++) {
      if (this.workAllocFail.armed && this.workAllocFail.shouldFail()) {
        this.stats.allocFailures++;
        return this.endBatch(n, total, false, -ENOMEM, start);
      }
    }
    const order = m.folios.order;
    const sliced = n < total;
    if (sliced) this.stats.slicedBatches++;
    let pos = 0;
    for (let i = 0; i < total; i++) {
      const w = this.worker(b, i);
      w.index = i;
      w.ret = 0;
      w.done = false;
      w.seg = 0;
      w.cpu = this.cpuOfWorker(i);
      if (sliced) {
        w.first = 0;
        w.count = n;
        w.slice = i;
      } else {
        w.first = pos;
        w.count = Math.floor(n / total) + (i < n % total ? 1 : 0);
        w.slice = -1;
        pos += w.count;
      }
      this.planSegments(w, dst, src, order, total);
    }
    if (sliced) {
      for (let i = 0; i < n; i++) {
        const bytes = PAGE_SIZE << order[src[i]!]!;
        if (bytes % total !== 0) this.log.prWarn(`WARNING: copy_page_lists_mt: folio of ${bytes} bytes does not split into ${total} equal chunks; the last ${bytes % total} bytes are not copied`);
      }
    }
    b.dst = dst;
    b.src = src;
    b.total = total;
    b.nDone = 0;
    for (let i = 0; i < total; i++) {
      m.charge(Cost.WORK_QUEUE, 1);
      this.queueWorkOn(b.workers[i]!);
    }
    // flush_work() on each item in turn: the caller sleeps until all have run.
    m.sim.runUntil(() => b.nDone === total, undefined, "mtcopy flush_work");
    let err = 0;
    for (let i = 0; i < total; i++) if (b.workers[i]!.ret !== 0) err = -EAGAIN;
    this.stats.workItems += total;
    if (err === 0 && migrateOffloadOf(m)!.series === "v6") {
      const info = m.folios.migrateInfo;
      for (let i = 0; i < n; i++) info[dst[i]!]! |= FOLIO_CONTENT_COPIED;
    }
    return this.endBatch(n, total, sliced, err, start);
  }

  private endBatch(n: number, threads: number, sliced: boolean, ret: number, start: number): number {
    if (this.tpBatch.enabled) this.tpBatch.emit({ nr_folios: n, threads, sliced, ret, ns: this.m.sim.now - start });
    return ret;
  }

  /** Group a work item's copies into runs with the same source and destination node. */
  private planSegments(w: CopyPageInfo, dst: Int32Array, src: Int32Array, order: Uint8Array, total: number): void {
    const nodes = this.m.mem.nodeOfPfn;
    w.segSrc.length = 0;
    w.segDst.length = 0;
    w.segBytes.length = 0;
    let k = -1;
    for (let i = w.first; i < w.first + w.count; i++) {
      const s = src[i]!;
      const d = dst[i]!;
      const size = PAGE_SIZE << order[s]!;
      const bytes = w.slice >= 0 ? Math.floor(size / total) : size;
      const sn = nodes[s]!;
      const dn = nodes[d]!;
      if (k >= 0 && w.segSrc[k] === sn && w.segDst[k] === dn) w.segBytes[k]! += bytes;
      else {
        w.segSrc.push(sn);
        w.segDst.push(dn);
        w.segBytes.push(bytes);
        k++;
      }
    }
  }

  /** queue_work_on(cpu, system_unbound_wq, item): the item runs when its CPU is free, after a wakeup. */
  private queueWorkOn(w: CopyPageInfo): void {
    const q = (this.cpuQueue[w.cpu] ??= []);
    q.push(w);
    if (this.cpuBusy[w.cpu] !== true) this.startNextOnCpu(w.cpu);
  }

  private startNextOnCpu(cpu: number): void {
    const q = this.cpuQueue[cpu]!;
    const w = q.shift();
    if (w === undefined) {
      this.cpuBusy[cpu] = false;
      return;
    }
    this.cpuBusy[cpu] = true;
    this.m.sim.schedule(this.params.worker_wakeup, onWorkerStart, w);
  }

  /** @internal run the work item's next copy segment, or finish it. */
  runSegment(w: CopyPageInfo): void {
    if (w.seg < w.segBytes.length) {
      const bytes = w.segBytes[w.seg]!;
      this.fabric.cpuCopy(w.segSrc[w.seg]!, w.segDst[w.seg]!, bytes, onSegmentDone, w);
      return;
    }
    this.copyItems(w);
    w.done = true;
    w.batch.nDone++;
    this.startNextOnCpu(w.cpu);
  }

  /**
   * Mirrors copy_page_work_queue_thread(): copy_mc_to_kernel() each item; a poisoned source page
   * stops that item's copy there and sets the item's error, and the loop goes on with the next.
   * The bytes land when the item's copy time has passed (the caller only looks after the join).
   */
  private copyItems(w: CopyPageInfo): void {
    const m = this.m;
    const mem = m.mem;
    const order = m.folios.order;
    const poisoned = mem.poisoned;
    const b = w.batch;
    const total = b.total;
    let bytesDone = 0;
    for (let i = w.first; i < w.first + w.count; i++) {
      const s = b.src[i]!;
      const d = b.dst[i]!;
      const size = PAGE_SIZE << order[s]!;
      let off = 0;
      let len = size;
      if (w.slice >= 0) {
        len = Math.floor(size / total);
        off = w.slice * len;
      }
      // copy_mc_to_kernel() stops at the first poisoned page of the range.
      const firstPage = Math.floor(off / PAGE_SIZE);
      const lastPage = Math.floor((off + len - 1) / PAGE_SIZE);
      let good = len;
      for (let p = firstPage; p <= lastPage; p++) {
        if (poisoned[s + p] !== 0) {
          good = Math.max(0, p * PAGE_SIZE - off);
          w.ret |= 1;
          break;
        }
      }
      if (good === len && off === 0 && len === size) mem.copyPages(d, s, size / PAGE_SIZE);
      else if (good > 0) mem.copyPhys(d * PAGE_SIZE + off, s * PAGE_SIZE + off, good);
      bytesDone += good;
    }
    this.stats.bytes += bytesDone;
    if (w.ret !== 0) this.stats.workerErrors++;
    if (this.tpWorker.enabled) this.tpWorker.emit({ worker: w.index, cpu: w.cpu, items: w.count, bytes: bytesDone, ret: w.ret });
  }
}
