/** The runner: results, mismatch reports, repeats, threads during migrations, failures. */
import test from "ava";
import { runScenario, validateScenario, type RunResult } from "../src/index.js";

const machine = { nodes: [{ id: 0, memory: "16MiB", cpus: 2 }, { id: 1, memory: "16MiB", cpus: 2 }] };

function run(steps: unknown[], extra: Record<string, unknown> = {}): RunResult {
  return runScenario(validateScenario({ version: 1, name: "t", machine, processes: [{ name: "p", uid: 1000, threads: [{ name: "p.t", cpu: 2 }] }], steps, ...extra }));
}

const setup = [
  { op: "mmap", process: "p", as: "buf", len: "2p" },
  { op: "write", process: "p", addr: "buf", len: "1p", pattern: "0xabcd" },
];

test("a syscall step records ret, errno and the status array", (t) => {
  const r = run([...setup, { op: "move_pages", process: "p", pages: ["buf", "buf+1p", "NULL"], nodes: [1, 1, 1], expect: { ret: 0, status: [1, "-ENOENT", "-EFAULT"] } }]);
  t.true(r.ok);
  const rec = r.steps[2]!;
  t.is(rec.op, "move_pages");
  t.deepEqual(rec.result.status, [1, -2, -14]);
  t.is(rec.result.ret, 0);
  t.is(rec.result.errno, 0);
});

test("each mismatch is reported and the run fails", (t) => {
  const r = run([...setup,
    { op: "move_pages", process: "p", pages: ["buf", "buf+1p"], nodes: [1, 1], expect: { ret: 1, errno: "EFAULT", status: [0, "-EACCES"] } },
    { op: "inspect", process: "p", addr: "buf", expect: { node: 0, data: { pattern: "0x1111" } } },
  ]);
  t.false(r.ok);
  t.is(r.failed, 2);
  t.deepEqual(r.steps[2]!.mismatches, [
    "returned 0, expected 1",
    "errno is 0 (success), expected EFAULT",
    "status[0] is 1, expected 0",
    "status[1] is -2 (-ENOENT), expected -EACCES",
  ]);
  t.deepEqual(r.steps[3]!.mismatches, ["0x" + (r.steps[3]!.result.pages as Array<{ addr: string }>)[0]!.addr.slice(2) + ": node is 1, expected 0", `0x${(r.steps[3]!.result.pages as Array<{ addr: string }>)[0]!.addr.slice(2)} data: page 0 does not hold pattern 0x1111`]);
});

test("an unexpected failure is a mismatch even without an expectation", (t) => {
  const r = run([...setup, { op: "move_pages", process: "p", pages: ["buf"], nodes: [7] }]);
  t.deepEqual(r.steps[2]!.mismatches, ["failed with ENODEV and no failure was expected"]);
});

test("repeat steps run with their variables and are numbered step.iteration.inner", (t) => {
  const r = run([...setup, { op: "repeat", times: 3, vars: { n: [1, 0] }, steps: [
    { op: "move_pages", process: "p", pages: ["buf"], nodes: ["$n"], expect: { status: ["$n"] } },
    { op: "inspect", process: "p", addr: "buf", expect: { node: "$n" } },
  ] }]);
  t.true(r.ok);
  t.deepEqual(r.steps.map((s) => s.index), ["0", "1", "2.0.0", "2.0.1", "2.1.0", "2.1.1", "2.2.0", "2.2.1"]);
});

test("a thread's accesses run during a migration and wait on the migration entry (simple timing)", (t) => {
  const steps = [...setup,
    { op: "spawn", process: "p", thread: "p.t", as: "r", kind: "read", addr: "buf", everyNs: 50 },
    { op: "repeat", times: 4, vars: { n: [1, 0] }, steps: [{ op: "move_pages", process: "p", pages: ["buf"], nodes: ["$n"], flags: ["MOVE"] }] },
    { op: "stop", activity: "r" },
  ];
  const timed = run(steps);
  t.true(timed.ok);
  const stats = timed.steps.at(-1)!.result as { accesses: number; migrationWaits: number };
  t.true(stats.migrationWaits >= 4, `${stats.migrationWaits} waits`);
  t.true(stats.accesses > 10);
  const untimed = run(steps, { machine: { ...machine, timing: "none" } });
  t.is((untimed.steps.at(-1)!.result as { migrationWaits: number }).migrationWaits, 0, "without time passing nothing interleaves");
});

test("a step that throws stops the run and is reported", (t) => {
  const r = run([{ op: "fork", parent: "p", child: "c" }, { op: "reap", process: "c" }, { op: "sleep", ns: 1 }]);
  t.false(r.ok);
  t.is(r.steps.length, 2);
  t.regex(r.error!, /^steps 1 \(reap\) threw Error: task \d+ is not a zombie/);
});

test("arrays can be placed where the caller cannot write: the kernel reports EFAULT", (t) => {
  const r = run([...setup,
    { op: "mmap", process: "p", as: "ro", len: "1p", prot: ["READ"] },
    { op: "move_pages", process: "p", pages: ["buf"], nodes: [1], statusAt: "ro", expect: { ret: -1, errno: "EFAULT" } },
    { op: "inspect", process: "p", addr: "buf", expect: { node: 1 } },
  ]);
  t.true(r.ok, JSON.stringify(r.steps.flatMap((s) => s.mismatches)));
});

test("the kernel version changes results (never-touched page on 6.1)", (t) => {
  const steps = [...setup, { op: "move_pages", process: "p", pages: ["buf+1p"], nodes: null, expect: { status: ["-ENOENT"] } }];
  t.true(run(steps).ok);
  const old = run(steps, { kernel: "6.1" });
  t.deepEqual(old.steps[2]!.mismatches, ["status[0] is -14 (-EFAULT), expected -ENOENT"]);
});

test("large status arrays are summarised in the record", (t) => {
  const r = run([{ op: "mmap", process: "p", as: "b", len: "5000p", flags: ["PRIVATE", "ANONYMOUS", "POPULATE"] },
    { op: "move_pages", process: "p", pages: { range: "b", count: 5000 }, nodes: null, expect: { status: { all: 0 } } }],
  { machine: { nodes: [{ id: 0, memory: "64MiB", cpus: 2 }, { id: 1, memory: "16MiB", cpus: 2 }] } });
  t.true(r.ok);
  t.deepEqual(r.steps[1]!.result.statusSummary, { 0: 5000 });
  t.is(r.steps[1]!.result.status, undefined);
});

test("machine.strictOffload: a run without a migrator has nothing to fall back and passes; a wrong value names the field", (t) => {
  const steps = [...setup, { op: "move_pages", process: "p", pages: ["buf"], nodes: [1], expect: { ret: 0 } }];
  const r = runScenario(validateScenario({ version: 1, name: "t", machine: { ...machine, strictOffload: true }, processes: [{ name: "p", uid: 1000, threads: [{ name: "p.t", cpu: 2 }] }], steps }));
  t.true(r.ok);
  t.deepEqual(r.fallback, {});
  t.is(r.strictOffload, undefined);
  t.throws(() => validateScenario({ version: 1, name: "t", machine: { ...machine, strictOffload: "yes" }, steps: [] }), { message: /machine\.strictOffload/ });
});
