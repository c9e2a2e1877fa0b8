/**
 * One benchmark point, as the published runs did it: a process with `totalBytes` of anonymous memory
 * in folios of one size on node 0 calls move_pages(2) (@mmemu/move-pages) to move it to node 1,
 * `perCall` folios (one address per folio, kernel-migration.md 1.10) per call, and the throughput is
 * bytes moved over the virtual time of the calls. The pages, nodes and status arrays live in the
 * process's memory, written before the first call. The first-folio latency of every
 * migrate_pages_batch() call is taken from tracepoints.
 */
import { MAP_ANONYMOUS, MAP_POPULATE, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE, type Machine } from "@mmemu/mm-core";
import { kernelMovePages, mmapUserArea, MPOL_MF_MOVE, readUserInts, TaskTable, writeUserArray, type TaskStruct } from "@mmemu/move-pages";
import { createMachine, type HardwareProfile, type EmulatedMachine } from "@mmemu/timing";
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
  /** "vanilla": no migrator registered, CPU copy per folio; "dcbm": the DMA batch migrator. */
  readonly config: "vanilla" | "dcbm";
  /** DMA channels (dcbm's nr_dma_chan); null for vanilla. */
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
}

export interface PointResult {
  readonly GBps: number;
  /** Median first-folio latency over the run's migrate_pages_batch() calls, in microseconds. */
  readonly firstUs: number;
  readonly virtualNs: number;
  readonly calls: number;
  readonly batches: number;
  readonly folios: number;
  /** Wall time of the migration calls alone (host ms). */
  readonly wallMs: number;
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
}

/** Build a machine and a populated process for a point. */
export function preparePoint(profile: HardwareProfile, spec: PointSpec, opts: WorkloadOptions = {}): PreparedPoint {
  const fb = folioBytes(spec.folioSize);
  const nrFolios = Math.floor(spec.totalBytes / fb);
  if (nrFolios < 1) throw new RangeError(`point: totalBytes ${spec.totalBytes} is less than one ${spec.folioSize} folio`);
  const bytes = nrFolios * fb;
  // The folios, the three argument arrays (16 bytes per folio) and slack for page tables and rings.
  const pagesPerNode = Math.ceil(bytes / PAGE_SIZE) + Math.ceil((16 * nrFolios) / PAGE_SIZE) + (1 << 13);
  const em = createMachine(profile, { pagesPerNode, seed: opts.seed ?? 1, dma: spec.config === "dcbm" });
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
  if (spec.config === "dcbm") attachOffload(em, spec.channels ?? 1);
  return { em, m, mm, tasks, proc, addr, bytes, nrFolios, fb, pagesArg, nodesArg, statusArg };
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

/** Run one point on a profile. Deterministic: the same profile, spec and seed give the same result. */
export function runPoint(profile: HardwareProfile, spec: PointSpec, opts: WorkloadOptions = {}): PointResult {
  return runPrepared(preparePoint(profile, spec, opts), spec);
}

function runPrepared(pp: PreparedPoint, spec: PointSpec): PointResult {
  const { m, bytes, nrFolios } = pp;
  const perCall = Math.max(1, Math.min(spec.perCall ?? nrFolios, nrFolios));
  const probe = probeFirstFolio(m.core.trace);
  const t0 = m.sim.now;
  const w0 = performance.now();
  let calls = 0;
  for (let i = 0; i < nrFolios; i += perCall) {
    const to = Math.min(nrFolios, i + perCall);
    const rc = movePages(pp, i, to);
    if (rc !== 0) {
      const bad = readStatus(pp, i, to).filter((st) => st !== 1).slice(0, 5);
      throw new Error(`move_pages: returned ${rc} (${spec.config} ${spec.folioSize}); statuses other than node 1: ${bad.join(", ")}`);
    }
    calls++;
  }
  const wallMs = performance.now() - w0;
  const virtualNs = m.sim.now - t0;
  probe.stop();
  return {
    GBps: bytes / virtualNs,
    firstUs: median(probe.latencies) / 1000,
    virtualNs,
    calls,
    batches: probe.latencies.length,
    folios: nrFolios,
    wallMs,
  };
}
