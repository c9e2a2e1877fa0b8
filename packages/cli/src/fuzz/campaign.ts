/**
 * Property-based campaigns (fast-check) over whole emulated systems. Each case is a scenario: a machine
 * (2 or 3 nodes of any size, THP policy, a hugetlb pool, optionally dcbm on zen3-ptdma's PTDMA engines,
 * on example-sdxi's SDXI functions (in or out of order) or on example-ae4dma's AE4DMA queues, or mtcopy,
 * with the driver fixes on), a process with patterned regions, optional reader/writer threads,
 * move_pages/migrate_pages calls, fault points armed and disarmed around them, and syscalls with wild
 * arguments. The property: no step throws, the invariant checker sees nothing, every page still holds
 * what was written (wherever it now lives), writers lost no write, and each call fails only with an
 * errno its manual page allows. A failing case is shrunk by fast-check and written out as a scenario
 * file that reproduces it with `mmemu run`.
 */
import fc from "fast-check";
import { prepareScenarioDevices, runScenario, validateScenario, type RunResult, type StepRecord } from "@mmemu/scenario";

/**
 * The driver fixes a campaign runs dcbm with ("correct drivers"), as module parameters
 * (machine.modparams): the engine reports errors, dcbm reads every descriptor's result (a failure on a
 * descriptor other than a channel's last is otherwise never seen: the posted driver's
 * callback-on-last-only, which the first long campaign found corrupting data).
 */
export const CORRECT_DRIVER = {
  dcbm: { checkResults: true, callbackOnLastOnly: false },
  ptdma: { errorsVisibleToClient: true },
} as const;

/** Fault points a case may arm, by machine kind (all of them exist on that machine). */
export const CORE_FAULTS = ["migrate_extra_ref", "folio_trylock", "migrate_alloc_dst", "fail_page_alloc", "migrate_copy_hwpoison"] as const;
export const DCBM_FAULTS = ["ptdma.desc_error", "ptdma.bus_fault", "ptdma.hang", "ptdma.lost_irq", "ptdma.spurious_irq", "ptdma.desc_alloc", "dma.map_fail", "dma.chan_request", "dcbm.alloc_fail"] as const;
export const DCBM_SDXI_FAULTS = ["sdxi.desc_error", "sdxi.bus_fault", "sdxi.hang", "sdxi.lost_irq", "sdxi.spurious_irq", "dma.map_fail", "dma.chan_request", "dcbm.alloc_fail"] as const;
export const DCBM_AE4DMA_FAULTS = ["ae4dma.desc_error", "ae4dma.hang", "ae4dma.lost_irq", "dma.map_fail", "dma.chan_request", "dcbm.alloc_fail"] as const;
export const MTCOPY_FAULTS = ["mtcopy.work_alloc"] as const;
const EXAMPLE_PROFILE_BY_ENGINE = { ptdma: "zen3-ptdma", sdxi: "example-sdxi", ae4dma: "example-ae4dma" } as const;
const DCBM_FAULTS_BY_ENGINE = { ptdma: DCBM_FAULTS, sdxi: DCBM_SDXI_FAULTS, ae4dma: DCBM_AE4DMA_FAULTS } as const;

/** What move_pages(2) and migrate_pages(2) may fail with under faults and wild arguments (their manual pages). */
const ALLOWED_ERRNOS = ["ENOMEM", "EFAULT", "EBUSY", "EIO", "EAGAIN", "EHWPOISON", "EINVAL", "ENODEV", "ENOENT", "EPERM", "ESRCH", "E2BIG", "EACCES"];

/** Limits of a campaign case: small, so a case runs in milliseconds and can never hang. */
const CASE_LIMITS = { steps: 2000, virtualNs: 3600e9, threadAccesses: 200_000, arrayEntries: 1 << 16, machineMemory: 256 << 20 };

interface Region {
  pages: number;
  thp: boolean;
  hugetlb: boolean;
}

type Offload =
  | { migrator: "none" }
  | { migrator: "dcbm"; channels: number; engine: "ptdma" | "sdxi" | "ae4dma"; outOfOrder: boolean }
  | { migrator: "mtcopy"; threads: number };

interface FaultArm {
  point: string;
  probability: number;
  times: number;
  interval: number;
  /** Region whose first page is the folio target (folio points only), or -1. */
  targetRegion: number;
}

type Action =
  | { kind: "move"; region: number; first: number; count: number; node: number; stat: boolean }
  | { kind: "migrate"; from: number; to: number }
  | { kind: "arm"; fault: FaultArm }
  | { kind: "disarmAll" }
  | { kind: "wild"; count: string; pages: string; nodes: string | null; flags: number; pid: number };

