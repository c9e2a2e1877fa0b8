/**
 * The scenario runner: builds the machine and processes a scenario describes, executes its steps in
 * order (expanding repeats), checks each step's result against what the scenario expects and produces
 * one record per step. Syscalls go through @mmemu/move-pages with their arrays in the caller's emulated
 * memory; memory operations go through mm-core as the process itself would do them.
 */
import { errnoName, EINVAL, ENOMEM } from "@mmemu/kernel";
import {
  InvariantChecker, ksmScan, Machine, madvisePageout, makeDevicePrivateEntry, mapDeviceCoherentPage, mmapPfnRange,
  patternDigest, PAGE_SIZE, PG, PMD_ORDER, PTE, alignUp,
  MAP_ANONYMOUS, MAP_FIXED, MAP_HUGETLB, MAP_LOCKED, MAP_POPULATE, MAP_PRIVATE, MAP_SHARED,
  PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE, type AddressSpace,
} from "@mmemu/mm-core";
import {
  capByName, capMask, capset, CAP_FULL_SET, kernelMigratePages, kernelMovePages, makeCred, nodeBitmapLongs, nodeMaskOf,
  readUserInts, setresgid, setresuid, SUID_DUMP_DISABLE, SUID_DUMP_USER, TaskTable, toUser, UserAccess, UserArgArena,
  writeUserArray, MPOL_MF_LAZY, MPOL_MF_MOVE, MPOL_MF_MOVE_ALL, MPOL_MF_STRICT, type Cred, type TaskStruct, type ThreadGroup,
} from "@mmemu/move-pages";
import { Activity } from "./activity.js";
import { scenarioCosts } from "./costs.js";
import { checkField, checkRet, checkStatus, describeStatus, errnoOf } from "./expect.js";
import { evalAddr, evalAddrNumber, parseSize, type ExprScope } from "./expr.js";
import type { DataExpectation, PageExpectation, Scenario, ScenarioStep, SyscallExpectation } from "./schema.js";

/** Status arrays longer than this are reported as a summary (value -> count). */
export const STATUS_REPORT_LIMIT = 4096;

/** What one executed step did. */
export interface StepRecord {
  /** "3" for steps[3]; "5.1.0" for steps[5], iteration 1, inner step 0. */
  readonly index: string;
  readonly op: string;
  readonly name?: string;
  /** The call in a short readable form. */
  readonly call: string;
  /** What happened (op-specific): ret/errno/status for syscalls, addresses, inspection results. */
  readonly result: Record<string, unknown>;
  readonly ok: boolean;
  /** Each way the result differs from the expectation. */
  readonly mismatches: readonly string[];
  /** Virtual time the step took, ns. */
  readonly virtualNs: number;
  /** Host time the step took, ms. */
  readonly wallMs: number;
}

export interface RunResult {
  readonly name: string;
  readonly kernel: string;
  readonly ok: boolean;
  readonly steps: readonly StepRecord[];
  /** Steps whose result did not match. */
  readonly failed: number;
  /** A step that threw (the run stopped there). */
  readonly error?: string;
  readonly virtualNs: number;
  readonly wallMs: number;
}

export interface RunOptions {
  /** Called with each record as soon as its step finishes. */
  readonly onStep?: (rec: StepRecord) => void;
  /**
   * Called with the scenario's machine before the first step (attach trace probes, note counters);
   * a function it returns is called after the last step, even when a step threw.
   */
  readonly attach?: (m: Machine) => (() => void) | void;
  /** Called right before each move_pages/migrate_pages call (benchmarks collect garbage here). */
  readonly beforeSyscall?: () => void;
}

const PROT_BITS: Record<string, number> = { NONE: PROT_NONE, READ: PROT_READ, WRITE: PROT_WRITE, EXEC: PROT_EXEC };
const MAP_BITS: Record<string, number> = {
  SHARED: MAP_SHARED, PRIVATE: MAP_PRIVATE, ANONYMOUS: MAP_ANONYMOUS, FIXED: MAP_FIXED, LOCKED: MAP_LOCKED,
  POPULATE: MAP_POPULATE, HUGETLB: MAP_HUGETLB,
};
const MOVE_BITS: Record<string, number> = { MOVE: MPOL_MF_MOVE, MOVE_ALL: MPOL_MF_MOVE_ALL, STRICT: MPOL_MF_STRICT, LAZY: MPOL_MF_LAZY };
const THP_ORDER: Record<string, number> = { "8K": 1, "16K": 2, "32K": 3, "64K": 4, "128K": 5, "256K": 6, "512K": 7, "1M": 8, "2M": 9 };
const ULONG_MAX = 18446744073709551615;

function bits(v: number | readonly string[], table: Record<string, number>): number {
  if (typeof v === "number") return v;
  return v.reduce((acc, k) => acc | table[k]!, 0);
}

