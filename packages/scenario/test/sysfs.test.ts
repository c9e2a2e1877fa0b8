/** The sysfs step: the loaded migrator's attributes written and read between two migrations. */
import test from "ava";
import { prepareScenarioDevices, runScenario, validateScenario, type RunResult } from "../src/index.js";

const machine = { nodes: [{ id: 0, memory: "16MiB" }, { id: 1, memory: "16MiB" }], profile: "zen3-ptdma", migrator: "dcbm", sysfs: { nr_dma_chan: 2 } };
const processes = [{ name: "app", cpu: 0 }];
const move = { op: "move_pages", process: "app", pages: { range: "buf", count: 64 }, nodes: { fill: 1, count: 64 }, expect: { ret: 0, status: { all: 1 } } };

async function run(steps: unknown[], m: Record<string, unknown> = machine): Promise<RunResult> {
  const s = validateScenario({ version: 1, name: "t", machine: m, processes, steps });
  return runScenario(s, { devices: await prepareScenarioDevices(s) });
}

const setup = [
  { op: "mmap", process: "app", as: "buf", len: "64p" },
  { op: "write", process: "app", addr: "buf", len: "64p", pattern: "0x1234" },
];

test("a write mid-run takes effect and a read shows the migrator's counters", async (t) => {
  const r = await run([...setup,
    { op: "sysfs", read: ["nr_dma_chan"], expect: { nr_dma_chan: 2 } },
    { op: "sysfs", write: { nr_dma_chan: 4 }, read: ["nr_dma_chan"], expect: { nr_dma_chan: 4 } },
    move,
    { op: "sysfs", read: ["folios_migrated"], expect: { folios_migrated: 64 } },
    { op: "sysfs", write: { folios_migrated: 0 }, read: ["folios_migrated"], expect: { folios_migrated: 0 } },
  ]);
  t.true(r.ok, JSON.stringify(r.steps.filter((s) => s.mismatches.length > 0)) + (r.error ?? ""));
  t.deepEqual(r.steps[3]!.result.values, { nr_dma_chan: "4" });
  t.deepEqual(r.steps[3]!.result.written, { nr_dma_chan: "4" });
});

test("a read that differs from its expectation is a mismatch", async (t) => {
  const r = await run([{ op: "sysfs", read: ["nr_dma_chan"], expect: { nr_dma_chan: 3 } }]);
  t.false(r.ok);
  t.deepEqual(r.steps[0]!.mismatches, ['nr_dma_chan is "2", expected "3"']);
});

test("a rejected write fails the step unless its errno is expected, and leaves the attribute as it was", async (t) => {
  const bad = await run([{ op: "sysfs", write: { nr_dma_chan: 0 } }]);
  t.false(bad.ok);
  t.deepEqual(bad.steps[0]!.mismatches, ["write nr_dma_chan=0 failed with EINVAL"]);
  const expected = await run([
    { op: "sysfs", write: { nr_dma_chan: 0 }, errno: "EINVAL" },
    { op: "sysfs", read: ["nr_dma_chan"], expect: { nr_dma_chan: 2 } },
  ]);
  t.true(expected.ok, JSON.stringify(expected.steps.map((s) => s.mismatches)));
  t.deepEqual(expected.steps[0]!.result.written, { nr_dma_chan: "-EINVAL" });
});

test("an unknown attribute stops the run with a one-line error naming the attributes", async (t) => {
  const r = await run([{ op: "sysfs", read: ["nr_channels"] }]);
  t.false(r.ok);
  t.regex(r.error ?? "", /no attribute "nr_channels" \(it has .*nr_dma_chan/);
});

test("the checker rejects a sysfs step without a migrator, without read or write, and an expectation not read", (t) => {
  const plain = { nodes: [{ id: 0, memory: "16MiB", cpus: 1 }] };
  const problems = (steps: unknown[], m: Record<string, unknown>) => {
    try {
      validateScenario({ version: 1, name: "t", machine: m, processes, steps });
      return "";
    } catch (e) {
      return (e as Error).message;
    }
  };
  t.regex(problems([{ op: "sysfs", read: ["nr_dma_chan"] }], plain), /steps\[0\]\.op: no migrator is loaded/);
  t.regex(problems([{ op: "sysfs" }], machine), /steps\[0\]\.op: give write, read or both/);
  t.regex(problems([{ op: "sysfs", read: ["a"], expect: { b: 1 } }], machine), /steps\[0\]\.expect\.b: "b" is not read/);
  t.regex(problems([{ op: "sysfs", read: ["a"], errno: "EINVAL" }], machine), /steps\[0\]\.errno: an expected errno needs a write/);
});