/** One generated case (what shrinking works on). */
export interface FuzzCase {
  nodes: number[];
  thp: "always" | "madvise" | "never";
  offload: Offload;
  regions: Region[];
  thread: { kind: "read" | "write"; region: number; everyNs: number } | null;
  /** Fault points armed before the first migration. */
  faults: FaultArm[];
  actions: Action[];
  seed: number;
}

const WILD_ADDRS = ["NULL", "KERNEL", "NONCANONICAL", "TASK_SIZE", "0x1", "0xffffffffffffffff", "0x7f0000000000", "r0+1", "r0+1p"];
const WILD_COUNTS = ["0", "1", "2", "4097", "0x10000000000", "0xffffffffffffffff", "0x80000000"];

function regionArb(): fc.Arbitrary<Region> {
  return fc.record({ pages: fc.integer({ min: 1, max: 600 }), thp: fc.boolean(), hugetlb: fc.constant(false) }).chain((r) =>
    fc.oneof({ weight: 5, arbitrary: fc.constant(r) }, { weight: 1, arbitrary: fc.constant({ pages: 512, thp: false, hugetlb: true }) }));
}

function faultArb(points: readonly string[], regions: number): fc.Arbitrary<FaultArm> {
  return fc.record({
    point: fc.constantFrom(...points),
    probability: fc.constantFrom(1, 0.5, 0.1),
    times: fc.constantFrom(1, 2, 5, -1),
    interval: fc.constantFrom(1, 1, 3),
    targetRegion: fc.integer({ min: -1, max: regions - 1 }),
  });
}

function actionArb(nodes: number, regions: Region[], faults: readonly string[]): fc.Arbitrary<Action> {
  const move = fc.integer({ min: 0, max: regions.length - 1 }).chain((region) => {
    const pages = regions[region]!.pages;
    return fc.record({
      kind: fc.constant("move" as const), region: fc.constant(region), first: fc.integer({ min: 0, max: pages - 1 }),
      count: fc.integer({ min: 1, max: pages }), node: fc.integer({ min: 0, max: nodes - 1 }), stat: fc.boolean(),
    }).map((a) => ({ ...a, count: Math.min(a.count, pages - a.first) }));
  });
  return fc.oneof(
    { weight: 6, arbitrary: move },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("migrate" as const), from: fc.integer({ min: 0, max: nodes - 1 }), to: fc.integer({ min: 0, max: nodes - 1 }) }) },
    { weight: 2, arbitrary: faultArb(faults, regions.length).map((fault) => ({ kind: "arm" as const, fault })) },
    { weight: 1, arbitrary: fc.constant({ kind: "disarmAll" as const }) },
    {
      weight: 1, arbitrary: fc.record({
        kind: fc.constant("wild" as const), count: fc.constantFrom(...WILD_COUNTS), pages: fc.constantFrom(...WILD_ADDRS),
        nodes: fc.option(fc.constantFrom(...WILD_ADDRS), { nil: null }), flags: fc.constantFrom(0, 2, 4, 6, 8, -1, 0x7fffffff), pid: fc.constantFrom(0, 1, -1, 99999),
      }),
    },
  );
}

/** The arbitrary of whole cases. */
export function caseArb(): fc.Arbitrary<FuzzCase> {
  const offload: fc.Arbitrary<Offload> = fc.oneof(
    { weight: 3, arbitrary: fc.constant({ migrator: "none" as const }) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 4 }).map((channels) => ({ migrator: "dcbm" as const, channels, engine: "ptdma" as const, outOfOrder: false })) },
    // dcbm on SDXI functions (example-sdxi), whose unfenced descriptors may complete out of order.
    { weight: 1, arbitrary: fc.record({ channels: fc.integer({ min: 1, max: 4 }), outOfOrder: fc.boolean() }).map((o) => ({ migrator: "dcbm" as const, engine: "sdxi" as const, ...o })) },
    // dcbm on AE4DMA queues (example-ae4dma), several descriptors in flight per queue.
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }).map((channels) => ({ migrator: "dcbm" as const, channels, engine: "ae4dma" as const, outOfOrder: false })) },
    // Powers of two only: the posted mtcopy leaves the last size % threads bytes of a folio uncopied when
    // a batch has fewer folios than threads (it only warns), so 3 threads corrupt data by design.
    { weight: 1, arbitrary: fc.constantFrom(1, 2, 4).map((threads) => ({ migrator: "mtcopy" as const, threads })) },
  );
  return offload.chain((off) => {
    // With an offload migrator the nodes are the profile's two; otherwise two or three of any size (4 KiB multiples).
    const nodeCount = off.migrator === "none" ? fc.integer({ min: 2, max: 3 }) : fc.constant(2);
    return nodeCount.chain((n) => fc.record({
      // 16..32 MiB in 4 KiB steps: most sizes are not multiples of 2 MiB, as on real machines.
      nodes: fc.array(fc.integer({ min: 4096, max: 8191 }), { minLength: n, maxLength: n }),
      thp: fc.constantFrom("always" as const, "madvise" as const, "never" as const),
      offload: fc.constant(off),
      regions: fc.array(regionArb(), { minLength: 1, maxLength: 3 }),
      seed: fc.integer({ min: 1, max: 1 << 30 }),
    })).chain((base) => {
      const device = off.migrator === "dcbm" ? DCBM_FAULTS_BY_ENGINE[off.engine] : off.migrator === "mtcopy" ? MTCOPY_FAULTS : [];
      const faults = [...CORE_FAULTS, ...device];
      return fc.record({
        thread: fc.option(fc.record({ kind: fc.constantFrom("read" as const, "write" as const), region: fc.integer({ min: 0, max: base.regions.length - 1 }), everyNs: fc.integer({ min: 50, max: 5000 }) }), { nil: null }),
        faults: fc.array(faultArb(faults, base.regions.length), { maxLength: 2 }),
        actions: fc.array(actionArb(base.nodes.length, base.regions, faults), { minLength: 1, maxLength: 8 }),
      }).map((rest) => ({ ...base, ...rest }));
    });
  });
}

