/**
 * Property-based campaigns (fast-check) over whole emulated systems. Each case is a scenario: a machine
 * (2 or 3 nodes of any size, THP policy, a hugetlb pool, optionally dcbm on zen3-ptdma's PTDMA engines,
 * on example-sdxi's SDXI functions (in or out of order) or on example-ae4dma's AE4DMA queues, or mtcopy,
 * with the driver fixes on), a process with patterned regions, optional reader/writer threads,
 * move_pages/migrate_pages calls, fault points armed and disarmed around them, syscalls with wild
 * arguments, and calls started concurrently in another thread during one of them (`start`/`join`: a
 * second move_pages, a migrate_pages, munmap, mprotect, fork or page fault). The property: no step
 * throws, the invariant checker sees nothing, every page still mapped holds what was written (wherever
 * it now lives, in a forked child too), writers lost no write, and each call fails only with an errno its
 * manual page allows. A failing case is shrunk by fast-check and written out as a scenario
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

/** What the calls a case starts concurrently may fail with (munmap(2), mprotect(2)). */
const ALLOWED_MUNMAP_ERRNOS = [0, "EINVAL", "ENOMEM"];
const ALLOWED_MPROTECT_ERRNOS = [0, "EACCES", "EINVAL", "ENOMEM"];

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

interface PageRange {
  region: number;
  first: number;
  count: number;
}

/** A call another thread of the process makes concurrently (a `start` step). */
type RaceCall =
  | ({ kind: "move"; node: number; stat: boolean; mirror: boolean } & PageRange)
  | { kind: "migrate"; from: number; to: number }
  | ({ kind: "munmap" } & PageRange)
  | ({ kind: "mprotect"; write: boolean } & PageRange)
  | { kind: "fork" }
  | ({ kind: "touch"; write: boolean; mirror: boolean } & PageRange);

/**
 * A call started `delayNs` before action `at` begins and joined right after it ends, so it lands in
 * that action (its lookups, its migration, its copy) or after it. One race per action: what ran
 * concurrently is then known when the next action starts, which the checks at the end rely on.
 */
interface Race {
  at: number;
  delayNs: number;
  call: RaceCall;
}

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
  /** Calls started concurrently (absent in cases written before they existed: none). */
  races?: Race[];
  /** Kernel whose lock rules apply (6.1 holds mmap_lock through migrate_pages' migration); mainline if absent. */
  kernel?: "mainline" | "6.1";
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

function moveArb(nodes: number, regions: Region[]): fc.Arbitrary<Extract<Action, { kind: "move" }>> {
  return fc.integer({ min: 0, max: regions.length - 1 }).chain((region) => {
    const pages = regions[region]!.pages;
    return fc.record({
      kind: fc.constant("move" as const), region: fc.constant(region), first: fc.integer({ min: 0, max: pages - 1 }),
      count: fc.integer({ min: 1, max: pages }), node: fc.integer({ min: 0, max: nodes - 1 }), stat: fc.boolean(),
    }).map((a) => ({ ...a, count: Math.min(a.count, pages - a.first) }));
  });
}

function actionArb(nodes: number, regions: Region[], faults: readonly string[]): fc.Arbitrary<Action> {
  const move = moveArb(nodes, regions);
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

/** Pages of a region (touch: at most 16, a fault per page). */
function rangeArb(regions: Region[], maxCount: number): fc.Arbitrary<PageRange> {
  return moveArb(1, regions).map(({ region, first, count }) => ({ region, first, count: Math.min(count, maxCount) }));
}

/**
 * The concurrent calls. Every kind here starts from a thread that holds nothing, so it waits for
 * mmap_lock as a queued waiter and never needs the model to reorder the stack (ConcurrencyModelError,
 * docs/concurrency.md); mbind is left out because its scan's fail-on-isolated (EIO) and its migration
 * under the write lock make the data/errno properties depend on the kernel version beyond what a
 * campaign checks.
 */
function raceArb(nodes: number, regions: Region[], actions: number): fc.Arbitrary<Race> {
  const call: fc.Arbitrary<RaceCall> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ m: moveArb(nodes, regions), mirror: fc.boolean() }).map(({ m, mirror }) => ({ ...m, mirror })) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("migrate" as const), from: fc.integer({ min: 0, max: nodes - 1 }), to: fc.integer({ min: 0, max: nodes - 1 }) }) },
    { weight: 2, arbitrary: rangeArb(regions, Infinity).map((r) => ({ kind: "munmap" as const, ...r })) },
    { weight: 2, arbitrary: fc.record({ r: rangeArb(regions, Infinity), write: fc.boolean() }).map(({ r, write }) => ({ kind: "mprotect" as const, write, ...r })) },
    { weight: 2, arbitrary: fc.constant({ kind: "fork" as const }) },
    { weight: 2, arbitrary: fc.record({ r: rangeArb(regions, 16), write: fc.boolean(), mirror: fc.boolean() }).map(({ r, write, mirror }) => ({ kind: "touch" as const, write, mirror, ...r })) },
  );
  return fc.record({
    at: fc.integer({ min: 0, max: actions - 1 }),
    // Log-uniform from 1 ns to 4 ms: a move_pages of n pages looks them up for ~5 us + 130 ns each and
    // migrates them after (~500 ns each on the CPU, longer on an engine), so each phase of every size is hit.
    delayNs: fc.tuple(fc.integer({ min: 0, max: 21 }), fc.integer({ min: 0, max: 999 })).map(([e, m]) => Math.floor(2 ** e * (1 + m / 1000))),
    call,
  });
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
      }).chain((rest) => fc.record({
        // Drawn after the fields above, so a seed's cases keep the machines, regions and actions they had
        // before concurrent calls existed (docs/robustness.md).
        races: fc.array(raceArb(base.nodes.length, base.regions, rest.actions.length), { maxLength: 3 }),
        kernel: off.migrator === "none" ? fc.constantFrom("mainline" as const, "6.1" as const) : fc.constant("mainline" as const),
      }).map((more) => ({ ...base, ...rest, ...more })));
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

