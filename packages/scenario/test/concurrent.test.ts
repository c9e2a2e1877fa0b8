/** start and join: calls made concurrently by other threads, their checks and how races resolve. */
import test from "ava";
import { parseScenario, runScenario, ScenarioError } from "../src/index.js";

const base = {
  version: 1,
  name: "t",
  kernel: "6.12",
  machine: {
    nodes: [{ id: 0, memory: "16MiB", cpus: 2 }, { id: 1, memory: "16MiB", cpus: 2 }], check: true,
    // The windows these races land in are a few hundred ns wide: a table of their own keeps them put
    // (every kind the CPU migration path charges is listed, so a new cost kind cannot move them silently).
    timing: { default: 100, costs: {SYSCALL:  300,  LRU_CACHE_DISABLE:  5000,  PAGE_LOOKUP:  80,  FOLIO_ISOLATE:  50,  MIGRATE_BATCH:  500,  FOLIO_ALLOC:  150,  FOLIO_UNMAP:  200,  PTE_UNMAP:  30,  PMD_UNMAP:  300,  TLB_FLUSH_LOCAL:  200,  TLB_FLUSH_IPI:  2000,  TLB_FLUSH_IPI_CPU:  500,  FOLIO_MOVE:  300,  PTE_REMAP:  30,  PMD_REMAP:  300,  CPU_COPY_BYTE:  0.08,  CPU_COPY_PAGE:  50,  FOLIO_PUTBACK:  50,  FOLIO_SPLIT:  2000,  FOLIO_UNDO:  200,  PAGE_FAULT:  500,  PREP_COMPOUND_TAIL:  5,  FREE_TAIL_PAGE:  5, FOLIO_WARM_SET: 0} },
  },
  processes: [{ name: "p", uid: 0, threads: [{ name: "t2", cpu: 1 }, { name: "t3", cpu: 2 }] }],
  steps: [
    { op: "mmap", process: "p", as: "a", len: "4p" },
    { op: "write", process: "p", addr: "a", len: "4p" },
  ],
};
const PAGES = ["a", "a+1p", "a+2p", "a+3p"];

function problems(...steps: unknown[]): string[] {
  try {
    parseScenario(JSON.stringify({ ...base, steps: [...base.steps, ...steps] }), "c.json");
  } catch (e) {
    if (e instanceof ScenarioError) return [...e.problems];
    throw e;
  }
  return [];
}

function run(kernel: string, ...steps: unknown[]) {
  const r = runScenario(parseScenario(JSON.stringify({ ...base, kernel, steps: [...base.steps, ...steps] }), "c.json"));
  return { r, rec: (op: string, k = 0) => r.steps.filter((s) => s.op === op)[k]!.result as Record<string, any> };
}

test("bad start and join steps are refused by field before anything runs", (t) => {
  const munmap = { op: "munmap", process: "t2", addr: "a", len: "4p" };
  t.deepEqual(problems({ op: "join", task: "x" }), ['steps[2].task: unknown call "x" (started and not joined before this step: none yet)']);
  t.deepEqual(problems({ op: "start", task: "x", call: munmap }), ['steps[2].task: the call "x" is never joined (add a join step)']);
  t.deepEqual(problems({ op: "start", task: "x", call: munmap }, { op: "start", task: "x", call: { ...munmap, process: "t3" } }, { op: "join", task: "x" }), [
    'steps[3].task: the call "x" started at steps[2] is not joined yet; join it before starting another under that name',
  ]);
  t.deepEqual(problems({ op: "start", task: "x", call: munmap }, { op: "start", task: "y", call: munmap }, { op: "join", task: "x" }, { op: "join", task: "y" }), [
    'steps[3].call.process: thread "t2" is still in the call started as "x" (steps[2]); a thread makes one call at a time',
  ]);
  t.deepEqual(problems({ op: "start", task: "x", call: { ...munmap, process: "nobody" } }, { op: "join", task: "x" }), [
    'steps[2].call.process: unknown process or thread "nobody" (defined before this step: p, t2, t3)',
  ]);
  t.deepEqual(problems({ op: "repeat", times: 2, steps: [{ op: "start", task: "x", call: munmap }] }, { op: "join", task: "x" }), [
    'steps[2].steps[0].task: the call "x" is not joined inside its repeat (each iteration must join what it starts)',
    'steps[3].task: unknown call "x" (started and not joined before this step: none yet)',
  ]);
  const bad = problems({ op: "start", task: "x", call: { op: "mmap", process: "t2", as: "b", len: "1p" } }, { op: "join", task: "x" });
  t.is(bad.length, 1);
  t.regex(bad[0]!, /^steps\[2\]\.call\.op: .*move_pages.*touch/);
  t.regex(problems({ op: "start", task: "x", delayNs: -1, call: munmap }, { op: "join", task: "x" })[0]!, /^steps\[2\]\.delayNs: /);
  t.deepEqual(problems({ op: "start", task: "x", delayNs: 2 ** 50, call: munmap }, { op: "join", task: "x" }), [
    `steps[2].delayNs: ${2 ** 50} ns is beyond limits.virtualNs (${60e9}); raise limits.virtualNs to start a call that late`,
  ]);
});

