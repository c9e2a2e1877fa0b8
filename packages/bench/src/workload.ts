/**
 * One benchmark point, as the published runs did it: a process with `totalBytes` of anonymous memory
 * in folios of one size on node 0 calls move_pages(2) (@mmemu/move-pages) to move it to node 1,
 * `perCall` folios (one address per folio, kernel-migration.md 1.10) per call, and the throughput is
 * bytes moved over the virtual time of the calls. The pages, nodes and status arrays live in the
 * process's memory, written before the first call. The first-folio latency of every
 * migrate_pages_batch() call is taken from tracepoints.
 */
import { MAP_ANONYMOUS, MAP_POPULATE, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE, vmstatCounters, type Machine } from "@mmemu/mm-core";
import { phaseBreakdown, phaseSnapshot, type PhaseBreakdown, type TraceSession } from "@mmemu/trace";
import { migrateOffloadOf, type MigratorInstance } from "@mmemu/driver-kit";
import { kernelMovePages, mmapUserArea, MPOL_MF_MOVE, readUserInts, TaskTable, writeUserArray, type TaskStruct } from "@mmemu/move-pages";
import type { HardwareProfile } from "@mmemu/timing";
import { BUILTIN_COMPONENTS, createMachineWith, pluginError, throwIfOops, type Components, type EmulatedMachine } from "@mmemu/components";
import { median, probeFirstFolio } from "./first-folio.js";
import { attachOffload } from "./offload.js";

/** Folio sizes of the published tables and their orders. */
export const FOLIO_SIZES = { "4K": 0, "16K": 2, "64K": 4, "256K": 6, "1M": 8, "2M": 9 } as const;
export type FolioSizeName = keyof typeof FOLIO_SIZES;
export const FOLIO_SIZE_NAMES = Object.keys(FOLIO_SIZES) as readonly FolioSizeName[];

export function folioBytes(size: FolioSizeName): number {
  return PAGE_SIZE << FOLIO_SIZES[size];
}

export const GiB = 2 ** 30;

/** What one point runs. */
export interface PointSpec {
  /**
   * "vanilla": no migrator registered, CPU copy per folio; "dcbm": the offload configuration of the
   * published tables, run with the loaded migrator (dcbm unless `--migrator` names another).
   */
  readonly config: "vanilla" | "dcbm";
  /** DMA channels (dcbm's nr_dma_chan, the migrator's channelsAttr); null for vanilla. */
  readonly channels: number | null;
  readonly folioSize: FolioSizeName;
  /** Bytes moved in total. */
  readonly totalBytes: number;
  /** Folios passed to each move_pages() call. @default all in one call */
  readonly perCall?: number;
  /** NR_MAX_BATCHED_MIGRATION in base pages. @default 512 */
  readonly batchPages?: number;
}

/** Workload facts that are not hardware (documented in docs/timing.md). */
export interface WorkloadOptions {
  /** PRNG seed of the machine. @default 1 */
  readonly seed?: number;
  /**
   * CPUs in the benchmark process's mm_cpumask besides the one it runs on (threads or past runs on
   * other CPUs): they make try_to_unmap_flush() a shootdown with IPIs. @default 1
   */
  readonly otherMmCpus?: number;
  /** Fail the point when a batch the migrator should have copied fell back to the CPU. @default false */
  readonly strictOffload?: boolean;
}

export interface PointResult {
  /**
   * Throughput in the unit of the series' tables, which label it GB/s: 2^30 bytes per second of
   * virtual time (GiB/s; docs/timing.md, **Units**). Profile bandwidths stay in 10^9 bytes/s.
   */
  readonly GBps: number;
  /** Median first-folio latency over the run's migrate_pages_batch() calls, in microseconds. */
  readonly firstUs: number;
  readonly virtualNs: number;
  readonly calls: number;
  readonly batches: number;
  readonly folios: number;
  /** Wall time of the migration calls alone (host ms). */
  readonly wallMs: number;
  /** Folios the CPU copied although their batch went to the migrator, by cause ({} without one). */
  readonly fallback: Readonly<Record<string, number>>;
  /** With `strictOffload`: one line per batch that fell back (the first 20). */
  readonly strictFailures: readonly string[];
  /** Where the calls' virtual time went, by phase (ns); the parts add up to virtualNs. */
  readonly phases: PhaseBreakdown;
  /** /proc/vmstat's migration lines after the run. */
  readonly vmstat: Record<string, number>;
  /** The migrator's and the engines' own statistics (dcbm, each PTDMA function used, dmaengine). */
  readonly stats: Record<string, Record<string, number>>;
}