function hex(v: number | bigint): string {
  return `0x${v.toString(16)}`;
}

/** Build the machine, the task table and the processes of a scenario. */
class World {
  readonly m: Machine;
  readonly tasks: TaskTable;
  readonly procs = new Map<string, TaskStruct>();
  readonly files = new Map<string, AddressSpace>();
  readonly labels = new Map<string, bigint>();
  readonly pins = new Map<string, number>();
  readonly activities = new Map<string, Activity>();
  readonly checker: InvariantChecker | null;
  /** RunOptions.beforeSyscall */
  beforeSyscall: (() => void) | undefined;
  private readonly arenas = new Map<TaskStruct, UserArgArena>();
  private readonly lsmDenied = new Map<ThreadGroup, number>();

  constructor(s: Scenario) {
    const mc = s.machine;
    const hugetlbPages: Record<number, number> = {};
    for (const [k, v] of Object.entries(mc.hugetlb)) hugetlbPages[Number(k)] = v;
    this.m = new Machine({
      nodes: mc.nodes.map((n) => ({ id: n.id, pages: parseSize(n.memory) / PAGE_SIZE, cpus: n.cpus })),
      seed: mc.seed,
      hugetlbPages,
    });
    const m = this.m;
    const meter = scenarioCosts(m.sim, mc.timing);
    if (meter !== null) m.core.cost = meter;
    if (typeof mc.thp === "string") m.memory.anonThp[PMD_ORDER] = mc.thp;
    else {
      for (const [size, policy] of Object.entries(mc.thp.anon)) m.memory.anonThp[THP_ORDER[size]!] = policy;
      m.memory.shmemOrder = mc.thp.shmem === "never" ? 0 : THP_ORDER[mc.thp.shmem]!;
    }
    m.settings.nrMaxBatchedMigration = mc.nrMaxBatchedMigration;
    this.checker = mc.check ? new InvariantChecker(m, { throwOnViolation: false }) : null;
    this.tasks = new TaskTable(m, { kernelVersion: s.kernel, firstPid: 1000 });
    // security_task_movememory(): the processes an LSM policy protects.
    this.tasks.taskMovememory = (_current, target) => {
      const e = this.lsmDenied.get(target.group);
      return e === undefined ? 0 : -e;
    };
    for (const f of s.files) this.files.set(f.name, m.createAddressSpace(f.kind === "memfd" ? `memfd:${f.name}` : f.name, f.kind === "memfd" ? "shmem" : "file", Math.ceil(parseSize(f.size) / PAGE_SIZE)));
    for (const p of s.processes) {
      if (p.kernelThread) {
        this.procs.set(p.name, this.tasks.createKernelThread({ name: p.name, cpu: p.cpu, ...(p.pid !== undefined ? { pid: p.pid } : {}) }));
        continue;
      }
      const tasks = this.tasks;
      const ns = p.userNs === "child" ? tasks.createUserNs(tasks.initUserNs, p.uid) : tasks.initUserNs;
      const caps = p.caps === undefined ? undefined : p.caps === "all" ? CAP_FULL_SET : capMask(p.caps.map((c) => capByName(c)!));
      const gid = p.gid ?? p.uid;
      const euid = p.euid ?? p.uid;
      const egid = p.egid ?? gid;
      const cred: Cred = makeCred(ns, p.uid, gid, caps ?? (p.uid === 0 || euid === 0 ? CAP_FULL_SET : 0n), {
        euid, suid: p.suid ?? p.uid, fsuid: euid, egid, sgid: p.sgid ?? gid, fsgid: egid,
      });
      const main = tasks.createProcess({
        name: p.name, cred, cpu: p.cpu, dumpable: p.dumpable ? SUID_DUMP_USER : SUID_DUMP_DISABLE,
        ...(p.pid !== undefined ? { pid: p.pid } : {}),
        ...(p.cpuset !== undefined ? { cpuset: tasks.createCpuset(p.name, nodeMaskOf(p.cpuset)) } : {}),
      });
      this.procs.set(p.name, main);
      if (p.lsmMovememory !== undefined) this.lsmDenied.set(main.group, errnoOf(p.lsmMovememory));
      for (const t of p.threads) {
        this.procs.set(t.name, tasks.createThread(main, {
          name: t.name, cpu: t.cpu, ...(t.pid !== undefined ? { pid: t.pid } : {}),
          ...(t.cpuset !== undefined ? { cpuset: tasks.createCpuset(t.name, nodeMaskOf(t.cpuset)) } : {}),
        }));
      }
    }
  }

  task(name: string): TaskStruct {
    const t = this.procs.get(name);
    if (t === undefined) throw new Error(`unknown process "${name}"`);
    return t;
  }

  /** The task's argument area (arrays of syscalls it makes). */
  arena(task: TaskStruct): UserArgArena {
    let a = this.arenas.get(task);
    if (a === undefined) this.arenas.set(task, (a = new UserArgArena(this.tasks, task)));
    return a;
  }
}

