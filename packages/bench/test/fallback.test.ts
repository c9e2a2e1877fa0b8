import test from "ava";
import { BUILTIN_SCHEMA } from "@mmemu/components";
import { deriveProfile, loadProfile } from "@mmemu/timing";
import { runPoint, type PointSpec } from "../src/index.js";
import { checkStrictOffload, fallbackLine } from "../src/fallback.js";

const base = loadProfile("zen3-ptdma-base", BUILTIN_SCHEMA);
// The same machine without its PTDMA engines: dcbm gets no channel and every batch falls back (-ENODEV).
const noEngines = deriveProfile(base, (d) => {
  d.topology.ptdma = [];
  d.topology.sdxi = [];
});
const spec: PointSpec = { config: "dcbm", channels: 4, folioSize: "4K", totalBytes: 4 << 20, batchPages: 512 };

test("fallbacks are counted by cause in the point's result and printed in one line", (t) => {
  const ok = runPoint(base, spec);
  t.deepEqual(ok.fallback, {});
  const r = runPoint(noEngines, spec);
  t.deepEqual(r.fallback, { ENODEV: 1024 });
  t.deepEqual(r.strictFailures, [], "counted, not failed, without --strict-offload");
  t.is(fallbackLine([ok, r]), "CPU fallbacks: 1024 folios in 1 point(s) (ENODEV 1024)");
  t.is(fallbackLine([ok]), "CPU fallbacks: none");
});

test("--strict-offload fails the run at the first batch that fell back, naming the point, migrator and cause", (t) => {
  const r = runPoint(noEngines, spec, { strictOffload: true });
  t.is(r.strictFailures.length, 2, "two 512-page batches");
  t.throws(() => checkStrictOffload([r], ["dcbm 4K 4ch"]), {
    message: "--strict-offload: 2 batch(es) fell back to the CPU; first at point dcbm 4K 4ch: strict offload: offload call 1 (migrator DCBM) left 512 folio(s) to the CPU copy (ENODEV)",
  });
  t.notThrows(() => checkStrictOffload([runPoint(base, spec, { strictOffload: true })], ["ok"]));
});
