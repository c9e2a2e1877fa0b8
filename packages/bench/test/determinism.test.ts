import test from "ava";
import { BUILTIN_SCHEMA } from "@mmemu/components";
import { loadProfile, withParams } from "@mmemu/timing";
import { preparePoint, movePages, runPoint, type PointSpec } from "../src/index.js";

const p = loadProfile("zen3-ptdma-base", BUILTIN_SCHEMA);
const specs: PointSpec[] = [
  { config: "vanilla", channels: null, folioSize: "16K", totalBytes: 8 << 20, batchPages: 512 },
  { config: "dcbm", channels: 4, folioSize: "4K", totalBytes: 8 << 20, batchPages: 1024 },
  { config: "dcbm", channels: 16, folioSize: "2M", totalBytes: 32 << 20, batchPages: 4096 },
];

test("same profile, spec and seed give bit-identical results", (t) => {
  for (const s of specs) {
    const a = runPoint(p, s, { seed: 7 });
    const b = runPoint(p, s, { seed: 7 });
    t.deepEqual({ ...a, wallMs: 0 }, { ...b, wallMs: 0 });
  }
});

test("same seed gives bit-identical traces", (t) => {
  const traceOf = () => {
    const pp = preparePoint(p, specs[1]!, { seed: 3 });
    const r = pp.m.core.trace.record("*");
    movePages(pp, 0, pp.nrFolios);
    r.stop();
    return JSON.stringify(r.records);
  };
  const a = traceOf();
  t.true(a.length > 1000);
  t.is(a, traceOf());
});

test("a different profile changes the result (the model is live)", (t) => {
  const s = specs[0]!;
  const slow = loadProfile("zen3-ptdma-base", BUILTIN_SCHEMA);
  const a = runPoint(slow, s).GBps;
  const b = runPoint(withParams(slow, { "cpu.cpu_copy_bw": slow.params.cpu.cpu_copy_bw * 2 }), s).GBps;
  t.true(b > a * 1.2);
});