/** Run a validated scenario. */
export function runScenario(s: Scenario, opts: RunOptions = {}): RunResult {
  const t0 = performance.now();
  const w = new World(s);
  w.beforeSyscall = opts.beforeSyscall;
  const records: StepRecord[] = [];
  let error: string | undefined;
  let stopTrace: (() => void) | null = null;
  if (opts.attach) stopTrace = opts.attach(w.m) ?? null;
  const emit = (rec: StepRecord) => {
    records.push(rec);
    opts.onStep?.(rec);
  };
  try {
    runSteps(w, s.steps, "", {}, emit);
  } catch (e) {
    error = e instanceof StopRun ? e.message : `${(e as Error).name}: ${(e as Error).message}`;
  } finally {
    for (const a of w.activities.values()) a.stop();
    stopTrace?.();
  }
  const failed = records.filter((r) => !r.ok).length;
  return {
    name: s.name, kernel: s.kernel, ok: failed === 0 && error === undefined, steps: records, failed,
    ...(error !== undefined ? { error } : {}),
    virtualNs: w.m.sim.now, wallMs: performance.now() - t0,
  };
}

class StopRun extends Error {}

function runSteps(w: World, steps: readonly ScenarioStep[], prefix: string, vars: Record<string, number>, emit: (r: StepRecord) => void): void {
  steps.forEach((st, i) => {
    const index = `${prefix}${i}`;
    if (st.op === "repeat") {
      for (let it = 0; it < st.times; it++) {
        const v: Record<string, number> = { ...vars, i: it };
        for (const [name, values] of Object.entries(st.vars)) {
          const x = values[it % values.length]!;
          v[name] = typeof x === "number" ? x : evalAddrNumber(x, { labels: w.labels, vars: v });
        }
        runSteps(w, st.steps, `${index}.${it}.`, v, emit);
      }
      return;
    }
    const t0 = performance.now();
    const v0 = w.m.sim.now;
    const violations0 = w.checker?.violations.length ?? 0;
    let out: Outcome;
    try {
      out = execStep(w, st, { labels: w.labels, vars });
    } catch (e) {
      const msg = `${(e as Error).name}: ${(e as Error).message}`;
      emit({ index, op: st.op, ...(st.name ? { name: st.name } : {}), call: st.op, result: {}, ok: false, mismatches: [`the step threw ${msg}`], virtualNs: w.m.sim.now - v0, wallMs: performance.now() - t0 });
      throw new StopRun(`steps ${index} (${st.op}) threw ${msg}`);
    }
    const mismatches = [...out.mismatches];
    if (w.checker !== null) for (const v of w.checker.violations.slice(violations0)) mismatches.push(`invariant violated: ${v}`);
    emit({
      index, op: st.op, ...(st.name ? { name: st.name } : {}), call: out.call, result: out.result,
      ok: mismatches.length === 0, mismatches, virtualNs: w.m.sim.now - v0, wallMs: performance.now() - t0,
    });
  });
}

interface Outcome {
  call: string;
  result: Record<string, unknown>;
  mismatches: string[];
}

/** A kernel-convention return value as a result record, with the ret/errno expectation checked. */
function retOutcome(call: string, kret: number, expect: Pick<SyscallExpectation, "ret" | "errno"> | undefined, vars: Record<string, number>, extra: Record<string, unknown> = {}): Outcome {
  const u = toUser(kret);
  const result: Record<string, unknown> = { ret: u.ret, errno: u.errno, ...(u.errno ? { errnoName: errnoName(u.errno) } : {}), ...extra };
  const mismatches = expect ? checkRet(u.ret, u.errno, expect, vars) : u.errno !== 0 ? [`failed with ${errnoName(u.errno)} and no failure was expected`] : [];
  return { call, result, mismatches };
}

