import test from "ava";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadComponents, PluginError } from "@mmemu/components";
import { migrateOffloadOf } from "@mmemu/offload-api";
import { loadProfile } from "@mmemu/timing";
import { movePages, preparePoint, readStatus, runPoint, PointPool, type PointSpec } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "mmemu-bench-plugin-"));
// A migrator whose offload_copy throws on its second batch.
const THROWS = join(dir, "throws.ts");
writeFileSync(THROWS, `
import { defineMigrator, Module, migrateOffloadInit, migrateOffloadRegister, kstrtobool, ENOENT } from "@mmemu/driver-kit";
export default defineMigrator({
  kind: "migrator", name: "throws", description: "throws in its second batch", usesDma: false, enableAttr: "offloading",
  load(ctx) {
    migrateOffloadInit(ctx.m);
    let batches = 0;
    const mig = { name: "THROWS", owner: new Module("throws"), offloadCopy(dst: Int32Array, src: Int32Array, n: number): number {
      if (++batches === 2) explode(n);
      return -95;
    } };
    return {
      attrs: ["offloading"],
      sysfsRead: () => -ENOENT,
      sysfsWrite: (a: string, b: string) => (a === "offloading" && kstrtobool(b) === 1 ? migrateOffloadRegister(ctx.m, mig) || b.length : -ENOENT),
      rmmod: () => 0,
    };
  },
});
function explode(n: number): never {
  throw new TypeError("bad descriptor for " + n + " folios");
}
`);

const spec: PointSpec = { config: "dcbm", channels: 1, folioSize: "4K", totalBytes: 4096 * 2048, batchPages: 512 };

test("a migrator that throws stops the run with its own frames, and the machine is left consistent", async (t) => {
  const c = await loadComponents({ migrator: THROWS });
  const p = loadProfile("zen3-ptdma", c.schema);
  const e = t.throws(() => runPoint(p, spec, {}, c), { instanceOf: PluginError });
  t.regex(e!.message, /^migrator THROWS threw in offload_copy: TypeError: bad descriptor for 512 folios \(the batch fell back to the CPU copy; the machine is consistent\)/);
  t.regex(e!.message, new RegExp(`at explode .*${THROWS.replaceAll(".", "\\.")}:\\d+`));
  // The same call by hand: every folio still moved (the thrown batch was copied by the CPU).
  const pp = preparePoint(p, spec, {}, c);
  t.is(movePages(pp, 0, pp.nrFolios), 0);
  t.true(readStatus(pp, 0, pp.nrFolios).every((s) => s === 1));
  t.is(migrateOffloadOf(pp.m)!.oopses.length, 1);
});

test("workers load the plug-in from its path: the pool runs it and reports its failure the same way", async (t) => {
  const c = await loadComponents({ migrator: THROWS });
  const pool = new PointPool(1, c);
  try {
    const e = await t.throwsAsync(pool.runAll(loadProfile("zen3-ptdma", c.schema), [spec]));
    t.regex(e!.message, /migrator THROWS threw in offload_copy: TypeError: bad descriptor/);
    t.true(e!.message.includes(THROWS), "the frames name the plug-in file");
  } finally {
    await pool.close();
  }
});

test("a plug-in engine's parameter is live in the worker: --set on its section changes the run", async (t) => {
  const c = await loadComponents({ engines: [new URL("../../../examples/plugins/xdma.ts", import.meta.url).pathname] });
  const p = loadProfile("zen3-ptdma", c.schema);
  const s: PointSpec = { config: "dcbm", channels: 2, folioSize: "2M", totalBytes: 32 << 20, batchPages: 262144 };
  const pool = new PointPool(1, c);
  try {
    const [slow] = await pool.runAll(p, [s]);
    const { withParams } = await import("@mmemu/timing");
    const [fast] = await pool.runAll(withParams(p, { "xdma.chan_bw": 20 }), [s]);
    t.true(fast!.GBps > slow!.GBps * 1.5, `xdma.chan_bw 10 -> 20: ${slow!.GBps} -> ${fast!.GBps} GB/s`);
  } finally {
    await pool.close();
  }
});

test("calibrate fits a plug-in engine's own parameter (declared by the plug-in, no edit to timing)", async (t) => {
  const { calibrate } = await import("../src/index.js");
  const { withParams } = await import("@mmemu/timing");
  const c = await loadComponents({ engines: [new URL("../../../examples/plugins/xdma.ts", import.meta.url).pathname] });
  const base = loadProfile("zen3-ptdma", c.schema);
  const truth = withParams(base, { "xdma.chan_bw": 6.5 });
  const rate = (ch: number) => ({ mean: runPoint(truth, { config: "dcbm", channels: ch, folioSize: "2M", totalBytes: 2 ** 30, batchPages: 262144 }, {}, c).GBps });
  const ms = { tables: { throughput_by_folio_size: { folio_sizes: ["2M"], dcbm: { "1": [rate(1)], "2": [rate(2)] } } } };
  const pool = new PointPool(2, c);
  try {
    const r = await calibrate({ base, measurements: ms as never, pool, configs: new Set(["dcbm"]), free: ["xdma.chan_bw"], maxEvals: 30, stages: ["dma"] });
    t.true(Math.abs(r.profile.params.xdma!.chan_bw! / 6.5 - 1) < 0.03, `xdma.chan_bw ${r.profile.params.xdma!.chan_bw}`);
  } finally {
    await pool.close();
  }
});