/** A machine with the benchmark process, its populated memory and its move_pages() arrays. */
export interface PreparedPoint {
  readonly em: EmulatedMachine;
  readonly m: Machine;
  readonly mm: ReturnType<Machine["createMm"]>;
  /** The process (a root task on node 0's first CPU) and its task table. */
  readonly tasks: TaskTable;
  readonly proc: TaskStruct;
  /** Start of the folios' mapping, bytes mapped, folios and bytes per folio. */
  readonly addr: number;
  readonly bytes: number;
  readonly nrFolios: number;
  readonly fb: number;
  /** User addresses of the pages (one pointer per folio), nodes (all 1) and status arrays. */
  readonly pagesArg: number;
  readonly nodesArg: number;
  readonly statusArg: number;
  /** The loaded migrator module (offload points). */
  readonly migrator: MigratorInstance | null;
  /** Plug-in files loaded (a plug-in that throws is reported with its frames in these). */
  readonly pluginFiles: readonly string[];
}

/** Build a machine (with the loaded components) and a populated process for a point. */
export function preparePoint(profile: HardwareProfile, spec: PointSpec, opts: WorkloadOptions = {}, components: Components = BUILTIN_COMPONENTS): PreparedPoint {
  const fb = folioBytes(spec.folioSize);
  const nrFolios = Math.floor(spec.totalBytes / fb);
  if (nrFolios < 1) throw new RangeError(`point: totalBytes ${spec.totalBytes} is less than one ${spec.folioSize} folio`);
  const bytes = nrFolios * fb;
  // The folios, the three argument arrays (16 bytes per folio) and slack for page tables and rings.
  const pagesPerNode = Math.ceil(bytes / PAGE_SIZE) + Math.ceil((16 * nrFolios) / PAGE_SIZE) + (1 << 13);
  const dma = spec.config === "dcbm" && components.migrator.usesDma;
  const em = createMachineWith(profile, components.engines, { pagesPerNode, seed: opts.seed ?? 1, dma });
  const m = em.m;
  m.settings.nrMaxBatchedMigration = spec.batchPages ?? 512;
  const order = FOLIO_SIZES[spec.folioSize];
  if (order > 0) m.memory.anonThp[order] = "always";
  const node0Cpus = cpusOfNode(m, 0);
  const tasks = new TaskTable(m);
  const proc = tasks.createProcess({ name: "bench", cpu: node0Cpus[0]! });
  for (let i = 1; i <= (opts.otherMmCpus ?? 1) && i < node0Cpus.length; i++) tasks.createThread(proc, { cpu: node0Cpus[i]! });
  const mm = proc.mm!;
  m.current = proc.ctx;
  const addr = m.memory.mmap(mm, { len: bytes, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE });
  if (addr < 0) throw new Error(`point: mmap of ${bytes} bytes failed (${addr})`);
  // The arrays are written by the process before it calls, so they are populated (no faults in the call).
  const pagesArg = mmapUserArea(tasks, proc, 8 * nrFolios);
  const nodesArg = mmapUserArea(tasks, proc, 4 * nrFolios);
  const statusArg = mmapUserArea(tasks, proc, 4 * nrFolios);
  const ptrs = new Float64Array(nrFolios);
  for (let i = 0; i < nrFolios; i++) ptrs[i] = addr + i * fb;
  tasks.withCurrent(proc, () => {
    writeUserArray(tasks, proc, pagesArg, ptrs, 8);
    writeUserArray(tasks, proc, nodesArg, new Int32Array(nrFolios).fill(1), 4);
    writeUserArray(tasks, proc, statusArg, new Int32Array(nrFolios), 4);
  });
  m.current = proc.ctx;
  const migrator = spec.config === "dcbm" ? attachOffload(em, components.migrator, spec.channels ?? 1) : null;
  const off = migrator !== null ? migrateOffloadOf(m) : null;
  if (off !== null) off.strict = opts.strictOffload === true;
  return { em, m, mm, tasks, proc, addr, bytes, nrFolios, fb, pagesArg, nodesArg, statusArg, migrator, pluginFiles: components.files };
}

/**
 * move_pages(0, to - from, &pages[from], &nodes[from], &status[from], MPOL_MF_MOVE) by the benchmark
 * process: folios from..to-1 to node 1. Returns the syscall's result (0 when every folio moved).
 */
export function movePages(pp: PreparedPoint, from: number, to: number): number {
  return kernelMovePages(pp.tasks, pp.proc, 0, to - from, pp.pagesArg + 8 * from, pp.nodesArg + 4 * from, pp.statusArg + 4 * from, MPOL_MF_MOVE);
}

/** The status array entries from..to-1 as the process reads them back. */
export function readStatus(pp: PreparedPoint, from: number, to: number): Array<number | null> {
  return pp.tasks.withCurrent(pp.proc, () => readUserInts(pp.tasks, pp.proc, pp.statusArg + 4 * from, to - from));
}