/**
 * Accesses of a reader/writer thread: enough to overlap the migrations, bounded because an injected
 * engine hang makes dcbm wait its 10 s timeout, which a thread running every 50 ns would fill.
 */
const THREAD_ACCESSES = 20_000;

/** Pages a reader/writer thread visits (at the start of its region). */
const WRITER_PAGES = 8;

const FOLIO_POINTS = new Set<string>(["migrate_extra_ref", "folio_trylock", "migrate_alloc_dst", "migrate_copy_hwpoison"]);

function pattern(region: number): string {
  return `0x${(0x5a000001 + region * 0x01010101).toString(16)}`;
}

/** The scenario of a case (also what a failure is written out as). */
export function caseScenario(c: FuzzCase): Record<string, unknown> {
  const nodes = c.nodes.map((pages, id) => ({ id, memory: `${pages}p`, cpus: 2 }));
  const steps: Array<Record<string, unknown>> = [];
  const armed = new Set<string>();
  c.regions.forEach((r, i) => {
    const len = `${r.pages}p`;
    if (r.hugetlb) steps.push({ op: "mmap", process: "p", as: `r${i}`, len: "2MiB", flags: ["PRIVATE", "ANONYMOUS", "HUGETLB"] });
    else steps.push({ op: "mmap", process: "p", as: `r${i}`, len, ...(r.pages >= 512 ? { align: "2MiB" } : {}) });
    if (r.thp && !r.hugetlb) steps.push({ op: "madvise", process: "p", addr: `r${i}`, len, advice: "HUGEPAGE" });
    steps.push({ op: "write", process: "p", addr: `r${i}`, len: r.hugetlb ? "2MiB" : len, pattern: pattern(i), expect: { fault: false } });
  });
  if (c.thread !== null) {
    const r = c.regions[c.thread.region]!;
    steps.push({ op: "spawn", process: "p", thread: "p.t", as: "t", kind: c.thread.kind, addr: `r${c.thread.region}`, pages: Math.min(r.hugetlb ? 512 : r.pages, WRITER_PAGES), everyNs: c.thread.everyNs, count: THREAD_ACCESSES });
  }
  const anyErrno = { ret: "any" as const, errno: [0, ...ALLOWED_ERRNOS] };
  for (const a of [...c.faults.map((fault): Action => ({ kind: "arm", fault })), ...c.actions]) {
    if (a.kind === "move") {
      const nodesArg = a.stat ? null : { fill: a.node, count: a.count };
      steps.push({ op: "move_pages", process: "p", pages: { range: `r${a.region}+${a.first}p`, count: a.count }, nodes: nodesArg, expect: anyErrno });
    } else if (a.kind === "migrate") {
      steps.push({ op: "migrate_pages", process: "p", old: [a.from], new: [a.to], expect: anyErrno });
    } else if (a.kind === "arm") {
      const f = a.fault;
      const folio = FOLIO_POINTS.has(f.point) && f.targetRegion >= 0;
      if (armed.has(f.point)) steps.push({ op: "fault", name: "stats", point: f.point, disarm: true });
      steps.push({ op: "fault", point: f.point, probability: f.probability, times: f.times, interval: f.interval, ...(folio ? { target: { process: "p", addr: `r${f.targetRegion}` } } : {}) });
      armed.add(f.point);
    } else if (a.kind === "disarmAll") {
      for (const p of armed) steps.push({ op: "fault", name: "stats", point: p, disarm: true });
      armed.clear();
    } else {
      steps.push({
        op: "move_pages", name: "wild", process: "p", pid: a.pid, count: a.count, pages: { raw: a.pages }, nodes: a.nodes === null ? null : { raw: a.nodes },
        flags: a.flags, expect: { ret: "any" },
      });
    }
  }
  // Faults off before the checks, then every page of every region is verified and the counters read.
  for (const p of armed) steps.push({ op: "fault", point: p, disarm: true, name: "stats" });
  if (c.thread !== null) steps.push({ op: "stop", activity: "t", expect: { intact: true, faults: 0 } });
  c.regions.forEach((r, i) => {
    const pages = r.hugetlb ? 512 : r.pages;
    // The pages a writer thread stored counters in are checked by its stop step (intact) instead.
    const skip = c.thread !== null && c.thread.kind === "write" && c.thread.region === i ? Math.min(pages, WRITER_PAGES) : 0;
    if (skip < pages) steps.push({ op: "inspect", name: "verify", process: "p", addr: `r${i}+${skip}p`, pages: pages - skip, expect: { present: true, data: { pattern: pattern(i) } } });
  });
  steps.push({ op: "vm_events", name: "stats" });
  // A migrator is loaded on a profile's hardware: its count through sysfs, the driver fixes as module parameters.
  const o = c.offload;
  const offload = o.migrator === "none" ? {}
    : o.migrator === "mtcopy" ? { profile: "zen3-ptdma", migrator: "mtcopy", sysfs: { threads: o.threads } }
      : {
        profile: EXAMPLE_PROFILE_BY_ENGINE[o.engine], ...(o.engine === "ae4dma" ? { engines: ["ae4dma"] } : {}),
        migrator: "dcbm", sysfs: { nr_dma_chan: o.channels },
        modparams: { ...(o.engine === "ae4dma" ? { dcbm: CORRECT_DRIVER.dcbm, ae4dma: CORRECT_DRIVER.ptdma } : CORRECT_DRIVER), ...(o.engine === "sdxi" ? { sdxi: { completionOrder: o.outOfOrder ? "outOfOrderWithoutFence" : "inOrder" } } : {}) },
      };
  return {
    version: 1, name: "fuzz case", description: "written by mmemu fuzz: a minimal case that violates a property", kernel: "mainline",
    limits: CASE_LIMITS,
    machine: { nodes, thp: c.thp, hugetlb: Object.fromEntries(c.nodes.map((_, id) => [id, 2])), seed: c.seed, check: true, ...offload },
    processes: [{ name: "p", threads: [{ name: "p.t", cpu: 1 }] }],
    steps,
  };
}

