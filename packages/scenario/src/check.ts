/**
 * The checks of a parsed scenario that the schema cannot express, run before anything executes:
 * machine layout (unique nodes, whole pages, pools on nodes with memory), processes (unique names and
 * pids, CPUs and cpuset nodes that exist, known capabilities), and for every step, in order, that each
 * process, thread, file, label, pin, activity and repeat variable it names was defined by an earlier
 * step, and that each address expression parses. Returns "path: problem" lines.
 */
import { capByName } from "@mmemu/move-pages";
import { exprNames, parseSize } from "./expr.js";
import type { Scenario, ScenarioStep } from "./schema.js";

interface Scope {
  procs: Set<string>;
  labels: Set<string>;
  pins: Set<string>;
  activities: Set<string>;
  vars: Set<string>;
}

export function checkScenario(s: Scenario): string[] {
  const out: string[] = [];
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
  if (Object.keys(mc.sysfs).length > 0 && mc.migrator === undefined) out.push("machine.sysfs: no migrator is loaded (set machine.migrator)");
  if (cpus === 0 && mc.profile === undefined) out.push("machine.nodes: at least one node needs a CPU");
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
  const scope: Scope = { procs: new Set(), labels: new Set(), pins: new Set(), activities: new Set(), vars: new Set() };
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
  const ctx = { out, files, checkCpu, checkNodes, addName, addPid, nodes };
  s.steps.forEach((st, i) => checkStep(ctx, scope, st, `steps[${i}]`));
  return out;
}

interface Ctx {
  out: string[];
  files: Set<string>;
  nodes: Map<number, number>;
  checkCpu(cpu: number, at: string): void;
  checkNodes(list: readonly number[] | undefined, at: string): void;
  addName(name: string, at: string): void;
  addPid(pid: number | undefined, at: string): void;
}

function known(set: Set<string>): string {
  return set.size === 0 ? "none yet" : [...set].join(", ");
}