function execStep(w: World, st: ScenarioStep, scope: ExprScope): Outcome {
  const m = w.m;
  const vars = scope.vars as Record<string, number>;
  const A = (e: number | string) => evalAddrNumber(e, scope);
  switch (st.op) {
    case "mmap": {
      const t = w.task(st.process);
      const len = parseSize(st.len);
      const align = st.align === undefined ? 0 : parseSize(st.align);
      const flags = bits(st.flags, MAP_BITS);
      const args = {
        len: len + align, prot: bits(st.prot, PROT_BITS), flags, offset: parseSize(st.offset),
        ...(st.file !== undefined ? { file: w.files.get(st.file)! } : {}),
        ...(st.addr !== undefined ? { addr: A(st.addr) } : {}),
      };
      const r = w.tasks.withCurrent(t, () => m.memory.mmap(t.mm!, args));
      const addr = r >= 0 && align > 0 ? alignUp(r, align) : r;
      if (r >= 0) w.labels.set(st.as, BigInt(addr));
      return retOutcome(`mmap(${st.as}, ${len} bytes, ${st.flags.join("|")})`, addr, st.expect, vars, r >= 0 ? { addr: hex(addr) } : {});
    }
    case "munmap": {
      const t = w.task(st.process);
      const r = m.memory.munmap(t.mm!, A(st.addr), parseSize(st.len));
      return retOutcome(`munmap(${st.addr}, ${st.len})`, r, st.expect, vars);
    }
    case "mprotect": {
      const t = w.task(st.process);
      const r = m.memory.mprotect(t.mm!, A(st.addr), parseSize(st.len), bits(st.prot, PROT_BITS));
      return retOutcome(`mprotect(${st.addr}, ${st.len}, ${Array.isArray(st.prot) ? st.prot.join("|") : st.prot})`, r, st.expect, vars);
    }
    case "mlock": case "munlock": {
      const t = w.task(st.process);
      const onFault = st.op === "mlock" && st.onFault;
      const r = w.tasks.withCurrent(t, () => m.memory.mlockRange(t.mm!, A(st.addr), parseSize(st.len), st.op === "mlock", onFault));
      return retOutcome(`${st.op}${onFault ? "2(MLOCK_ONFAULT)" : ""}(${st.addr}, ${st.len})`, r, st.expect, vars);
    }
    case "madvise": {
      const t = w.task(st.process);
      const addr = A(st.addr);
      const len = parseSize(st.len);
      const r = w.tasks.withCurrent(t, () => {
        if (st.advice !== "PAGEOUT") return m.memory.madvise(t.mm!, addr, len, st.advice.toLowerCase() as "hugepage");
        if (addr % PAGE_SIZE !== 0) return -EINVAL;
        // madvise() fails with -ENOMEM when part of the range is not mapped.
        for (let a = addr; a < addr + len; a = t.mm!.findVma(a)!.end) if (t.mm!.findVma(a) === null) return -ENOMEM;
        madvisePageout(m, t.mm!, addr, len);
        return 0;
      });
      return retOutcome(`madvise(${st.addr}, ${st.len}, MADV_${st.advice})`, r, st.expect, vars);
    }
    case "ksm_scan": {
      const r = ksmScan(m);
      const mismatches = [...checkField("merged", r.merged, st.expect?.merged), ...checkField("pagesShared", r.pagesShared, st.expect?.pagesShared)];
      return { call: "ksmd: one full scan", result: { ...r }, mismatches };
    }
    case "fork": {
      const child = w.tasks.fork(w.task(st.parent), { name: st.child, ...(st.pid !== undefined ? { pid: st.pid } : {}), ...(st.cpu !== undefined ? { cpu: st.cpu } : {}) });
      w.procs.set(st.child, child);
      return { call: `fork(${st.parent}) -> ${st.child}`, result: { pid: child.pid }, mismatches: [] };
    }
    case "exit": {
      const t = w.task(st.process);
      w.tasks.exit(t);
      return { call: `exit(${st.process})`, result: { pid: t.pid, zombie: t.isZombie }, mismatches: [] };
    }
    case "reap": {
      const t = w.task(st.process);
      w.tasks.reap(t);
      return { call: `wait(${st.process})`, result: { pid: t.pid }, mismatches: [] };
    }
    case "thread": {
      const of = w.task(st.process);
      const t = w.tasks.createThread(of, {
        name: st.thread, cpu: st.cpu, ...(st.pid !== undefined ? { pid: st.pid } : {}),
        ...(st.cpuset !== undefined ? { cpuset: w.tasks.createCpuset(st.thread, nodeMaskOf(st.cpuset)) } : {}),
      });
      w.procs.set(st.thread, t);
      return { call: `pthread_create(${st.process}) -> ${st.thread}`, result: { tid: t.pid }, mismatches: [] };
    }
    case "setresuid": case "setresgid": case "capset": {
      const t = w.task(st.process);
      let next: Cred | number;
      let call: string;
      if (st.op === "setresuid") {
        next = setresuid(t.cred, st.ruid, st.euid, st.suid);
        call = `setresuid(${st.ruid}, ${st.euid}, ${st.suid})`;
      } else if (st.op === "setresgid") {
        next = setresgid(t.cred, st.rgid, st.egid, st.sgid);
        call = `setresgid(${st.rgid}, ${st.egid}, ${st.sgid})`;
      } else {
        const eff = capMask(st.effective.map((c) => capByName(c)!));
        next = capset(t.cred, eff, st.permitted ? capMask(st.permitted.map((c) => capByName(c)!)) : t.cred.capPermitted);
        call = `capset(${st.effective.join(",") || "none"})`;
      }
      if (typeof next !== "number") w.tasks.commitCreds(t, next);
      return retOutcome(call, typeof next === "number" ? next : 0, st.expect, vars);
    }
    case "prctl_set_dumpable": {
      const r = w.tasks.prctlSetDumpable(w.task(st.process), st.value);
      return retOutcome(`prctl(PR_SET_DUMPABLE, ${st.value})`, r, st.expect, vars);
    }
    case "set_cpuset": {
      const t = w.task(st.process);
      t.cpuset = w.tasks.createCpuset(`${st.process}-cpuset`, nodeMaskOf(st.nodes));
      return { call: `cpuset.mems = ${st.nodes.join(",")}`, result: {}, mismatches: [] };
    }
    case "write": return userWrite(w, st, scope);
    case "read": return userRead(w, st, scope);
    case "touch": {
      const t = w.task(st.process);
      const ua = new UserAccess(m, t.ctx);
      const addr = A(st.addr);
      const len = parseSize(st.len);
      let fault = false;
      w.tasks.withCurrent(t, () => {
        for (let a = addr - (addr % PAGE_SIZE); a < addr + len && !fault; a += PAGE_SIZE) fault = ua.frame(a, st.write) < 0;
      });
      return { call: `${st.write ? "write" : "read"}-touch(${st.addr}, ${st.len})`, result: { fault }, mismatches: checkField("fault", fault, st.expect?.fault ?? false) };
    }
    case "pin": {
      const t = w.task(st.process);
      const r = w.tasks.withCurrent(t, () => m.memory.pinUserPage(t.mm!, A(st.addr), st.write));
      if (r >= 0) w.pins.set(st.as, r);
      return retOutcome(`pin_user_pages(${st.addr}${st.write ? ", FOLL_WRITE" : ""})`, r >= 0 ? 0 : r, st.expect, vars);
    }
    case "unpin": {
      const folio = w.pins.get(st.pin);
      const r = folio === undefined ? -EINVAL : m.memory.unpinUserPage(folio);
      w.pins.delete(st.pin);
      return retOutcome(`unpin_user_page(${st.pin})`, r, undefined, vars);
    }
    case "device": {
      const t = w.task(st.process);
      const f = st.kind === "coherent" ? mapDeviceCoherentPage : makeDevicePrivateEntry;
      const r = w.tasks.withCurrent(t, () => f(m, t.mm!, A(st.addr), st.node));
      return { call: `migrate_vma(${st.addr} -> device-${st.kind} memory on node ${st.node})`, result: { pfn: r }, mismatches: r < 0 ? ["the page could not be moved to device memory"] : [] };
    }
    case "pfnmap": {
      const t = w.task(st.process);
      const r = mmapPfnRange(m, t.mm!, parseSize(st.len), bits(st.prot, PROT_BITS), st.node);
      if (r >= 0) w.labels.set(st.as, BigInt(r));
      return retOutcome(`mmap(/dev/device -> remap_pfn_range, ${st.len})`, r, undefined, vars, r >= 0 ? { addr: hex(r) } : {});
    }
    case "move_pages": return movePagesStep(w, st, scope);
    case "migrate_pages": {
      const t = w.task(st.process);
      const pid = typeof st.pid === "string" ? w.task(st.pid).pid : st.pid;
      const maxnode = st.maxnode === "ULONG_MAX" ? ULONG_MAX : Number(st.maxnode);
      const place = (v: readonly number[] | { raw: number | string }) => {
        if (!Array.isArray(v)) return A((v as { raw: number | string }).raw);
        return w.arena(t).place(nodeBitmapLongs(v as number[], Math.max(64, Math.min(maxnode, 1 << 15))), 8);
      };
      const oldPtr = place(st.old);
      const newPtr = place(st.new);
      w.beforeSyscall?.();
      const r = kernelMigratePages(w.tasks, t, pid, maxnode, oldPtr, newPtr);
      const desc = (v: readonly number[] | { raw: number | string }) => (Array.isArray(v) ? `{${v.join(",")}}` : String((v as { raw: unknown }).raw));
      return retOutcome(`migrate_pages(${pid}, ${st.maxnode}, ${desc(st.old)}, ${desc(st.new)})`, r, st.expect, vars);
    }
    case "inspect": return inspectStep(w, st, scope);
    case "spawn": {
      const t = w.task(st.thread ?? st.process);
      const base = A(st.addr);
      const pages = Array.from({ length: st.pages }, (_, k) => base - (base % PAGE_SIZE) + k * PAGE_SIZE);
      const a = new Activity(m, t, st.kind, pages, st.everyNs, st.count);
      w.activities.set(st.as, a);
      a.start();
      return { call: `${st.as}: ${st.thread ?? st.process} ${st.kind}s ${st.pages} page(s) at ${st.addr} every ${st.everyNs} ns`, result: {}, mismatches: [] };
    }
    case "stop": {
      const a = w.activities.get(st.activity)!;
      const s = a.stop();
      const e = st.expect ?? {};
      const mismatches: string[] = [];
      if (e.minAccesses !== undefined && s.accesses < e.minAccesses) mismatches.push(`${s.accesses} accesses, expected at least ${e.minAccesses}`);
      if (e.minMigrationWaits !== undefined && s.migrationWaits < e.minMigrationWaits) mismatches.push(`${s.migrationWaits} migration waits, expected at least ${e.minMigrationWaits}`);
      mismatches.push(...checkField("faults", s.faults, e.faults));
      if (e.intact === true && s.lostWrites > 0) mismatches.push(`${s.lostWrites} page(s) do not hold the last value written: a write was lost`);
      return { call: `stop ${st.activity}`, result: { ...s }, mismatches };
    }
    case "sleep":
      m.sim.run(m.sim.now + st.ns);
      return { call: `sleep ${st.ns} ns`, result: { now: m.sim.now }, mismatches: [] };
    case "vm_events": {
      const mismatches: string[] = [];
      for (const [k, v] of Object.entries(st.expect ?? {})) mismatches.push(...checkField(k, m.vmEvents[k as keyof typeof m.vmEvents], v));
      return { call: "/proc/vmstat", result: { ...m.vmEvents }, mismatches };
    }
    case "node_info": {
      const free = m.alloc.nrFree(st.node) * PAGE_SIZE;
      const e = st.expect ?? {};
      const hugetlbFree = m.hugetlbFree[st.node]?.length ?? 0;
      const mismatches: string[] = [];
      if (e.minFree !== undefined && free < parseSize(e.minFree)) mismatches.push(`node ${st.node} has ${free} bytes free, expected at least ${parseSize(e.minFree)}`);
      if (e.maxFree !== undefined && free > parseSize(e.maxFree)) mismatches.push(`node ${st.node} has ${free} bytes free, expected at most ${parseSize(e.maxFree)}`);
      mismatches.push(...checkField("hugetlbFree", hugetlbFree, e.hugetlbFree));
      return { call: `node ${st.node} meminfo`, result: { freeBytes: free, hugetlbFree, hugetlbTotal: m.hugetlbTotal[st.node] ?? 0 }, mismatches };
    }
    case "fill_node": {
      const leave = Math.floor(parseSize(st.leave) / PAGE_SIZE);
      const held: number[] = [];
      for (let p = m.alloc.alloc(st.node, 0); p >= 0; p = m.alloc.alloc(st.node, 0)) held.push(p);
      // Give back pages until `leave` are free: every other one when fragmenting, so no two are buddies.
      let freed = 0;
      for (let k = st.fragment ? 0 : held.length - 1; freed < leave && k >= 0 && k < held.length; k += st.fragment ? 2 : -1) {
        m.alloc.free(held[k]!, 0);
        freed++;
      }
      return { call: `fill node ${st.node} leaving ${st.leave}${st.fragment ? " (fragmented)" : ""}`, result: { freeBytes: m.alloc.nrFree(st.node) * PAGE_SIZE }, mismatches: [] };
    }
    case "repeat":
      throw new Error("repeat is expanded by runSteps");
  }
}

