/** A malformed scenario is rejected before anything runs, with the field's path and what was expected. */
import test from "ava";
import { parseScenario, ScenarioError, scenarioJsonSchema, type Scenario } from "../src/index.js";

const base = {
  version: 1,
  name: "t",
  machine: { nodes: [{ id: 0, memory: "16MiB", cpus: 2 }, { id: 1, memory: "16MiB", cpus: 2 }] },
  processes: [{ name: "p", uid: 1000 }],
  steps: [{ op: "mmap", process: "p", as: "buf", len: "1p" }],
};

function problems(obj: unknown, file = "x.json"): string[] {
  try {
    parseScenario(typeof obj === "string" ? obj : JSON.stringify(obj), file);
  } catch (e) {
    if (e instanceof ScenarioError) return [...e.problems];
    throw e;
  }
  return [];
}

function withSteps(...steps: unknown[]): unknown {
  return { ...base, steps: [...base.steps, ...steps] };
}

test("a valid scenario parses, with defaults filled in", (t) => {
  const s: Scenario = parseScenario(JSON.stringify(base), "ok.json");
  t.is(s.kernel, "mainline");
  t.is(s.machine.timing, "simple");
  t.deepEqual(problems(base), []);
});

test("YAML scenarios are accepted too", (t) => {
  const yaml = "version: 1\nname: y\nmachine:\n  nodes:\n    - { id: 0, memory: 16MiB }\nprocesses:\n  - name: p\nsteps:\n  - { op: sleep, ns: 5 }\n";
  t.is(parseScenario(yaml, "s.yaml").name, "y");
  t.deepEqual(problems("version: [1\n", "bad.yml").map((p) => p.slice(0, 20)), ["not valid YAML: unex"]);
});

test("not JSON at all", (t) => {
  const p = problems("{ version: 1", "bad.json");
  t.is(p.length, 1);
  t.regex(p[0]!, /^not valid JSON: /);
});

test("schema errors give the path and the expectation", (t) => {
  t.deepEqual(problems({ ...base, version: 2 }), ["version: expected 1"]);
  t.deepEqual(problems({ ...base, machine: { nodes: [{ id: 0, memory: "16 MiX" }] } }), ['machine.nodes[0].memory: a size like 4096, "4KiB", "2MiB" or "3p" (pages)']);
  t.deepEqual(problems(withSteps({ op: "move_pages", process: "p", pages: ["buf"], flags: ["MOVE", "FAST"] })).map((s) => s.split(":")[0]), ["steps[1].flags[1]"]);
  const unknownOp = problems(withSteps({ op: "move_page", process: "p" }));
  t.is(unknownOp.length, 1);
  t.regex(unknownOp[0]!, /^steps\[1\]\.op: Invalid discriminator value\. Expected 'mmap' \| /);
  t.deepEqual(problems(withSteps({ op: "sleep", ns: 5, nanos: 3 })), ['steps[1]: unknown field "nanos"']);
  t.deepEqual(problems({ ...base, processes: [] }), ["processes: Too small: expected array to have >=1 items"]);
  t.deepEqual(problems(withSteps({ op: "move_pages", process: "p", pages: ["buf", null], nodes: null })), ["steps[1].pages[1]: expected number or string"]);
});

test("references are checked in step order: labels, processes, files, pins, activities, variables", (t) => {
  t.deepEqual(problems(withSteps({ op: "write", process: "p", addr: "buff+1p" })), ['steps[1].addr: unknown label "buff" (labels defined before this step: buf)']);
  t.deepEqual(problems(withSteps({ op: "touch", process: "q", addr: "buf" })), ['steps[1].process: unknown process or thread "q" (defined before this step: p)']);
  t.deepEqual(problems(withSteps({ op: "mmap", process: "p", as: "f", len: "1p", flags: ["SHARED"], file: "nofile" })), ['steps[1].file: unknown file "nofile" (files: none yet)']);
  t.deepEqual(problems(withSteps({ op: "unpin", pin: "x" })), ['steps[1].pin: unknown pin "x" (pins: none yet)']);
  t.deepEqual(problems(withSteps({ op: "stop", activity: "r" })), ['steps[1].activity: unknown activity "r" (spawned: none yet)']);
  t.deepEqual(problems(withSteps({ op: "move_pages", process: "p", pages: ["buf+$n"], nodes: [1] })), ['steps[1].pages[0]: unknown variable "$n" (only inside a repeat: none yet)']);
  t.deepEqual(problems(withSteps({ op: "repeat", times: 2, vars: { n: [1, 0] }, steps: [{ op: "move_pages", process: "p", pages: ["buf+$i*4096"], nodes: ["$n"] }] })), []);
  t.deepEqual(problems(withSteps({ op: "move_pages", process: "p", pid: "ghost", pages: ["buf"], nodes: [1] })), ['steps[1].pid: unknown process or thread "ghost" (defined before this step: p)']);
  t.deepEqual(problems(withSteps({ op: "move_pages", process: "p", pages: ["buf", "buf"], nodes: [1] })), ["steps[1].nodes: 1 nodes for 2 pages (give count to pass a different count on purpose)"]);
  t.deepEqual(problems(withSteps({ op: "move_pages", process: "p", pages: { raw: "buf" }, nodes: null })), ["steps[1].count: required when pages is a raw pointer"]);
});

test("machine and process problems", (t) => {
  t.deepEqual(problems({ ...base, machine: { nodes: [{ id: 0, memory: 5000 }] } }), ["machine.nodes[0].memory: 5000 is not a whole number of 4 KiB pages"]);
  t.deepEqual(problems({ ...base, machine: { ...base.machine, hugetlb: { 7: 1 } } }), ["machine.hugetlb.7: no node 7 (nodes: 0, 1)"]);
  t.deepEqual(problems({ ...base, processes: [{ name: "p", cpu: 9 }] }), ["processes[0].cpu: CPU 9 does not exist (the machine has 4 CPUs: 0..3)"]);
  t.deepEqual(problems({ ...base, processes: [{ name: "p", caps: ["CAP_FLY"] }] }), ['processes[0].caps[0]: unknown capability "CAP_FLY"']);
  t.deepEqual(problems({ ...base, processes: [{ name: "p" }, { name: "p" }] }), ['processes[1].name: the name "p" is already used by another process or thread']);
  t.deepEqual(problems({ ...base, processes: [{ name: "p", cpuset: [0, 5] }] }), ["processes[0].cpuset[1]: node 5 does not exist"]);
});

test("the JSON Schema of the format is available for editors", (t) => {
  const js = scenarioJsonSchema() as { properties: Record<string, unknown> };
  t.truthy(js.properties.steps);
  t.truthy(js.properties.machine);
});