function checkStep(c: Ctx, scope: Scope, st: ScenarioStep, at: string): void {
  const { out } = c;
  const proc = (name: string, field = "process") => {
    if (!scope.procs.has(name)) out.push(`${at}.${field}: unknown process or thread "${name}" (defined before this step: ${known(scope.procs)})`);
  };
  const addr = (e: number | string, field: string) => {
    try {
      const { ids, vars } = exprNames(e);
      for (const id of ids) if (!scope.labels.has(id)) out.push(`${at}.${field}: unknown label "${id}" (labels defined before this step: ${known(scope.labels)})`);
      for (const v of vars) if (!scope.vars.has(v)) out.push(`${at}.${field}: unknown variable "$${v}" (only inside a repeat: ${known(scope.vars)})`);
    } catch (err) {
      out.push(`${at}.${field}: "${e}" is not an address expression: ${(err as Error).message}`);
    }
  };
  const size = (v: number | string, field: string) => {
    try {
      parseSize(v);
    } catch (err) {
      out.push(`${at}.${field}: ${(err as Error).message}`);
    }
  };
  const intVar = (v: number | string, field: string) => {
    if (typeof v === "string" && !scope.vars.has(v.slice(1))) out.push(`${at}.${field}: unknown variable "${v}"`);
  };
  const pid = (v: number | string) => {
    if (typeof v === "string") proc(v, "pid");
  };
  switch (st.op) {
    case "mmap":
      proc(st.process);
      size(st.len, "len");
      size(st.offset, "offset");
      if (st.align !== undefined) size(st.align, "align");
      if (st.addr !== undefined) addr(st.addr, "addr");
      if (st.file !== undefined && !c.files.has(st.file)) out.push(`${at}.file: unknown file "${st.file}" (files: ${known(c.files)})`);
      if (st.flags.includes("HUGETLB") && st.file !== undefined) out.push(`${at}.flags: HUGETLB mappings are anonymous here (no hugetlbfs files)`);
      if (!st.flags.includes("ANONYMOUS") && st.file === undefined) out.push(`${at}.file: a mapping without ANONYMOUS needs a file`);
      scope.labels.add(st.as);
      break;
    case "munmap": case "mprotect": case "mlock": case "munlock": case "madvise":
      proc(st.process);
      addr(st.addr, "addr");
      size(st.len, "len");
      break;
    case "ksm_scan": case "sleep": case "vm_events":
      break;
    case "node_info": case "fill_node":
      if (!c.nodes.has(st.node)) out.push(`${at}.node: node ${st.node} does not exist`);
      if (st.op === "fill_node") size(st.leave, "leave");
      break;
    case "fork":
      proc(st.parent, "parent");
      c.addName(st.child, `${at}.child`);
      c.addPid(st.pid, `${at}.pid`);
      if (st.cpu !== undefined) c.checkCpu(st.cpu, `${at}.cpu`);
      break;
    case "exit": case "reap": case "setresuid": case "setresgid": case "prctl_set_dumpable":
      proc(st.process);
      break;
    case "capset":
      proc(st.process);
      for (const [k, n] of [...st.effective, ...(st.permitted ?? [])].entries()) {
        if (capByName(n) === undefined) out.push(`${at}.effective/permitted[${k}]: unknown capability "${n}"`);
      }
      break;
    case "set_cpuset":
      proc(st.process);
      c.checkNodes(st.nodes, `${at}.nodes`);
      break;
    case "thread":
      proc(st.process);
      c.addName(st.thread, `${at}.thread`);
      c.addPid(st.pid, `${at}.pid`);
      c.checkCpu(st.cpu, `${at}.cpu`);
      c.checkNodes(st.cpuset, `${at}.cpuset`);
      break;
    case "write": case "read": case "touch":
      proc(st.process);
      addr(st.addr, "addr");
      size(st.len, "len");
      break;
    case "pin":
      proc(st.process);
      addr(st.addr, "addr");
      scope.pins.add(st.as);
      break;
    case "unpin":
      if (!scope.pins.has(st.pin)) out.push(`${at}.pin: unknown pin "${st.pin}" (pins: ${known(scope.pins)})`);
      break;
    case "device":
      proc(st.process);
      addr(st.addr, "addr");
      if (!c.nodes.has(st.node)) out.push(`${at}.node: node ${st.node} does not exist`);
      break;
    case "pfnmap":
      proc(st.process);
      size(st.len, "len");
      if (!c.nodes.get(st.node)) out.push(`${at}.node: node ${st.node} has no memory to map`);
      scope.labels.add(st.as);
      break;
    case "move_pages": {
      proc(st.process);
      pid(st.pid);
      if (Array.isArray(st.pages)) st.pages.forEach((p, k) => addr(p, `pages[${k}]`));
      else if ("range" in st.pages) {
        addr(st.pages.range, "pages.range");
        size(st.pages.stride, "pages.stride");
      } else {
        addr(st.pages.raw, "pages.raw");
        if (st.count === undefined) out.push(`${at}.count: required when pages is a raw pointer`);
      }
      if (typeof st.count === "string") addr(st.count, "count");
      if (st.nodes !== null) {
        if (Array.isArray(st.nodes)) st.nodes.forEach((n, k) => intVar(n, `nodes[${k}]`));
        else if ("fill" in st.nodes) intVar(st.nodes.fill, "nodes.fill");
        else addr(st.nodes.raw, "nodes.raw");
      }
      if (st.status !== "auto") addr(st.status.raw, "status.raw");
      for (const f of ["pagesAt", "nodesAt", "statusAt"] as const) if (st[f] !== undefined) addr(st[f]!, f);
      if (Array.isArray(st.pages) && Array.isArray(st.nodes) && st.nodes.length !== st.pages.length && st.count === undefined) {
        out.push(`${at}.nodes: ${st.nodes.length} nodes for ${st.pages.length} pages (give count to pass a different count on purpose)`);
      }
      break;
    }
    case "migrate_pages":
      proc(st.process);
      pid(st.pid);
      if (!Array.isArray(st.old)) addr(st.old.raw, "old.raw");
      if (!Array.isArray(st.new)) addr(st.new.raw, "new.raw");
      break;
    case "inspect":
      proc(st.process);
      addr(st.addr, "addr");
      size(st.stride, "stride");
      if (st.expect?.sameAs) {
        proc(st.expect.sameAs.process, "expect.sameAs.process");
        addr(st.expect.sameAs.addr, "expect.sameAs.addr");
      }
      if (typeof st.expect?.node === "string") intVar(st.expect.node, "expect.node");
      break;
    case "spawn":
      proc(st.process);
      if (st.thread !== undefined) proc(st.thread, "thread");
      addr(st.addr, "addr");
      if (scope.activities.has(st.as)) out.push(`${at}.as: activity "${st.as}" already exists`);
      scope.activities.add(st.as);
      break;
    case "stop":
      if (!scope.activities.has(st.activity)) out.push(`${at}.activity: unknown activity "${st.activity}" (spawned: ${known(scope.activities)})`);
      break;
    case "repeat": {
      const inner: Scope = { ...scope, vars: new Set([...scope.vars, "i", ...Object.keys(st.vars)]) };
      st.steps.forEach((s2, k) => checkStep(c, inner, s2, `${at}.steps[${k}]`));
      break;
    }
  }
}