/**
 * Expand a pages list to the values to store (exact: bigints for raw 64-bit values, numbers for a
 * range, which stays below 2^53), or null for a raw pointer.
 */
function pageAddresses(st: Extract<ScenarioStep, { op: "move_pages" }>, scope: ExprScope): ArrayLike<number | bigint> | null {
  const p = st.pages;
  if (Array.isArray(p)) return p.map((e) => evalAddr(e, scope));
  if ("range" in p) {
    const base = evalAddrNumber(p.range, scope);
    const stride = parseSize(p.stride);
    const out = new Float64Array(p.count);
    for (let k = 0; k < p.count; k++) out[k] = base + k * stride;
    return out;
  }
  return null;
}

function movePagesStep(w: World, st: Extract<ScenarioStep, { op: "move_pages" }>, scope: ExprScope): Outcome {
  const vars = scope.vars as Record<string, number>;
  const A = (e: number | string) => evalAddrNumber(e, scope);
  const t = w.task(st.process);
  const arena = w.arena(t);
  const pid = typeof st.pid === "string" ? w.task(st.pid).pid : st.pid;
  const addrs = pageAddresses(st, scope);
  const count = st.count !== undefined ? (typeof st.count === "number" ? st.count : A(st.count)) : addrs!.length;
  const n = addrs?.length ?? count;
  const place = (values: ArrayLike<number | bigint>, size: 4 | 8, at: number | string | undefined): number => {
    if (at === undefined) return arena.place(values, size);
    const a = A(at);
    writeUserArray(w.tasks, t, a, values, size);
    return a;
  };
  const pagesPtr = addrs === null ? A((st.pages as { raw: number | string }).raw) : place(addrs, 8, st.pagesAt);
  let nodesPtr = 0;
  let nodeList: number[] | null = null;
  if (st.nodes !== null) {
    if (Array.isArray(st.nodes)) nodeList = st.nodes.map((x) => (typeof x === "number" ? x : vars[x.slice(1)]!));
    else if ("fill" in st.nodes) {
      const f = st.nodes.fill;
      nodeList = new Array(st.nodes.count).fill(typeof f === "number" ? f : vars[f.slice(1)]!);
    }
    nodesPtr = nodeList !== null ? place(Int32Array.from(nodeList), 4, st.nodesAt) : A((st.nodes as { raw: number | string }).raw);
  }
  const fill = st.statusFill;
  const statusPtr = st.status === "auto" ? place(new Int32Array(Math.max(n, 1)).fill(fill), 4, st.statusAt) : A(st.status.raw);
  const flags = bits(st.flags, MOVE_BITS);
  w.beforeSyscall?.();
  const t0 = performance.now();
  const kret = kernelMovePages(w.tasks, t, pid, count, pagesPtr, nodesPtr, statusPtr, flags);
  const syscallMs = performance.now() - t0;
  const status = st.status === "auto" || n > 0 ? readUserInts(w.tasks, t, statusPtr, n) : [];
  const extra: Record<string, unknown> = { syscallMs: Math.round(syscallMs * 1000) / 1000 };
  if (status.length <= STATUS_REPORT_LIMIT) extra.status = status.map((s) => (s === fill ? "untouched" : s));
  else {
    const summary: Record<string, number> = {};
    for (const s of status) {
      const k = describeStatus(s, fill);
      summary[k] = (summary[k] ?? 0) + 1;
    }
    extra.statusSummary = summary;
  }
  const flagText = Array.isArray(st.flags) ? st.flags.join("|") || "0" : String(st.flags);
  const nodesText = nodeList === null ? (st.nodes === null ? "NULL" : "raw") : nodeList.length > 8 ? `[${nodeList.slice(0, 4).join(",")},... ${nodeList.length}]` : `[${nodeList.join(",")}]`;
  const call = `move_pages(${pid}, ${count}, ${addrs === null ? "raw" : `${addrs.length} addrs`}, ${nodesText}, status, ${flagText})`;
  const out = retOutcome(call, kret, st.expect, vars, extra);
  if (st.expect?.status !== undefined) out.mismatches.push(...checkStatus(status, st.expect.status, fill, vars));
  return out;
}

