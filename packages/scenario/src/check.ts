/**
 * The checks of a parsed scenario that the schema cannot express, run before anything executes:
 * machine layout (unique nodes, whole pages, pools on nodes with memory), processes (unique names and
 * pids, CPUs and cpuset nodes that exist, known capabilities), and for every step, in order, that each
 * process, thread, file, label, pin, activity and repeat variable it names was defined by an earlier
 * step, and that each address expression parses (each operation's own checks are in ops/<op>.ts).
 * Returns "path: problem" lines.
 */
import { capByName } from "@mmemu/move-pages";
import { exprNames, parseSize } from "./expr.js";
import { DEFAULT_LIMITS, LIMIT_CEILINGS, LIMIT_NAMES, type ScenarioLimits } from "./limits.js";
import type { CheckScope, OpDef, StepCheck } from "./op.js";
import { OPS } from "./ops/index.js";
import { threadField } from "./concurrent.js";
import type { Scenario, ScenarioStep } from "./schema.js";


/** Limits given on the command line (mmemu run --limit), above the scenario's own. */
export type LimitOverrides = Partial<Record<keyof ScenarioLimits, number>>;

/** The limits in force for a scenario; problems with its `limits` section go to `out`. */
export function resolveLimits(s: Pick<Scenario, "limits">, overrides: LimitOverrides = {}, out: string[] = []): ScenarioLimits {
  const res: Record<string, number> = { ...DEFAULT_LIMITS };
  for (const name of LIMIT_NAMES) {
    const given = s.limits[name];
    let v: number | undefined;
    if (given !== undefined) {
      try {
        v = parseSize(given);
      } catch (e) {
        out.push(`limits.${name}: ${(e as Error).message}`);
      }
    }
    v = overrides[name] ?? v;
    if (v === undefined) continue;
    const ceiling = LIMIT_CEILINGS[name];
    const bad = name === "threadPeriodNs" ? v < ceiling : v > ceiling;
    if (bad) out.push(`limits.${name}: ${v} is beyond what the emulator can represent (${name === "threadPeriodNs" ? "at least" : "at most"} ${ceiling})`);
    else res[name] = v;
  }
  return res as unknown as ScenarioLimits;
}

