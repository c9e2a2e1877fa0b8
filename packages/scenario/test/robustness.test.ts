/**
 * Bad input and long runs: the limits (checked before and while running), results that stream, the
 * runner's argument areas, text encodings, and the emulation bugs bad input found (kernel addresses,
 * huge raw counts, odd node sizes).
 */
import test from "ava";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DEFAULT_LIMITS, loadScenarioFile, parseLimitOptions, prepareScenarioDevices, runScenario, ScenarioError, validateScenario,
  type RunResult, type Scenario, type StepRecord,
} from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "mmemu-robust-"));
const machine = { nodes: [{ id: 0, memory: "16MiB", cpus: 2 }, { id: 1, memory: "16MiB", cpus: 2 }] };

function scenario(steps: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { version: 1, name: "t", machine, processes: [{ name: "p", threads: [{ name: "p.t", cpu: 1 }] }], steps, ...extra };
}

/** Run a scenario whose machine has a profile (its devices loaded first, as mmemu run does). */
async function runWithDevices(s: Scenario): Promise<RunResult> {
  return runScenario(s, { devices: await prepareScenarioDevices(s) });
}

function problems(obj: unknown): string[] {
  try {
    validateScenario(obj, "s.json");
  } catch (e) {
    if (e instanceof ScenarioError) return [...e.problems];
    throw e;
  }
  return [];
}

const buf = { op: "mmap", process: "p", as: "b", len: "1p" };

test("the caps are checked before running, each naming the field and the limit to raise", (t) => {
  t.deepEqual(problems(scenario([buf, { op: "inspect", process: "p", addr: "b", pages: 1e9 }])),
    [`steps[1].pages: 1000000000 entries, more than limits.arrayEntries (${DEFAULT_LIMITS.arrayEntries}); raise limits.arrayEntries to use more`]);
  t.regex(problems(scenario([buf, { op: "move_pages", process: "p", pages: { range: "b", count: 1e9 }, nodes: { fill: 1, count: 1e9 } }])).join("\n"),
    /steps\[1\]\.pages\.count: 1000000000 entries[^\n]*\nsteps\[1\]\.nodes\.count: 1000000000 entries/);
  t.regex(problems(scenario([{ op: "repeat", times: 100000, steps: [{ op: "repeat", times: 100000, steps: [{ op: "sleep", ns: 1 }] }] }])).join("\n"),
    /^steps: the scenario expands to 10000000000 steps with its repeats, more than limits\.steps \(1000000\)/);
  const deep = (n: number): unknown => (n === 0 ? { op: "sleep", ns: 1 } : { op: "repeat", times: 1, steps: [deep(n - 1)] });
  t.regex(problems(scenario([deep(5)])).join("\n"), /steps\[0\]\.steps\[0\]\.steps\[0\]\.steps\[0\]\.steps\[0\]: repeats nested 5 deep, more than limits\.repeatDepth \(4\)/);
  t.deepEqual(problems(scenario([deep(4)])), []);
  t.regex(problems(scenario([buf, { op: "spawn", process: "p", as: "r", kind: "read", addr: "b", everyNs: 1 }])).join("\n"), /steps\[1\]\.everyNs: 1 ns is shorter than limits\.threadPeriodNs \(10 ns\)/);
  t.regex(problems(scenario([{ op: "sleep", ns: 61e9 }])).join("\n"), /steps: the sleeps add up to 61000000000 ns of virtual time, more than limits\.virtualNs/);
  t.regex(problems({ ...scenario([{ op: "sleep", ns: 1 }]), machine: { nodes: [{ id: 0, memory: "4096GiB" }] } }).join("\n"), /machine\.nodes: the nodes have 4398046511104 bytes of memory in all, more than limits\.machineMemory/);
});

test("a limit is raised explicitly in the scenario or by an override, never past the emulator's ceiling", (t) => {
  const big = scenario([buf, { op: "inspect", process: "p", addr: "b", pages: 5_000_000 }]);
  t.is(problems(big).length, 1);
  t.deepEqual(problems({ ...big, limits: { arrayEntries: 5_000_000 } }), []);
  t.notThrows(() => validateScenario(big, "s.json", { arrayEntries: 5_000_000 }));
  t.regex(problems({ ...big, limits: { arrayEntries: 2 ** 40 } }).join("\n"), /limits\.arrayEntries: 1099511627776 is beyond what the emulator can represent/);
  t.regex(problems({ ...big, limits: { machineMemory: "10TiB" } }).join("\n"), /limits\.machineMemory: "10TiB" is not a size/);
  t.deepEqual(parseLimitOptions(["steps=5000000", "virtualNs=1000"]), { steps: 5_000_000, virtualNs: 1000 });
  t.throws(() => parseLimitOptions(["stepz=1"]), { message: /--limit "stepz=1": no limit "stepz"/ });
  t.throws(() => parseLimitOptions(["steps=-1"]), { message: /--limit "steps=-1": expected name=whole number/ });
});

