/**
 * The emulated world a scenario runs in: the machine, the task table, the processes, files, labels,
 * pins and activities that steps create and refer to by name.
 */
import {
  InvariantChecker, Machine, PAGE_SIZE, PMD_ORDER, type AddressSpace,
} from "@mmemu/mm-core";
import {
  capByName, capMask, CAP_FULL_SET, makeCred, nodeMaskOf, SUID_DUMP_DISABLE, SUID_DUMP_USER, TaskTable, UserArgArena,
  type Cred, type TaskStruct, type ThreadGroup,
} from "@mmemu/move-pages";
import type { MigratorInstance } from "@mmemu/driver-kit";
import type { Activity, AccessBudget } from "./activity.js";
import type { ConcurrentCall } from "./concurrent.js";
import type { ScenarioLimits } from "./limits.js";
import type { DmaEngine } from "@mmemu/driver-kit";
import { createScenarioMachine, loadScenarioMigrator, type ScenarioDevices } from "./devices.js";
import { scenarioCosts } from "./costs.js";
import { errnoOf } from "./expect.js";
import { parseSize } from "./expr.js";
import type { Scenario } from "./schema.js";

const THP_ORDER: Record<string, number> = { "8K": 1, "16K": 2, "32K": 3, "64K": 4, "128K": 5, "256K": 6, "512K": 7, "1M": 8, "2M": 9 };

/** Builds the machine, the task table and the processes of a scenario. */
export class World {
  readonly m: Machine;
  readonly tasks: TaskTable;
  readonly procs = new Map<string, TaskStruct>();
  readonly files = new Map<string, AddressSpace>();
  readonly labels = new Map<string, bigint>();
  readonly pins = new Map<string, number>();
  /** The names in `pins` that hold a plain reference (FOLL_GET) rather than a pin. */
  readonly gets = new Set<string>();
  /** The recording started by trace_start, until trace_stop. */
  trace: { stop(): void; readonly records: ReadonlyArray<{ name: string; fields: Record<string, unknown> }> } | null = null;
  readonly activities = new Map<string, Activity>();
  /** Calls started by `start` steps and not yet joined. */
  readonly calls = new Map<string, ConcurrentCall>();
  readonly checker: InvariantChecker | null;
  /** Accesses left to the run's reader/writer threads (limits.threadAccesses). */
  readonly threadBudget: AccessBudget;
  /** RunOptions.beforeSyscall */
  beforeSyscall: (() => void) | undefined;
  /** The loaded migrator (machine.migrator), or null. */
  readonly migrator: MigratorInstance | null = null;
  /** Plug-in files loaded (a plug-in that throws is reported with its frames in these). */
  readonly pluginFiles: readonly string[];
  /** The machine's dmaengine (machine.profile), or null. */
  readonly dmaengine: DmaEngine | null;
  private readonly arenas = new Map<TaskStruct, UserArgArena>();
  private readonly lsmDenied = new Map<ThreadGroup, number>();

  constructor(s: Scenario, devices: ScenarioDevices | null, readonly limits: ScenarioLimits) {
    this.threadBudget = { left: limits.threadAccesses, exhausted: false };
    const mc = s.machine;
    const hugetlbPages: Record<number, number> = {};
    for (const [k, v] of Object.entries(mc.hugetlb)) hugetlbPages[Number(k)] = v;
    const movablePages: Record<number, number> = {};
    for (const n of mc.nodes) movablePages[n.id] = Math.floor(parseSize(n.movable) / PAGE_SIZE);
    if (mc.profile !== undefined && devices === null) throw new Error("machine.profile: the scenario's devices were not loaded (prepareScenarioDevices)");
    const em = devices === null ? null : createScenarioMachine(s, devices, hugetlbPages, movablePages);
    this.m = em?.m ?? new Machine({
      nodes: mc.nodes.map((n) => ({ id: n.id, pages: parseSize(n.memory) / PAGE_SIZE, cpus: n.cpus })),
      seed: mc.seed,
      hugetlbPages,
      movablePages,
      watermarkScaleFactor: mc.vm.watermark_scale_factor,
    });
    this.pluginFiles = devices?.components.files ?? [];
    this.dmaengine = em?.dmaengine ?? null;
    const m = this.m;
    if (em === null) {
      const meter = scenarioCosts(m.sim, mc.timing);
      if (meter !== null) m.core.cost = meter;
    }
    if (typeof mc.thp === "string") m.memory.anonThp[PMD_ORDER] = mc.thp;
    else {
      for (const [size, policy] of Object.entries(mc.thp.anon)) m.memory.anonThp[THP_ORDER[size]!] = policy;
      m.memory.shmemOrder = mc.thp.shmem === "never" ? 0 : THP_ORDER[mc.thp.shmem]!;
    }
    // Boot order: THP settings start khugepaged, which raises min_free_kbytes; a user's sysctl.conf then wins.
    m.watermarks.khugepagedChanged(m.memory.anonThp[PMD_ORDER] !== "never");
    m.watermarks.setLowmemReserveRatio(mc.vm.lowmem_reserve_ratio);
    if (mc.vm.min_free_kbytes !== undefined) m.watermarks.setMinFreeKbytes(mc.vm.min_free_kbytes);
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
    if (em !== null && mc.migrator !== undefined) this.migrator = loadScenarioMigrator(s, devices!, em);
  }

  task(name: string): TaskStruct {
    const t = this.procs.get(name);
    if (t === undefined) throw new Error(`unknown process "${name}"`);
    return t;
  }

  /** Give back the argument areas a step used (its arrays are dead once the call returned). */
  releaseArgs(): void {
    for (const [task, a] of this.arenas) {
      // A started call still running keeps its arrays.
      let busy = false;
      for (const c of this.calls.values()) busy ||= !c.done && c.thread === task;
      if (!busy) a.release();
    }
  }

  /** The task's argument area (arrays of syscalls it makes). */
  arena(task: TaskStruct): UserArgArena {
    let a = this.arenas.get(task);
    if (a === undefined) this.arenas.set(task, (a = new UserArgArena(this.tasks, task)));
    return a;
  }
}

