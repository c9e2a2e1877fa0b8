import test from "ava";
import { Cost, EINVAL, ENOENT, NR_COST_KINDS, type CostKind } from "@mmemu/kernel";
import { Fabric } from "@mmemu/platform";
import {
  allocMigrationTarget, FolioList, InvariantChecker, isolateFolioToList, Machine, MAP_ANONYMOUS, MAP_POPULATE,
  MAP_PRIVATE, MIGRATE_SYNC, migratePages, MR, PAGE_SIZE, patternDigest, PROT_READ, PROT_WRITE, putbackMovablePages,
} from "@mmemu/mm-core";
import { kernelLog, migrateOffloadInit, migrateOffloadOf, type OffloadSeries } from "@mmemu/offload-api";
import { CPU_ID_LIST_FILL, CPU_ID_LIST_SPREAD, Mtcopy, type MtcopyOptions } from "@mmemu/mtcopy";

function setup(o: { cpus?: number; threads?: number; series?: OffloadSeries; fabric?: boolean; collect?: boolean; opts?: Partial<MtcopyOptions>; pages?: number } = {}) {
  const units = new Float64Array(NR_COST_KINDS);
  const m = new Machine({
    nodes: [{ id: 0, pages: o.pages ?? 1 << 13, cpus: o.cpus ?? 8 }, { id: 1, pages: o.pages ?? 1 << 13, cpus: o.cpus ?? 8 }],
    costs: { charge: (k: CostKind, n: number) => { units[k]! += n; } },
  });
  migrateOffloadInit(m, { series: o.series ?? "v5" });
  // Without o.fabric the fabric has no bandwidth limits to speak of: only the per-thread copy rate.
  const fabric = new Fabric(m.core, {
    nodes: [{ id: 0, socket: 0 }, { id: 1, socket: 1 }], cpuCopyBw: 12,
    ...(o.fabric ? {} : { params: { node_mem_bw: 2000, xsocket_link_bw: 2000 } }),
  });
  const mt = new Mtcopy(m, { fabric, ...o.opts });
  if (mt.setThreads(o.threads ?? 4) !== 0) throw new Error("threads");
  if (mt.setOffloading(true) !== 0) throw new Error("register");
  const mm = m.createMm();
  m.current = m.createTask(mm, 0);
  const checker = new InvariantChecker(m, { throwOnViolation: !o.collect });
  const pat = (a: number) => (Math.imul(a / PAGE_SIZE, 40503) ^ 0x3c3c) >>> 0 || 9;
  const anon = (bytes: number) => {
    const addr = m.memory.mmap(mm, { len: bytes, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE });
    for (let a = addr; a < addr + bytes; a += PAGE_SIZE) m.mem.fillPages(m.memory.translate(mm, a), 1, pat(a));
    return addr;
  };
  const migrate = (addr: number, bytes: number, nid: number) => {
    const list = new FolioList();
    for (let a = addr; a < addr + bytes; a += PAGE_SIZE) {
      const f = m.folios.folioOf(m.memory.translate(mm, a));
      if (!list.includes(f)) isolateFolioToList(m, f, list);
    }
    const rc = migratePages(m, list, (s) => allocMigrationTarget(m, s, { nid, thisNode: true }), null, MIGRATE_SYNC, MR.SYSCALL);
    if (rc !== 0) putbackMovablePages(m, list);
    return rc;
  };
  const intactPages = (addr: number, bytes: number) => {
    let ok = 0;
    for (let a = addr; a < addr + bytes; a += PAGE_SIZE) if (m.mem.digest(m.memory.translate(mm, a)) === patternDigest(pat(a))) ok++;
    return ok;
  };
  const workers = () => {
    const rec = m.core.trace.record(["mtcopy_worker", "mtcopy_batch"]);
    return { rec, w: () => rec.records.filter((r) => r.name === "mtcopy_worker").map((r) => r.fields).sort((a, b) => (a["worker"] as number) - (b["worker"] as number)), b: () => rec.records.filter((r) => r.name === "mtcopy_batch").map((r) => r.fields) };
  };
  return { m, mt, mm, units, checker, anon, migrate, intactPages, workers };
}