export function checkScenario(s: Scenario, overrides: LimitOverrides = {}): string[] {
  const out: string[] = [];
  const limits = resolveLimits(s, overrides, out);
  const nodes = new Map<number, number>();
  let cpus = 0;
  s.machine.nodes.forEach((n, i) => {
    const at = `machine.nodes[${i}]`;
    if (nodes.has(n.id)) out.push(`${at}.id: node ${n.id} is declared twice`);
    let bytes = 0;
    try {
      bytes = parseSize(n.memory);
    } catch (e) {
      out.push(`${at}.memory: ${(e as Error).message}`);
    }
    if (bytes % 4096 !== 0) out.push(`${at}.memory: ${n.memory} is not a whole number of 4 KiB pages`);
    nodes.set(n.id, bytes);
    cpus += n.cpus;
  });
  const mc = s.machine;
  if (mc.profile === undefined) {
    for (const k of ["migrator", "engines"] as const) if (mc[k] !== undefined) out.push(`machine.${k}: needs machine.profile (devices and their timing come from a hardware profile)`);
  } else if (mc.timing !== "simple") out.push("machine.timing: a machine with a profile is timed by the profile; remove one of them");
  if (Object.keys(mc.modparams).length > 0 && mc.profile === undefined) out.push("machine.modparams: needs machine.profile (the modules are loaded on a profile's hardware)");
  if (Object.keys(mc.sysfs).length > 0 && mc.migrator === undefined) out.push("machine.sysfs: no migrator is loaded (set machine.migrator)");
  if (cpus === 0 && mc.profile === undefined) out.push("machine.nodes: at least one node needs a CPU");
  const total = [...nodes.values()].reduce((a, b) => a + b, 0);
  if (total > limits.machineMemory) {
    out.push(`machine.nodes: the nodes have ${total} bytes of memory in all, more than limits.machineMemory (${limits.machineMemory}); ` +
      (total > LIMIT_CEILINGS.machineMemory ? `the emulator's frame limit is ${LIMIT_CEILINGS.machineMemory} bytes (2^31 frames)` : "raise limits.machineMemory to emulate a machine this large"));
  }
  if (![...nodes.values()].some((b) => b > 0)) out.push("machine.nodes: at least one node needs memory");
  for (const [nid, count] of Object.entries(s.machine.hugetlb)) {
    const mem = nodes.get(Number(nid));
    if (mem === undefined) out.push(`machine.hugetlb.${nid}: no node ${nid} (nodes: ${[...nodes.keys()].join(", ")})`);
    else if (count * (2 << 20) > mem) out.push(`machine.hugetlb.${nid}: ${count} huge pages do not fit in node ${nid}'s ${mem} bytes`);
  }
  const checkCpu = (cpu: number, at: string) => {
    if (cpu >= cpus) out.push(`${at}: CPU ${cpu} does not exist (the machine has ${cpus} CPUs: 0..${cpus - 1})`);
  };
  const checkNodes = (list: readonly number[] | undefined, at: string) => {
    for (const [k, n] of (list ?? []).entries()) if (!nodes.has(n)) out.push(`${at}[${k}]: node ${n} does not exist`);
  };
  const files = new Set<string>();
  s.files.forEach((f, i) => {
    if (files.has(f.name)) out.push(`files[${i}].name: "${f.name}" is declared twice`);
    files.add(f.name);
  });
  const scope: CheckScope = { procs: new Set(), labels: new Set(), pins: new Set(), activities: new Set(), vars: new Set() };
  const pids = new Set<number>();
  const addName = (name: string, at: string) => {
    if (scope.procs.has(name)) out.push(`${at}: the name "${name}" is already used by another process or thread`);
    scope.procs.add(name);
  };
  const addPid = (pid: number | undefined, at: string) => {
    if (pid === undefined) return;
    if (pids.has(pid)) out.push(`${at}: pid ${pid} is already used`);
    pids.add(pid);
  };
  s.processes.forEach((p, i) => {
    const at = `processes[${i}]`;
    addName(p.name, `${at}.name`);
    addPid(p.pid, `${at}.pid`);
    checkCpu(p.cpu, `${at}.cpu`);
    checkNodes(p.cpuset, `${at}.cpuset`);
    if (Array.isArray(p.caps)) p.caps.forEach((c, k) => {
      if (capByName(c) === undefined) out.push(`${at}.caps[${k}]: unknown capability "${c}"`);
    });
    if (p.kernelThread && p.threads.length > 0) out.push(`${at}.threads: a kernel thread has no other threads here`);
    p.threads.forEach((t, k) => {
      addName(t.name, `${at}.threads[${k}].name`);
      addPid(t.pid, `${at}.threads[${k}].pid`);
      checkCpu(t.cpu, `${at}.threads[${k}].cpu`);
      checkNodes(t.cpuset, `${at}.threads[${k}].cpuset`);
    });
  });
  const ctx: Ctx = { out, files, migrator: s.machine.migrator ?? null, checkCpu, checkNodes, addName, addPid, nodes, limits, depth: 0, calls: new Map() };
  s.steps.forEach((st, i) => checkStep(ctx, scope, st, `steps[${i}]`));
  for (const [task, call] of ctx.calls) out.push(`${call.at}.task: the call "${task}" is never joined (add a join step)`);
  // What the steps add up to once repeats are expanded (a product can be astronomically large: no loop).
  const { steps, sleepNs } = expandedSize(s.steps);
  if (steps > limits.steps) out.push(`steps: the scenario expands to ${steps} steps with its repeats, more than limits.steps (${limits.steps}); raise limits.steps to run it`);
  if (sleepNs > limits.virtualNs) out.push(`steps: the sleeps add up to ${sleepNs} ns of virtual time, more than limits.virtualNs (${limits.virtualNs}); raise limits.virtualNs to run it`);
  return out;
}

/** Steps executed and virtual time slept once repeats are expanded. */
function expandedSize(steps: readonly ScenarioStep[]): { steps: number; sleepNs: number } {
  let n = 0;
  let ns = 0;
  for (const st of steps) {
    if (st.op === "repeat") {
      const inner = expandedSize(st.steps);
      n += st.times * inner.steps;
      ns += st.times * inner.sleepNs;
    } else {
      n++;
      if (st.op === "sleep") ns += st.ns;
    }
  }
  return { steps: n, sleepNs: ns };
}

interface Ctx {
  out: string[];
  files: Set<string>;
  migrator: string | null;
  nodes: Map<number, number>;
  checkCpu(cpu: number, at: string): void;
  checkNodes(list: readonly number[] | undefined, at: string): void;
  addName(name: string, at: string): void;
  addPid(pid: number | undefined, at: string): void;
  limits: ScenarioLimits;
  /** Repeat nesting depth of the steps being checked. */
  depth: number;
  /** Calls started and not yet joined: where, by which thread, at which repeat depth. */
  calls: Map<string, { at: string; thread: string; depth: number }>;
}