/** The thread of the process that makes the concurrent calls (a fork's child runs on CPU 3). */
const RACE_THREAD = "p.c";

const FOLIO_POINTS = new Set<string>(["migrate_extra_ref", "folio_trylock", "migrate_alloc_dst", "migrate_copy_hwpoison"]);

function pattern(region: number): string {
  return `0x${(0x5a000001 + region * 0x01010101).toString(16)}`;
}

type PageState = "rw" | "ro" | "gone";

/** Runs [first, count] of pages still mapped, from `from` on. */
function mappedRuns(states: readonly PageState[], from: number): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  for (let p = from; p < states.length; p++) {
    if (states[p] === "gone") continue;
    const first = p;
    while (p + 1 < states.length && states[p + 1] !== "gone") p++;
    runs.push([first, p - first + 1]);
  }
  return runs;
}

/**
 * The `start` call of a race over action `a`, and what it does to the process's pages once joined; null
 * when it has nothing left to act on or the model cannot run it. munmap and mprotect keep off a reader/writer thread's pages (its
 * accesses would fault) and take a hugetlb region whole (a partial length is EINVAL); a touch keeps off
 * unmapped pages and expects to fault where a write meets a read-only page.
 */
function raceCall(r: RaceCall, a: Action, regions: readonly Region[], own: PageState[][], thread: { region: number; count: number } | null, forks: number, cowMayFail: boolean): { step: Record<string, unknown>; apply: () => void } | null {
  const nothing = (): void => {};
  // A move_pages or migrate_pages reads its arrays from the process's memory, which a migrate_pages(2)
  // of the whole process may be migrating: the call would sleep on a folio the migration below it holds,
  // which the model cannot run (ConcurrencyModelError, docs/concurrency.md; fuzz-found/ keeps the case).
  if ((r.kind === "move" || r.kind === "migrate") && a.kind === "migrate") return null;
  if (r.kind === "move") {
    const m = r.mirror && a.kind === "move" ? { ...r, region: a.region, first: a.first, count: a.count } : r;
    const nodes = m.stat ? null : { fill: m.node, count: m.count };
    return { step: { op: "move_pages", process: RACE_THREAD, pages: { range: `r${m.region}+${m.first}p`, count: m.count }, nodes, expect: { ret: "any", errno: [0, ...ALLOWED_ERRNOS] } }, apply: nothing };
  }
  if (r.kind === "migrate") return { step: { op: "migrate_pages", process: RACE_THREAD, old: [r.from], new: [r.to], expect: { ret: "any", errno: [0, ...ALLOWED_ERRNOS] } }, apply: nothing };
  if (r.kind === "fork") return { step: { op: "fork", parent: RACE_THREAD, child: `k${forks}`, cpu: 3 }, apply: nothing };
  if (r.kind === "touch" && r.mirror && a.kind === "move") {
    // The last pages the move isolates: the most likely to be migration entries when the touch lands.
    const count = Math.min(r.count, a.count);
    r = { ...r, region: a.region, first: a.first + a.count - count, count };
  }
  const states = own[r.region]!;
  const huge = regions[r.region]!.hugetlb;
  let first = huge ? 0 : r.first;
  let count = huge ? states.length : Math.min(r.count, states.length - first);
  if (r.kind === "touch") {
    // A write to a page shared with a fork child allocates its copy: with fail_page_alloc armed that may
    // fail (mmemu reports a user fault's VM_FAULT_OOM as a failed access), so it reads instead.
    const write = r.write && !cowMayFail;
    // Unmapped addresses may be mapped again before the touch lands: the argument arrays of a later
    // move_pages or migrate_pages are mmap()ed in this process as the program's own would be, and
    // top-down allocation reuses the freed range (found by the long campaign), so no fault is certain there.
    if (states.slice(first, first + count).some((st) => st === "gone")) return null;
    const fault = write && states.slice(first, first + count).some((st) => st === "ro");
    return { step: { op: "touch", process: RACE_THREAD, addr: `r${r.region}+${first}p`, len: `${count}p`, write, expect: { fault } }, apply: nothing };
  }
  if (thread !== null && thread.region === r.region) {
    if (huge) return null;
    const end = first + count;
    first = Math.max(first, thread.count);
    count = end - first;
  }
  if (r.kind === "mprotect") {
    // Over a hole mprotect fails with ENOMEM after changing the VMAs before it: only mapped runs.
    let n = 0;
    while (n < count && states[first + n] !== "gone") n++;
    if (huge && n < count) n = 0;
    count = n;
  }
  if (count <= 0) return null;
  const addr = `r${r.region}+${first}p`;
  const set = (st: PageState) => (): void => void states.fill(st, first, first + count);
  if (r.kind === "munmap") return { step: { op: "munmap", process: RACE_THREAD, addr, len: `${count}p`, expect: { ret: "any", errno: ALLOWED_MUNMAP_ERRNOS } }, apply: set("gone") };
  const prot = r.write ? ["READ", "WRITE"] : ["READ"];
  return { step: { op: "mprotect", process: RACE_THREAD, addr, len: `${count}p`, prot, expect: { ret: "any", errno: ALLOWED_MPROTECT_ERRNOS } }, apply: set(r.write ? "rw" : "ro") };
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
  // What is mapped (and writable) where, per process and region page, as the races leave it: the checks
  // at the end verify only what is still mapped. Known statically because one race overlaps one action
  // and is joined before the next.
  const sizes = c.regions.map((r) => (r.hugetlb ? 512 : r.pages));
  const fresh = (): PageState[][] => sizes.map((n) => new Array<PageState>(n).fill("rw"));
  const views: Array<{ process: string; pages: PageState[][] }> = [{ process: "p", pages: fresh() }];
  const own = views[0]!.pages;
  const threadPages = c.thread === null ? null : { region: c.thread.region, count: Math.min(sizes[c.thread.region]!, WRITER_PAGES) };
  const races = new Map<number, Race>();
  for (const race of c.races ?? []) {
    const at = Math.min(race.at, c.actions.length - 1);
    if (!races.has(at)) races.set(at, race);
  }
  let forks = 0;
  // Whether a writer thread's copy-on-write after a fork may have met fail_page_alloc: its access then
  // fails (see raceCall) and is not a lost write, so only its data (intact) is checked.
  let cowMayHaveFailed = false;
  const actions = [...c.faults.map((fault): Action => ({ kind: "arm", fault })), ...c.actions];
  actions.forEach((a, i) => {
    const race = i >= c.faults.length ? races.get(i - c.faults.length) : undefined;
    const pageAllocArmed = armed.has("fail_page_alloc") || (a.kind === "arm" && a.fault.point === "fail_page_alloc");
    const call = race === undefined ? null : raceCall(race.call, a, c.regions, own, threadPages, forks, forks > 0 && pageAllocArmed);
    if (call !== null) steps.push({ op: "start", task: "race", delayNs: race!.delayNs, call: call.step });
    if (a.kind === "move") {
      const nodesArg = a.stat ? null : { fill: a.node, count: a.count };
      steps.push({ op: "move_pages", process: "p", pages: { range: `r${a.region}+${a.first}p`, count: a.count }, nodes: nodesArg, expect: anyErrno });
    } else if (a.kind === "migrate") {
      steps.push({ op: "migrate_pages", process: "p", old: [a.from], new: [a.to], expect: anyErrno });
    } else if (a.kind === "arm") {
      const f = a.fault;
      // A folio point targets the region's first page while it is mapped.
      const folio = FOLIO_POINTS.has(f.point) && f.targetRegion >= 0 && own[f.targetRegion]![0] !== "gone";
      if (armed.has(f.point)) steps.push({ op: "fault", name: "stats", point: f.point, disarm: true });
      steps.push({ op: "fault", point: f.point, probability: f.probability, times: f.times, interval: f.interval, ...(folio ? { target: { process: "p", addr: `r${f.targetRegion}` } } : {}) });
      armed.add(f.point);
      if (f.point === "fail_page_alloc" && forks > 0) cowMayHaveFailed = true;
    } else if (a.kind === "disarmAll") {
      for (const p of armed) steps.push({ op: "fault", name: "stats", point: p, disarm: true });
      armed.clear();
    } else {
      steps.push({
        op: "move_pages", name: "wild", process: "p", pid: a.pid, count: a.count, pages: { raw: a.pages }, nodes: a.nodes === null ? null : { raw: a.nodes },
        flags: a.flags, expect: { ret: "any" },
      });
    }
    if (call !== null) {
      steps.push({ op: "join", name: `race ${race!.call.kind}`, task: "race" });
      if (race!.call.kind === "fork" && armed.has("fail_page_alloc")) cowMayHaveFailed = true;
      if (race!.call.kind === "fork") views.push({ process: `k${forks++}`, pages: own.map((r) => [...r]) });
      call.apply();
    }
  });
  // Faults off before the checks, then every page still mapped is verified (in forked children too) and the counters read.
  for (const p of armed) steps.push({ op: "fault", point: p, disarm: true, name: "stats" });
  if (c.thread !== null) steps.push({ op: "stop", activity: "t", expect: { intact: true, ...(cowMayHaveFailed && c.thread.kind === "write" ? {} : { faults: 0 }) } });
  for (const v of views) {
    v.pages.forEach((states, i) => {
      // The pages a writer thread stored counters in are checked by its stop step (intact) instead.
      const skip = c.thread !== null && c.thread.kind === "write" && c.thread.region === i ? threadPages!.count : 0;
      for (const [first, count] of mappedRuns(states, skip)) {
        steps.push({ op: "inspect", name: "verify", process: v.process, addr: `r${i}+${first}p`, pages: count, expect: { present: true, data: { pattern: pattern(i) } } });
      }
    });
  }
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
    version: 1, name: "fuzz case", description: "written by mmemu fuzz: a minimal case that violates a property", kernel: c.kernel ?? "mainline",
    limits: CASE_LIMITS,
    machine: { nodes, thp: c.thp, hugetlb: Object.fromEntries(c.nodes.map((_, id) => [id, 2])), seed: c.seed, check: true, ...offload },
    processes: [{ name: "p", threads: [{ name: "p.t", cpu: 1 }, { name: RACE_THREAD, cpu: 2 }] }],
    steps,
  };
}