function patternOf(p: number | string): number {
  return (typeof p === "number" ? p : parseInt(p, 16)) >>> 0;
}

function hexBytes(s: string): Uint8Array {
  const h = s.replace(/\s+/g, "");
  return Uint8Array.from({ length: h.length / 2 }, (_, i) => parseInt(h.slice(2 * i, 2 * i + 2), 16));
}

function userWrite(w: World, st: Extract<ScenarioStep, { op: "write" }>, scope: ExprScope): Outcome {
  const m = w.m;
  const t = w.task(st.process);
  const ua = new UserAccess(m, t.ctx);
  const addr = evalAddrNumber(st.addr, scope);
  let fault = false;
  w.tasks.withCurrent(t, () => {
    if (st.bytes !== undefined) {
      const b = hexBytes(st.bytes);
      fault = ua.copyToUser(addr, b, 0, b.length) !== 0;
      return;
    }
    const pattern = patternOf(st.pattern ?? 0x5a5a5a5a);
    const len = parseSize(st.len);
    const word = new Uint8Array(4);
    new DataView(word.buffer).setUint32(0, pattern, true);
    for (let a = addr; a < addr + len && !fault;) {
      const off = a % PAGE_SIZE;
      const chunk = Math.min(addr + len - a, PAGE_SIZE - off);
      const pfn = ua.frame(a, true);
      if (pfn < 0) {
        fault = true;
        break;
      }
      if (chunk === PAGE_SIZE) m.mem.fillPages(pfn, 1, pattern);
      else m.mem.write(pfn * PAGE_SIZE + off, Uint8Array.from({ length: chunk }, (_, k) => word[(off + k) % 4]!));
      a += chunk;
    }
  });
  const what = st.bytes !== undefined ? `bytes ${st.bytes}` : `pattern ${hex(patternOf(st.pattern ?? 0x5a5a5a5a))}`;
  return { call: `write(${st.addr}, ${st.len}, ${what})`, result: { fault }, mismatches: checkField("fault", fault, st.expect?.fault ?? false) };
}

