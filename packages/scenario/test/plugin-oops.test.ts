/** A plug-in migrator that throws with DMA work outstanding: the run stops, its leftovers are named and terminated. */
import test from "ava";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { prepareScenarioDevices, runScenario, validateScenario } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "mmemu-scenario-oops-"));
// Takes a memcpy channel, submits three interrupt descriptors without issuing them, then throws.
const LEAKY = join(dir, "leaky.ts");
writeFileSync(LEAKY, `
import { defineMigrator, Module, migrateOffloadInit, migrateOffloadRegister, kstrtobool, ENOENT, DMA_MEMCPY, dmaCapMaskOf,
  dmaenginePrepDmaInterrupt, dmaengineSubmit, isErrPtr } from "@mmemu/driver-kit";
export default defineMigrator({
  kind: "migrator", name: "leaky", description: "throws with descriptors submitted", usesDma: true, enableAttr: "offloading",
  load(ctx) {
    migrateOffloadInit(ctx.m);
    const mig = { name: "leaky", owner: new Module("leaky"), offloadCopy(_dst: Int32Array, _src: Int32Array, n: number): number {
      const chan = ctx.dmaengine!.dmaRequestChanByMask(dmaCapMaskOf(DMA_MEMCPY), "leaky");
      if (isErrPtr(chan)) return chan;
      for (let i = 0; i < 3; i++) dmaengineSubmit(dmaenginePrepDmaInterrupt(chan, 0)!);
      throw new RangeError("ring full after " + n + " folios");
    } };
    return {
      attrs: ["offloading"],
      sysfsRead: () => -ENOENT,
      sysfsWrite: (a: string, b: string) => (a === "offloading" && kstrtobool(b) === 1 ? migrateOffloadRegister(ctx.m, mig) || b.length : -ENOENT),
      rmmod: () => 0,
    };
  },
});
`);

test("the run stops at the oops; the folios still moved; the channel and its descriptors are named and terminated", async (t) => {
  const s = validateScenario({
    version: 1, name: "oops",
    machine: { nodes: [{ id: 0, memory: "16MiB" }, { id: 1, memory: "16MiB" }], profile: "zen3-ptdma", migrator: LEAKY, check: true },
    processes: [{ name: "app", cpu: 0 }],
    steps: [
      { op: "mmap", process: "app", as: "buf", len: "16p" },
      { op: "write", process: "app", addr: "buf", len: "16p", pattern: "0x77" },
      { op: "move_pages", process: "app", pages: { range: "buf", count: 16 }, nodes: { fill: 1, count: 16 }, expect: { ret: 0, status: { all: 1 } } },
      { op: "inspect", process: "app", addr: "buf", pages: 16, expect: { node: 1 } },
    ],
  });
  const r = runScenario(s, { devices: await prepareScenarioDevices(s) });
  t.false(r.ok);
  t.is(r.steps.length, 3, "the step after the oops did not run");
  t.true(r.steps[2]!.ok, JSON.stringify(r.steps[2]!.mismatches));
  t.regex(r.error ?? "", /^PluginError: migrator leaky threw in offload_copy: RangeError: ring full after 16 folios \(the batch fell back to the CPU copy; the machine is consistent; DMA channels still held, now terminated: dma\d+chan\d+ \(held by leaky, 3 descriptors submitted or issued\)\)/);
  t.true((r.error ?? "").includes(LEAKY), "the plug-in's frames are shown");
});