function known(set: ReadonlySet<string>): string {
  return set.size === 0 ? "none yet" : [...set].join(", ");
}

function checkStep(c: Ctx, scope: CheckScope, st: ScenarioStep, at: string): void {
  const { out } = c;
  if (st.op === "repeat") {
    if (c.depth + 1 > c.limits.repeatDepth) {
      out.push(`${at}: repeats nested ${c.depth + 1} deep, more than limits.repeatDepth (${c.limits.repeatDepth})`);
      return;
    }
    const inner: CheckScope = { ...scope, vars: new Set([...scope.vars, "i", ...Object.keys(st.vars)]) };
    const deeper = { ...c, depth: c.depth + 1 };
    st.steps.forEach((s2, k) => checkStep(deeper, inner, s2, `${at}.steps[${k}]`));
    for (const [task, call] of c.calls) {
      if (call.depth !== deeper.depth) continue;
      out.push(`${call.at}.task: the call "${task}" is not joined inside its repeat (each iteration must join what it starts)`);
      c.calls.delete(task);
    }
    return;
  }
  if (st.op === "start") {
    const field = threadField(st.call.op);
    const thread = (st.call as Record<string, unknown>)[field] as string;
    const prev = c.calls.get(st.task);
    if (prev !== undefined) out.push(`${at}.task: the call "${st.task}" started at ${prev.at} is not joined yet; join it before starting another under that name`);
    for (const [task, call] of c.calls) {
      if (call.thread === thread) out.push(`${at}.call.${field}: thread "${thread}" is still in the call started as "${task}" (${call.at}); a thread makes one call at a time`);
    }
    if (st.delayNs > c.limits.virtualNs) out.push(`${at}.delayNs: ${st.delayNs} ns is beyond limits.virtualNs (${c.limits.virtualNs}); raise limits.virtualNs to start a call that late`);
    checkStep(c, scope, st.call, `${at}.call`);
    c.calls.set(st.task, { at, thread, depth: c.depth });
    return;
  }
  if (st.op === "join") {
    const call = c.calls.get(st.task);
    if (call === undefined) out.push(`${at}.task: unknown call "${st.task}" (started and not joined before this step: ${known(new Set(c.calls.keys()))})`);
    else if (call.depth !== c.depth) out.push(`${at}.task: the call "${st.task}" was started at ${call.at}, outside this repeat; join it at the same level`);
    c.calls.delete(st.task);
    return;
  }
  const proc = (name: string, field = "process") => {
    if (!scope.procs.has(name)) out.push(`${at}.${field}: unknown process or thread "${name}" (defined before this step: ${known(scope.procs)})`);
  };
  const sc: StepCheck = {
    scope,
    files: c.files,
    migrator: c.migrator,
    problem: (field, text) => out.push(`${at}.${field}: ${text}`),
    proc,
    addr(e, field) {
      try {
        const { ids, vars } = exprNames(e);
        for (const id of ids) if (!scope.labels.has(id)) out.push(`${at}.${field}: unknown label "${id}" (labels defined before this step: ${known(scope.labels)})`);
        for (const v of vars) if (!scope.vars.has(v)) out.push(`${at}.${field}: unknown variable "$${v}" (only inside a repeat: ${known(scope.vars)})`);
      } catch (err) {
        out.push(`${at}.${field}: "${e}" is not an address expression: ${(err as Error).message}`);
      }
    },
    size(v, field) {
      try {
        parseSize(v);
      } catch (err) {
        out.push(`${at}.${field}: ${(err as Error).message}`);
      }
    },
    intVar(v, field) {
      if (typeof v === "string" && !scope.vars.has(v.slice(1))) out.push(`${at}.${field}: unknown variable "${v}"`);
    },
    pid(v) {
      if (typeof v === "string") proc(v, "pid");
    },
    nodeBytes: (id) => c.nodes.get(id),
    cpu: (cpu, field) => c.checkCpu(cpu, `${at}.${field}`),
    nodes: (list, field) => c.checkNodes(list, `${at}.${field}`),
    addName: (name, field) => c.addName(name, `${at}.${field}`),
    addPid: (pid, field) => c.addPid(pid, `${at}.${field}`),
    known,
    limits: c.limits,
    entries(n, field) {
      if (n > c.limits.arrayEntries) out.push(`${at}.${field}: ${n} entries, more than limits.arrayEntries (${c.limits.arrayEntries}); raise limits.arrayEntries to use more`);
    },
  };
  (OPS[st.op] as OpDef).check(sc, st);
}