test("registers as CPU_MT_COPY; knobs: threads 1..32 default 4, cpuselect, offloading stores return sizeof(int)", (t) => {
  const s = setup();
  t.is(migrateOffloadOf(s.m)!.active!.name, "CPU_MT_COPY");
  t.is(s.mt.sysfsRead("threads"), "4\n");
  for (const bad of ["0", "33", "x"]) t.is(s.mt.sysfsWrite("threads", bad), -EINVAL, bad);
  t.is(s.mt.sysfsWrite("threads", "32"), 2);
  t.is(s.mt.threads, 32);
  t.is(s.mt.sysfsRead("cpuselect"), "0\n");
  t.is(s.mt.sysfsWrite("cpuselect", "1"), 1);
  t.is(s.mt.cpuselect, 1);
  t.is(s.mt.sysfsWrite("offloading", "2"), 4, "neither 0 nor 1: ignored, still 'consumed'");
  t.true(s.mt.offloading);
  t.is(s.mt.sysfsWrite("offloading", "0"), 4);
  t.false(s.mt.offloading);
  t.is(migrateOffloadOf(s.m)!.active, null);
  t.is(s.mt.sysfsWrite("offloading", "1"), 4);
  t.is(s.mt.sysfsRead("bogus"), -ENOENT);
});

test("cpuselect picks the CPU list: 0 spreads one worker per die (0, 8, 16, ...), 1 fills a die (0, 1, 2, ...)", (t) => {
  const s = setup({ cpus: 64 });
  t.deepEqual([0, 1, 2, 3].map((i) => s.mt.cpuOfWorker(i)), CPU_ID_LIST_SPREAD.slice(0, 4));
  s.mt.setCpuselect(1);
  t.deepEqual([0, 1, 2, 3].map((i) => s.mt.cpuOfWorker(i)), CPU_ID_LIST_FILL.slice(0, 4));
  const small = setup({ cpus: 2 });
  t.deepEqual([0, 1, 2, 3].map((i) => small.mt.cpuOfWorker(i)), [0, 1, 2, 3], "ids beyond the machine fold onto distinct CPUs");
});

test("n >= threads: contiguous runs, the first n % threads workers get one folio more", (t) => {
  const s = setup({ threads: 4 });
  const addr = s.anon(10 * PAGE_SIZE);
  const tr = s.workers();
  t.is(s.migrate(addr, 10 * PAGE_SIZE, 1), 0);
  tr.rec.stop();
  t.deepEqual(tr.w().map((f) => f["items"]), [3, 3, 2, 2]);
  t.deepEqual(tr.w().map((f) => f["bytes"]), [3, 3, 2, 2].map((k) => k * PAGE_SIZE));
  t.is(s.intactPages(addr, 10 * PAGE_SIZE), 10);
  t.is(s.units[Cost.WORK_QUEUE], 4, "one per work item, charged to the migrating task");
  t.is(s.units[Cost.CPU_COPY_PAGE], 0, "the copy is not charged to the task");
  t.deepEqual(s.checker.checkQuiescent(), []);
});

test("n < threads: every folio is cut into `threads` slices and each worker copies its slice of every folio", (t) => {
  const s = setup({ threads: 4 });
  const addr = s.anon(2 * PAGE_SIZE);
  const tr = s.workers();
  t.is(s.migrate(addr, 2 * PAGE_SIZE, 1), 0);
  tr.rec.stop();
  t.deepEqual(tr.w().map((f) => f["items"]), [2, 2, 2, 2]);
  t.deepEqual(tr.w().map((f) => f["bytes"]), [2048, 2048, 2048, 2048]);
  t.true(tr.b()[0]!["sliced"] as boolean);
  t.is(s.intactPages(addr, 2 * PAGE_SIZE), 2);
});

test("a folio size the thread count does not divide loses its tail bytes (the kernel only warns) and the checker sees it", (t) => {
  const s = setup({ threads: 3, collect: true });
  const addr = s.anon(PAGE_SIZE);
  t.is(s.migrate(addr, PAGE_SIZE, 1), 0);
  t.is(s.intactPages(addr, PAGE_SIZE), 0, "the last 4096 % 3 = 1 byte was copied by nobody");
  t.true(kernelLog(s.m.core).grep("does not split into 3 equal chunks").length > 0);
  t.true(s.checker.violations.some((v) => /^migrator \S+, batch \d+, pair 0 .*claimed copied .*does not hold the source.s data/.test(v)));
});

test("workers overlap in virtual time: 4 threads copy a batch in about a quarter of 1 thread's time", (t) => {
  const time = (threads: number) => {
    const s = setup({ threads, opts: { params: { worker_wakeup: 0 } } });
    const addr = s.anon(64 * PAGE_SIZE);
    const tr = s.workers();
    t.is(s.migrate(addr, 64 * PAGE_SIZE, 1), 0);
    tr.rec.stop();
    return tr.b()[0]!["ns"] as number;
  };
  const one = time(1);
  const four = time(4);
  t.is(one, Math.ceil((64 * PAGE_SIZE) / 12), "64 pages at 12 GB/s");
  t.is(four, Math.ceil((16 * PAGE_SIZE) / 12));
});