test("munmap during the lookups waits for mmap_lock; it gets in before the migration and the freed folios count as moved", (t) => {
  const { r, rec } = run("6.12",
    { op: "start", task: "u", delayNs: 7200, call: { op: "munmap", process: "t2", addr: "a", len: "4p" } },
    { op: "move_pages", process: "p", pages: PAGES, nodes: [1, 1, 1, 1] },
    { op: "join", task: "u" },
  );
  t.is(r.error, undefined);
  t.deepEqual(rec("move_pages").status, [1, 1, 1, 1]);
  const task = rec("join").task;
  t.is(task.mmapLockWaits, 1);
  t.true(task.enteredNs > task.startNs, "it slept on mmap_lock");
  t.is(task.interruptedLateNs, 0, "munmap takes no virtual time: nobody resumed late");
  t.deepEqual(r.steps.flatMap((s) => s.mismatches), [], "the invariant checker saw nothing wrong");
});

test("two movers: whoever isolates first wins; during the copy the second one sees migration entries (6.12) or a folio at a time (6.1)", (t) => {
  for (const [kernel, second] of [["6.12", [-2, -2, -2, -2]], ["6.1", [-2, -16, -16, -16]]] as const) {
    const { rec } = run(kernel,
      { op: "start", task: "m", delayNs: 9000, call: { op: "move_pages", process: "t2", pages: PAGES, nodes: [1, 1, 1, 1] } },
      { op: "move_pages", process: "p", pages: PAGES, nodes: [1, 1, 1, 1] },
      { op: "join", task: "m" },
    );
    t.deepEqual(rec("move_pages").status, [1, 1, 1, 1], kernel);
    t.deepEqual(rec("join").status, second, kernel);
  }
});

test("a fault on a page under migration sleeps until the migration ends, then finds the new page", (t) => {
  const { rec } = run("6.12",
    { op: "start", task: "f", delayNs: 9000, call: { op: "touch", process: "t2", addr: "a+2p", len: "1p" } },
    { op: "move_pages", process: "p", pages: PAGES, nodes: [1, 1, 1, 1] },
    { op: "join", task: "f" },
    { op: "inspect", process: "p", addr: "a+2p" },
  );
  const task = rec("join").task;
  t.is(task.migrationWaits, 1);
  t.false(rec("join").fault);
  t.true(task.endNs > task.enteredNs);
  t.is(rec("inspect").pages[0].node, 1);
});

test("join waits for a call that has not entered yet, and the same name can be started again after its join", (t) => {
  const { r, rec } = run("6.12",
    { op: "start", task: "u", delayNs: 1000000, call: { op: "mprotect", process: "t2", addr: "a", len: "4p", prot: ["READ"] } },
    { op: "join", task: "u" },
    { op: "start", task: "u", call: { op: "touch", process: "t2", addr: "a", len: "1p", write: true, expect: { fault: true } } },
    { op: "join", task: "u" },
  );
  t.is(r.error, undefined);
  t.is(rec("join").task.startNs, rec("join").task.enteredNs);
  t.true(r.virtualNs >= 1000000);
  t.true(r.ok);
});

test("a thread faulting during mbind(MOVE) sleeps on mmap_lock in 6.1 (held through the migration), on the migration entry in 6.12", (t) => {
  for (const [kernel, lock] of [["6.1", true], ["6.12", false]] as const) {
    const { r, rec } = run(kernel,
      { op: "spawn", process: "t2", as: "w", kind: "write", addr: "a", pages: 4, everyNs: 97 },
      { op: "mbind", process: "p", addr: "a", len: "4p", mode: "BIND", nodes: [1], flags: ["MOVE"], expect: { ret: 0 } },
      { op: "sleep", ns: 1000 },
      { op: "stop", activity: "w", expect: { faults: 0, intact: true } },
    );
    t.true(r.ok, kernel);
    const s = rec("stop");
    t.is(s.lockWaits > 0, lock, `${kernel}: ${s.lockWaits} mmap_lock waits`);
    t.is(s.migrationWaits > 0, !lock, `${kernel}: ${s.migrationWaits} migration waits`);
  }
});