/** What a campaign counted. */
export interface CampaignStats {
  runs: number;
  migrations: number;
  pagesVerified: number;
  faultsInjected: Record<string, number>;
  /** Calls started concurrently and joined, by kind (move, migrate, munmap, mprotect, fork, touch). */
  concurrentCalls: Record<string, number>;
  /** Of those: entered before the action they were started over had returned; slept on mmap_lock; on a migration entry. */
  concurrentOverlapped: number;
  concurrentLockWaits: number;
  concurrentMigrationWaits: number;
  violations: number;
}

export function emptyStats(): CampaignStats {
  return { runs: 0, migrations: 0, pagesVerified: 0, faultsInjected: {}, concurrentCalls: {}, concurrentOverlapped: 0, concurrentLockWaits: 0, concurrentMigrationWaits: 0, violations: 0 };
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
    if (rec.op === "join" && rec.name?.startsWith("race ") === true) {
      const kind = rec.name.slice(5);
      stats.concurrentCalls[kind] = (stats.concurrentCalls[kind] ?? 0) + 1;
      const t = rec.result.task as { enteredNs: number; endNs: number; mmapLockWaits: number; migrationWaits: number } | undefined;
      if (t !== undefined) {
        // The join began when the action returned: at the call's end less what it waited, or later.
        if (rec.virtualNs === 0 || t.enteredNs < t.endNs - rec.virtualNs) stats.concurrentOverlapped++;
        stats.concurrentLockWaits += t.mmapLockWaits;
        stats.concurrentMigrationWaits += t.migrationWaits;
      }
    }
    if (rec.name === "stats" && rec.op === "fault") {
      const name = rec.call.split(" ")[1]!;
      stats.faultsInjected[name] = (stats.faultsInjected[name] ?? 0) + Number(rec.result.injected ?? 0);
    }
  }
  const v = violationsOf(r, records);
  if (v.length > 0) stats.violations++;
  return v;
}