test("run-time limits stop the run at the step that crossed them, naming it", (t) => {
  const hot = scenario([buf, { op: "spawn", process: "p", thread: "p.t", as: "r", kind: "read", addr: "b", everyNs: 10 }, { op: "sleep", ns: 1e9 }]);
  const r = runScenario(validateScenario({ ...hot, limits: { threadAccesses: 1000 } }));
  t.false(r.ok);
  t.is(r.limitReached, "threadAccesses");
  t.regex(r.error!, /^steps 2 \(sleep\): the reader\/writer threads made 1000 accesses and were stopped \(limit threadAccesses; raise it/);
  const slow = validateScenario(scenario([{ op: "sleep", ns: 1000 }, { op: "sleep", ns: 1000 }]), "s.json");
  const r2 = runScenario(slow, { limits: { virtualNs: 1500 } });
  t.is(r2.limitReached, "virtualNs");
  t.regex(r2.error!, /^steps 1 \(sleep\): the virtual clock passed 1500 ns/);
  t.is(r2.stepsRun, 2);
  const r3 = runScenario(validateScenario(scenario([{ op: "repeat", times: 10, steps: [{ op: "sleep", ns: 1 }] }])), { limits: { steps: 4 } });
  t.is(r3.limitReached, "steps");
  t.regex(r3.error!, /^steps 0\.4\.0 \(sleep\): 4 steps have run/);
});

test("records stream: a long run keeps only keepSteps records, counts every step and hands each to onStep", (t) => {
  let seen = 0;
  const r = runScenario(validateScenario(scenario([{ op: "repeat", times: 3000, steps: [{ op: "sleep", ns: 1 }] }])), { keepSteps: 10, onStep: () => seen++ });
  t.is(r.steps.length, 10);
  t.is(r.stepsRun, 3000);
  t.is(seen, 3000);
  t.true(r.ok);
});

test("20,000 one-page move_pages steps: the runner frees each step's argument arrays (no ENOMEM)", (t) => {
  const s = scenario([buf, { op: "write", process: "p", addr: "b", len: "1p" },
    { op: "repeat", times: 20000, vars: { n: [1, 0] }, steps: [{ op: "move_pages", process: "p", pages: ["b"], nodes: ["$n"], expect: { ret: 0, status: ["$n"] } }] }]);
  let bad: StepRecord | null = null;
  const r = runScenario(validateScenario(s), { keepSteps: 0, onStep: (rec) => void (bad ??= rec.ok ? null : rec) });
  t.is(bad, null);
  t.true(r.ok, r.error);
  t.is(r.stepsRun, 20002);
});

function one(steps: unknown[], extra: Record<string, unknown> = {}): RunResult {
  return runScenario(validateScenario(scenario(steps, extra)));
}

test("mmap(MAP_FIXED) at a kernel address fails with ENOMEM; move_pages of a kernel address is -EFAULT", (t) => {
  const r = one([
    { op: "mmap", process: "p", as: "k", len: "1p", flags: ["PRIVATE", "ANONYMOUS", "FIXED"], addr: "KERNEL", expect: { errno: "ENOMEM" } },
    { op: "move_pages", process: "p", pages: ["KERNEL"], nodes: [1], expect: { ret: 0, status: ["-EFAULT"] } },
    { op: "move_pages", process: "p", pages: ["KERNEL"], nodes: null, expect: { ret: 0, status: ["-EFAULT"] } },
  ]);
  t.true(r.ok, JSON.stringify(r.steps.map((s) => s.mismatches)));
});

test("a raw count of 2^40 or ULONG_MAX with a raw pages pointer returns -EFAULT (no RangeError); the count prints exactly", (t) => {
  for (const count of ["0x10000000000", "0xffffffffffffffff"]) {
    const r = one([{ op: "move_pages", process: "p", count, pages: { raw: "0x1000" }, nodes: { raw: "0x1000" }, expect: { errno: "EFAULT" } }]);
    t.true(r.ok, r.error ?? JSON.stringify(r.steps[0]!.mismatches));
    t.regex(r.steps[0]!.call, new RegExp(`move_pages\\(0, ${BigInt(count).toString()}, raw`));
  }
});

test("THP and hugetlb moves to and from nodes whose sizes are not multiples of 2 MiB", (t) => {
  const odd = { nodes: [{ id: 0, memory: "13MiB" }, { id: 1, memory: "19MiB" }, { id: 2, memory: "10244KiB" }], thp: "always", hugetlb: { 1: 2, 2: 1 }, check: true };
  const r = one([
    { op: "mmap", process: "p", as: "b", len: "2MiB", align: "2MiB" },
    { op: "write", process: "p", addr: "b", len: "2MiB", pattern: "0x1234" },
    { op: "move_pages", process: "p", pages: ["b"], nodes: [1], expect: { status: [1] } },
    { op: "inspect", process: "p", addr: "b", pages: 512, expect: { order: 9, node: 1, data: { pattern: "0x1234" } } },
    { op: "move_pages", process: "p", pages: ["b"], nodes: [2], expect: { status: [2] } },
    { op: "inspect", process: "p", addr: "b", pages: 512, expect: { order: 9, node: 2, data: { pattern: "0x1234" } } },
    { op: "mmap", process: "p", as: "h", len: "2MiB", flags: ["PRIVATE", "ANONYMOUS", "HUGETLB"] },
    { op: "write", process: "p", addr: "h", len: "2MiB", pattern: "0x55" },
    { op: "move_pages", process: "p", pages: ["h"], nodes: [2], expect: { status: [2] } },
    { op: "inspect", process: "p", addr: "h", pages: 512, expect: { hugetlb: true, node: 2, data: { pattern: "0x55" } } },
  ], { machine: odd, processes: [{ name: "p" }] });
  t.true(r.ok, r.error ?? JSON.stringify(r.steps.filter((s) => !s.ok).map((s) => s.mismatches)));
});

function file(name: string, bytes: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

function loadProblems(path: string): string {
  try {
    loadScenarioFile(path);
    return "";
  } catch (e) {
    return (e as ScenarioError).problems.join("\n");
  }
}

test("encodings: a UTF-8 BOM is accepted; UTF-16 and tab-indented YAML are refused by name", (t) => {
  const text = JSON.stringify(scenario([{ op: "sleep", ns: 1 }]));
  t.is(loadScenarioFile(file("bom.json", `\ufeff${text}`)).name, "t");
  t.is(loadProblems(file("u16.json", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]))), "the file is UTF-16 encoded; save it as UTF-8");
  t.regex(loadProblems(file("u16nobom.json", Buffer.from(text, "utf16le"))), /looks UTF-16 encoded/);
  t.is(loadProblems(file("tab.yaml", "version: 1\nname: t\nmachine:\n\tnodes: []\n")), "line 4: indented with a tab; YAML indentation must be spaces");
  t.is(loadProblems(file("latin1.json", Buffer.from([0x7b, 0xe9, 0x7d]))), "the file is not valid UTF-8 text");
  t.is(loadProblems(dir), "is a directory, not a scenario file");
});