function cpusOfNode(m: Machine, nid: number): number[] {
  const out: number[] = [];
  for (let c = 0; c < m.nrCpus; c++) if (m.mem.cpuToNode(c) === nid) out.push(c);
  return out;
}

/**
 * Run one point on a profile. Deterministic: the same profile, spec, seed and components give the same
 * result. With a trace session, the migration calls are recorded (the machine's setup is not).
 */
export function runPoint(profile: HardwareProfile, spec: PointSpec, opts: WorkloadOptions = {}, components: Components = BUILTIN_COMPONENTS, trace?: TraceSession): PointResult {
  return runPrepared(preparePoint(profile, spec, opts, components), spec, trace);
}

/**
 * The offload core's, the migrator's and the engines' statistics of a prepared point, by component:
 * the core's counters, the migrator module's numeric sysfs attributes (what /sys/module/<name>/ shows),
 * dmaengine's counters, and each engine instance's `stats` (the PTDMA functions' hardware counters).
 */
export function componentStats(pp: PreparedPoint): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  const off = migrateOffloadOf(pp.m);
  if (off !== null) out.migrate_offload = offloadCounters(off.stats);
  if (pp.migrator !== null) {
    const attrs: Record<string, number> = {};
    for (const a of pp.migrator.attrs) {
      const v = pp.migrator.sysfsRead(a);
      if (typeof v === "string" && /^-?\d+\n?$/.test(v)) attrs[a] = Number(v);
    }
    out[off?.active?.name ?? "migrator"] = attrs;
  }
  if (pp.em.dmaengine !== null) out.dmaengine = { ...pp.em.dmaengine.stats };
  for (const [mod, instances] of pp.em.engines) {
    instances.forEach((inst, i) => {
      const st = engineStats(inst);
      if (st !== null && Object.values(st).some((v) => v !== 0)) out[`${mod}${i}`] = st;
    });
  }
  return out;
}

/**
 * The offload core's numeric counters; its fallbacks by cause are reported apart (PointResult.fallback),
 * and also flattened here as fallback_<cause> so every component's counters stay plain numbers.
 */
export function offloadCounters(st: object): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(st)) {
    if (typeof v === "number") out[k] = v;
    else if (k === "fallbackFolios" && v !== null && typeof v === "object") {
      for (const [cause, n] of Object.entries(v)) if (typeof n === "number") out[`fallback_${cause}`] = n;
    }
  }
  return out;
}

/** The numeric counters an engine instance exposes as `stats` (or its hardware's, `hw.stats`). */
function engineStats(inst: object): Record<string, number> | null {
  const o = inst as { stats?: unknown; hw?: { stats?: unknown } };
  const st = (o.stats ?? o.hw?.stats) as Record<string, unknown> | undefined;
  if (st === undefined || st === null || typeof st !== "object") return null;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(st)) if (typeof v === "number") out[k] = v;
  return out;
}

export function runPrepared(pp: PreparedPoint, spec: PointSpec, trace?: TraceSession): PointResult {
  const { m, bytes, nrFolios } = pp;
  const perCall = Math.max(1, Math.min(spec.perCall ?? nrFolios, nrFolios));
  const probe = probeFirstFolio(m.core.trace);
  trace?.attach(m);
  const phases0 = phaseSnapshot(m.sim);
  const t0 = m.sim.now;
  const w0 = performance.now();
  let calls = 0;
  for (let i = 0; i < nrFolios; i += perCall) {
    const to = Math.min(nrFolios, i + perCall);
    let rc: number;
    try {
      rc = movePages(pp, i, to);
    } catch (e) {
      // A device model's event (or anything of a plug-in's) threw: this point's machine is abandoned.
      throw pluginError(e, "a plug-in, during move_pages");
    }
    throwIfOops(m, pp.pluginFiles, pp.em.dmaengine);
    if (rc !== 0) {
      const bad = readStatus(pp, i, to).filter((st) => st !== 1).slice(0, 5);
      throw new Error(`move_pages: returned ${rc} (${spec.config} ${spec.folioSize}); statuses other than node 1: ${bad.join(", ")}`);
    }
    calls++;
  }
  const wallMs = performance.now() - w0;
  const virtualNs = m.sim.now - t0;
  const phases = phaseBreakdown(phases0, phaseSnapshot(m.sim));
  probe.stop();
  trace?.recorder.detach();
  const offload = migrateOffloadOf(m);
  return {
    fallback: { ...offload?.stats.fallbackFolios },
    strictFailures: offload === null ? [] : [...offload.strictFailures],
    phases,
    vmstat: Object.fromEntries(vmstatCounters(m)),
    stats: componentStats(pp),
    GBps: (bytes / GiB) / (virtualNs / 1e9),
    firstUs: median(probe.latencies) / 1000,
    virtualNs,
    calls,
    batches: probe.latencies.length,
    folios: nrFolios,
    wallMs,
  };
}