/** What a campaign counted. */
export interface CampaignStats {
  runs: number;
  migrations: number;
  pagesVerified: number;
  faultsInjected: Record<string, number>;
  violations: number;
}

export function emptyStats(): CampaignStats {
  return { runs: 0, migrations: 0, pagesVerified: 0, faultsInjected: {}, violations: 0 };
}

/** The violations of one run: sentences, empty when the case holds. */
export function violationsOf(r: RunResult, records: readonly StepRecord[]): string[] {
  const out: string[] = [];
  if (r.error !== undefined) out.push(`run stopped: ${r.error}`);
  for (const rec of records) {
    // Wild calls may return anything but may not throw or break an invariant.
    const ms = rec.name === "wild" ? rec.mismatches.filter((m) => m.startsWith("invariant violated")) : rec.mismatches;
    for (const m of ms) out.push(`step ${rec.index} (${rec.op}): ${m}`);
  }
  return out;
}

/** Run one case, add to the stats; returns its violations. */
export async function runCase(c: FuzzCase, stats: CampaignStats): Promise<string[]> {
  const s = validateScenario(caseScenario(c), "fuzz case");
  const records: StepRecord[] = [];
  const r = runScenario(s, { devices: await prepareScenarioDevices(s), keepSteps: 0, onStep: (rec) => records.push(rec) });
  stats.runs++;
  for (const rec of records) {
    if (rec.name === "verify") stats.pagesVerified += (s.steps[Number(rec.index)] as { pages: number }).pages;
    if (rec.name === "stats" && rec.op === "vm_events") stats.migrations += Number(rec.result.pgmigrate_success ?? 0);
    if (rec.name === "stats" && rec.op === "fault") {
      const name = rec.call.split(" ")[1]!;
      stats.faultsInjected[name] = (stats.faultsInjected[name] ?? 0) + Number(rec.result.injected ?? 0);
    }
  }
  const v = violationsOf(r, records);
  if (v.length > 0) stats.violations++;
  return v;
}