test("with a fabric, parallel copies share the cross-socket link: 16 workers are link-bound, not 16 times faster", (t) => {
  const time = (threads: number) => {
    const s = setup({ threads, fabric: true, cpus: 16, pages: 1 << 15, opts: { params: { worker_wakeup: 0 } } });
    s.m.memory.anonThp[9] = "always";
    s.m.settings.nrMaxBatchedMigration = 1 << 18; // one batch of all 16 THPs
    const addr = s.anon(16 * 2 * 1024 * 1024);
    const tr = s.workers();
    t.is(s.migrate(addr, 16 * 2 * 1024 * 1024, 1), 0);
    tr.rec.stop();
    t.is(s.intactPages(addr, 16 * 2 * 1024 * 1024), 16 * 512);
    return tr.b()[0]!["ns"] as number;
  };
  const one = time(1);
  const sixteen = time(16);
  const bytes = 16 * 2 * 1024 * 1024;
  t.is(one, Math.ceil(bytes / 12), "one thread: its own 12 GB/s");
  t.true(sixteen >= Math.floor(bytes / 65), "never faster than the 65 GB/s link");
  t.true(one / sixteen < 6, `speed-up ${(one / sixteen).toFixed(2)} is capped by the link`);
});

test("GFP_NOWAIT failure of a work item: -ENOMEM, the core copies on the CPU, nothing lost", (t) => {
  const s = setup();
  const addr = s.anon(8 * PAGE_SIZE);
  s.m.core.faults.arm("mtcopy.work_alloc", { times: 1 });
  const rcs: number[] = [];
  const off = s.m.core.trace.on("migrate_offload_copy_end", (x) => rcs.push(x.fields["rc"] as number));
  t.is(s.migrate(addr, 8 * PAGE_SIZE, 1), 0);
  off();
  t.deepEqual(rcs, [-12]);
  t.is(s.units[Cost.CPU_COPY_PAGE], 8);
  t.is(s.intactPages(addr, 8 * PAGE_SIZE), 8);
});

test("a machine check in one worker: -EAGAIN, the CPU fallback meets the poison too, only that folio fails", (t) => {
  const s = setup({ threads: 2 });
  const addr = s.anon(4 * PAGE_SIZE);
  const bad = s.m.memory.translate(s.mm, addr + 3 * PAGE_SIZE);
  s.m.mem.poisoned[bad] = 1;
  const rcs: number[] = [];
  const off = s.m.core.trace.on("migrate_offload_copy_end", (x) => rcs.push(x.fields["rc"] as number));
  t.is(s.migrate(addr, 4 * PAGE_SIZE, 1), 1, "one folio not migrated");
  off();
  t.is(rcs[0], -11);
  // The batch's worker, then the SYNC retry of that folio alone, cut into 2 slices that both hit the page.
  t.is(s.mt.stats.workerErrors, 3);
  t.is(s.m.mem.nodeOfPfn[s.m.memory.translate(s.mm, addr + 3 * PAGE_SIZE)], 0, "the poisoned folio stays");
  t.is(s.intactPages(addr, 3 * PAGE_SIZE), 3, "the others moved intact");
});

test("V6: a successful batch marks every destination, so the move phase copies nothing", (t) => {
  const s = setup({ series: "v6" });
  const addr = s.anon(8 * PAGE_SIZE);
  t.is(s.migrate(addr, 8 * PAGE_SIZE, 1), 0);
  t.is(s.units[Cost.CPU_COPY_PAGE], 0);
  t.is(s.intactPages(addr, 8 * PAGE_SIZE), 8);
});

test("work items queued on the same CPU run one after the other", (t) => {
  // One CPU per node: 4 workers land on CPUs 0, 1, 0, 1, so each CPU runs two items in turn.
  const s = setup({ cpus: 1, threads: 4, opts: { params: { worker_wakeup: 0 } } });
  t.deepEqual([0, 1, 2, 3].map((i) => s.mt.cpuOfWorker(i)), [0, 1, 0, 1]);
  const addr = s.anon(8 * PAGE_SIZE);
  const tr = s.workers();
  t.is(s.migrate(addr, 8 * PAGE_SIZE, 1), 0);
  tr.rec.stop();
  t.is(tr.b()[0]!["ns"], 2 * Math.ceil((2 * PAGE_SIZE) / 12), "two 2-page items back to back");
  t.is(s.intactPages(addr, 8 * PAGE_SIZE), 8);
});