test("faults from a scenario: a device fault with dcbm on zen3-ptdma hardware (driver fixes on) keeps the data; a folio target hits only that folio", async (t) => {
  const r = await runWithDevices(validateScenario({
    version: 1, name: "faults", processes: [{ name: "p" }],
    machine: {
      nodes: [{ id: 0, memory: "64MiB", cpus: 2 }, { id: 1, memory: "64MiB", cpus: 2 }], thp: "always", check: true,
      profile: "zen3-ptdma", migrator: "dcbm", sysfs: { nr_dma_chan: 2 },
      modparams: { dcbm: { checkResults: true, callbackOnLastOnly: false }, ptdma: { errorsVisibleToClient: true } },
    },
    steps: [
      { op: "mmap", process: "p", as: "b", len: "8MiB", align: "2MiB" },
      { op: "write", process: "p", addr: "b", len: "8MiB", pattern: "0x1234" },
      { op: "fault", point: "ptdma.bus_fault", times: 2 },
      { op: "move_pages", process: "p", pages: { range: "b", count: 4, stride: "2MiB" }, nodes: { fill: 1, count: 4 }, expect: { status: { all: 1 } } },
      { op: "inspect", process: "p", addr: "b", pages: 2048, expect: { node: 1, data: { pattern: "0x1234" } } },
      { op: "fault", point: "ptdma.bus_fault", disarm: true, expect: { injected: 2 } },
      { op: "fault", point: "migrate_extra_ref", target: { process: "p", addr: "b+2MiB" } },
      { op: "move_pages", process: "p", pages: { range: "b", count: 4, stride: "2MiB" }, nodes: { fill: 0, count: 4 }, expect: { ret: 1 } },
      { op: "inspect", process: "p", addr: "b", pages: 4, stride: "2MiB", expect: { data: { pattern: "0x1234" } } },
      { op: "node_info", node: 1, name: "the targeted folio alone stayed on node 1" },
      { op: "fault", point: "no_such_point" },
    ],
  }));
  t.is(r.error, undefined);
  const bad = r.steps.filter((s) => !s.ok);
  t.deepEqual(bad.map((s) => s.index), ["10"], JSON.stringify(bad.map((s) => s.mismatches)));
  t.regex(bad[0]!.mismatches[0]!, /^no fault point "no_such_point" on this machine \(points: .*dcbm\.alloc_fail.*migrate_extra_ref.*ptdma\.bus_fault/);
});

test("RunOptions.faults arms a point before the first step; an unknown one stops the run as a bad option", (t) => {
  const s = validateScenario(scenario([buf, { op: "write", process: "p", addr: "b", len: "1p" }, { op: "move_pages", process: "p", pages: ["b"], nodes: [1], expect: { ret: 1, status: ["untouched"] } }]));
  t.true(runScenario(s, { faults: [{ point: "migrate_extra_ref", config: {} }] }).ok);
  const r = runScenario(s, { faults: [{ point: "nope", config: {} }] });
  t.true(r.badOption);
  t.regex(r.error!, /^--fault nope: unknown fault point "nope"; defined: /);
});

test("dcbm on SDXI functions completing out of order: an SDXI bus fault on a non-last descriptor is caught only with a callback per descriptor", async (t) => {
  const run = (callbackOnLastOnly: boolean) => runWithDevices(validateScenario({
    version: 1, name: "sdxi", processes: [{ name: "p" }],
    machine: {
      nodes: [{ id: 0, memory: "64MiB", cpus: 2 }, { id: 1, memory: "64MiB", cpus: 2 }], check: true,
      profile: "example-sdxi", migrator: "dcbm", sysfs: { nr_dma_chan: 2 },
      modparams: { dcbm: { checkResults: true, callbackOnLastOnly }, sdxi: { completionOrder: "outOfOrderWithoutFence" } },
    },
    steps: [
      { op: "mmap", process: "p", as: "b", len: "256p" },
      { op: "write", process: "p", addr: "b", len: "256p", pattern: "0x77" },
      { op: "fault", point: "sdxi.bus_fault", times: 1 },
      { op: "move_pages", process: "p", pages: { range: "b", count: 256 }, nodes: { fill: 1, count: 256 }, expect: { ret: "any" } },
      { op: "inspect", process: "p", addr: "b", pages: 256, expect: { data: { pattern: "0x77" } } },
      { op: "fault", point: "sdxi.bus_fault", disarm: true, expect: { injected: 1 } },
    ],
  }));
  const posted = await run(true);
  t.false(posted.ok);
  // The driver-bug checker names the batch and pair whose copy was claimed done before its data arrived.
  t.true(posted.steps[3]!.mismatches.some((m) => /^invariant violated: migrator DCBM, batch \d+, pair \d+ .*claimed copied.*does not hold the source's data/.test(m)), JSON.stringify(posted.steps[3]!.mismatches.slice(0, 2)));
  const fixed = await run(false);
  t.true(fixed.ok, JSON.stringify(fixed.steps.filter((s) => !s.ok).map((s) => s.mismatches)));
});

test("a failed mmap leaves MAP_FAILED in its label: later steps using it fail cleanly instead of stopping the run", (t) => {
  const r = runScenario(validateScenario(scenario([
    { op: "mmap", process: "p", as: "b", len: "1p", flags: ["PRIVATE", "ANONYMOUS", "FIXED"], addr: "KERNEL", expect: { errno: "ENOMEM" } },
    { op: "madvise", process: "p", addr: "b", len: "1p", advice: "HUGEPAGE", expect: { errno: ["EINVAL", "ENOMEM"] } },
    { op: "write", process: "p", addr: "b", len: "1p", expect: { fault: true } },
    { op: "move_pages", process: "p", pages: ["b"], nodes: [1], expect: { ret: 0, status: ["-EFAULT"] } },
  ])));
  t.true(r.ok, r.error ?? JSON.stringify(r.steps.map((s) => s.mismatches)));
});
