/**
 * One benchmark point, as the published runs did it: a process with `totalBytes` of anonymous memory
 * in folios of one size on node 0 calls move_pages() to move it to node 1, `perCall` folios (one
 * address per folio) per call, and the throughput is bytes moved over the virtual time of the calls.
 * The first-folio latency of every migrate_pages_batch() call is taken from tracepoints.
 */
import {
  allocMigrationTarget, FolioList, isolateFolioToList, MAP_ANONYMOUS, MAP_POPULATE, MAP_PRIVATE, MIGRATE_SYNC,
  migratePages, MR, PAGE_SIZE, PROT_READ, PROT_WRITE, putbackMovablePages, type Machine,
} from "@mmemu/mm-core";
import { Cost } from "@mmemu/kernel";
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

/** Build a machine and a populated process for a point. */
export function preparePoint(profile: HardwareProfile, spec: PointSpec, opts: WorkloadOptions = {}) {
  const fb = folioBytes(spec.folioSize);
  const nrFolios = Math.floor(spec.totalBytes / fb);
  if (nrFolios < 1) throw new RangeError(`point: totalBytes ${spec.totalBytes} is less than one ${spec.folioSize} folio`);
  const bytes = nrFolios * fb;
  const pagesPerNode = Math.ceil(bytes / PAGE_SIZE) + (1 << 13);
  const em = createMachine(profile, { pagesPerNode, seed: opts.seed ?? 1, dma: spec.config === "dcbm" });
  const m = em.m;
  m.settings.nrMaxBatchedMigration = spec.batchPages ?? 512;
  const order = FOLIO_SIZES[spec.folioSize];
  if (order > 0) m.memory.anonThp[order] = "always";
  const mm = m.createMm();
  const node0Cpus = cpusOfNode(m, 0);
  const task = m.createTask(mm, node0Cpus[0]!);
  for (let i = 1; i <= (opts.otherMmCpus ?? 1) && i < node0Cpus.length; i++) m.createTask(mm, node0Cpus[i]!);
  m.current = task;
  const addr = m.memory.mmap(mm, { len: bytes, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE });
  if (addr < 0) throw new Error(`point: mmap of ${bytes} bytes failed (${addr})`);
  if (spec.config === "dcbm") attachOffload(em, spec.channels ?? 1);
  return { em, m, mm, addr, bytes, nrFolios, fb };
}

function cpusOfNode(m: Machine, nid: number): number[] {
  const out: number[] = [];
  for (let c = 0; c < m.nrCpus; c++) if (m.mem.cpuToNode(c) === nid) out.push(c);
  return out;
}

/**
 * Stand-in for the move_pages(2) syscall until @mmemu/move-pages lands, keeping the per-call
 * semantics of spec kernel-migration.md 1.10 for this workload (every entry valid, all to one node):
 * lru_cache_disable() for the call, each entry looked up and its folio isolated, one migrate_pages()
 * of the gathered list with MIGRATE_SYNC and MR_SYSCALL, putback of what failed.
 */
export function movePagesCall(m: Machine, mm: ReturnType<Machine["createMm"]>, addrs: Float64Array, from: number, to: number, node: number): number {
  m.charge(Cost.SYSCALL, 1);
  m.charge(Cost.LRU_CACHE_DISABLE, 1);
  const list = new FolioList(to - from);
  for (let i = from; i < to; i++) {
    m.charge(Cost.PAGE_LOOKUP, 1);
    const pfn = m.memory.translate(mm, addrs[i]!);
    if (pfn < 0) continue;
    const folio = m.folios.folioOf(pfn);
    if (m.mem.nodeOfPfn[folio] === node) continue;
    isolateFolioToList(m, folio, list);
  }
  if (list.empty) return 0;
  const rc = migratePages(m, list, (src) => allocMigrationTarget(m, src, { nid: node, thisNode: true }), null, MIGRATE_SYNC, MR.SYSCALL);
  if (rc !== 0) putbackMovablePages(m, list);
  return rc;
}

/** Run one point on a profile. Deterministic: the same profile, spec and seed give the same result. */
export function runPoint(profile: HardwareProfile, spec: PointSpec, opts: WorkloadOptions = {}): PointResult {
  const { em, m, mm, addr, bytes, nrFolios, fb } = preparePoint(profile, spec, opts);
  return runPrepared(em, mm, addr, bytes, nrFolios, fb, spec);
}

function runPrepared(em: EmulatedMachine, mm: ReturnType<Machine["createMm"]>, addr: number, bytes: number, nrFolios: number, fb: number, spec: PointSpec): PointResult {
  const m = em.m;
  const addrs = new Float64Array(nrFolios);
  for (let i = 0; i < nrFolios; i++) addrs[i] = addr + i * fb;
  const perCall = Math.max(1, Math.min(spec.perCall ?? nrFolios, nrFolios));
  const probe = probeFirstFolio(m.core.trace);
  const t0 = m.sim.now;
  const w0 = performance.now();
  let calls = 0;
  for (let i = 0; i < nrFolios; i += perCall) {
    const rc = movePagesCall(m, mm, addrs, i, Math.min(nrFolios, i + perCall), 1);
    if (rc !== 0) throw new Error(`move_pages: ${rc} folios not migrated (${spec.config} ${spec.folioSize})`);
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