/** Compare memory with a data expectation; mismatch sentences. */
function checkData(w: World, pfns: readonly number[], bytesAt: (len: number) => Uint8Array | null, want: DataExpectation, label: string): string[] {
  const m = w.m;
  if (want.pattern !== undefined || want.zero) {
    const p = want.zero ? 0 : patternOf(want.pattern!);
    const d = patternDigest(p);
    const bad = pfns.findIndex((pfn) => pfn < 0 || m.mem.digest(pfn) !== d);
    if (bad >= 0) return [`${label}: page ${bad} does not hold ${want.zero ? "zeroes" : `pattern ${hex(p)}`}`];
    return [];
  }
  if (want.bytes !== undefined) {
    const b = hexBytes(want.bytes);
    const got = bytesAt(b.length);
    if (got === null) return [`${label}: unreadable`];
    for (let i = 0; i < b.length; i++) if (got[i] !== b[i]) return [`${label}: byte ${i} is ${got[i]!.toString(16).padStart(2, "0")}, expected ${b[i]!.toString(16).padStart(2, "0")}`];
  }
  return [];
}

function userRead(w: World, st: Extract<ScenarioStep, { op: "read" }>, scope: ExprScope): Outcome {
  const m = w.m;
  const t = w.task(st.process);
  const ua = new UserAccess(m, t.ctx);
  const addr = evalAddrNumber(st.addr, scope);
  const len = parseSize(st.len);
  const buf = new Uint8Array(len);
  const fault = w.tasks.withCurrent(t, () => ua.copyFromUser(buf, 0, addr, len) !== 0);
  const mismatches = checkField("fault", fault, st.expect?.fault ?? false);
  if (!fault && st.expect?.data) {
    const pfns: number[] = [];
    for (let a = addr - (addr % PAGE_SIZE); a < addr + len; a += PAGE_SIZE) pfns.push(m.memory.translate(t.mm!, a));
    mismatches.push(...checkData(w, pfns, () => buf, st.expect.data, "data"));
  }
  const shown = Array.from(buf.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join(" ");
  return { call: `read(${st.addr}, ${st.len})`, result: { fault, bytes: fault ? null : shown }, mismatches };
}

function inspectStep(w: World, st: Extract<ScenarioStep, { op: "inspect" }>, scope: ExprScope): Outcome {
  const m = w.m;
  const f = m.folios;
  const vars = scope.vars as Record<string, number>;
  const t = w.task(st.process);
  const mm = t.mm;
  const base = evalAddrNumber(st.addr, scope);
  const stride = parseSize(st.stride);
  const e: PageExpectation = st.expect ?? {};
  const pages: Array<Record<string, unknown>> = [];
  const mismatches: string[] = [];
  const wantNode = typeof e.node === "string" ? vars[e.node.slice(1)] : e.node;
  for (let k = 0; k < st.pages; k++) {
    const a = base + k * stride;
    const v = mm?.findVma(a) ?? null;
    const pfn = mm === null ? -1 : m.memory.translate(mm, a);
    const i = v === null ? -1 : Math.floor((a - v.start) / PAGE_SIZE);
    const swapped = v !== null && (v.pteBits[i]! & PTE.SWAP) !== 0;
    const present = pfn >= 0;
    const folio = present ? f.folioOf(pfn) : -1;
    const zeroPage = present && f.test(folio, PG.zero);
    const info: Record<string, unknown> = { addr: hex(a), present, node: present ? m.mem.nodeOfPfn[pfn] : -1 };
    if (present && !zeroPage) {
      Object.assign(info, {
        order: f.order[folio], hugetlb: f.test(folio, PG.hugetlb), ksm: f.test(folio, PG.ksm),
        mlocked: f.test(folio, PG.mlocked), mapcount: f.mapcount[folio],
      });
    }
    if (zeroPage) info.zeroPage = true;
    if (swapped) info.swapped = true;
    pages.push(info);
    const at = st.pages > 1 ? `page ${k} (${hex(a)})` : hex(a);
    const field = (name: string, got: unknown, want: unknown) => {
      if (want !== undefined && got !== want) mismatches.push(`${at}: ${name} is ${String(got)}, expected ${String(want)}`);
    };
    field("node", info.node, wantNode);
    field("present", present, e.present);
    field("order", info.order, e.order);
    field("hugetlb", info.hugetlb ?? false, e.hugetlb);
    field("ksm", info.ksm ?? false, e.ksm);
    field("mlocked", info.mlocked ?? false, e.mlocked);
    field("swapped", swapped, e.swapped);
    field("zeroPage", zeroPage, e.zeroPage);
    if (e.data) mismatches.push(...checkData(w, [pfn], (len) => (present ? m.mem.read(pfn * PAGE_SIZE + (a % PAGE_SIZE), len) : null), e.data, `${at} data`));
    if (e.sameAs) {
      const other = w.task(e.sameAs.process);
      const o = other.mm === null ? -1 : m.memory.translate(other.mm, evalAddrNumber(e.sameAs.addr, scope) + k * stride);
      if (o !== pfn || pfn < 0) mismatches.push(`${at}: not the same page as ${e.sameAs.process}'s ${e.sameAs.addr}`);
    }
  }
  return { call: `inspect(${st.process}, ${st.addr}${st.pages > 1 ? `, ${st.pages} pages` : ""})`, result: { pages: pages.length <= 64 ? pages : pages.slice(0, 64) }, mismatches };
}
