import test from "ava";
import type { TraceRecord } from "@mmemu/kernel";
import { BUILTIN_SCHEMA } from "@mmemu/components";
import { loadProfile, withParams } from "@mmemu/timing";
import { firstFolioLatencies, median, preparePoint, probeFirstFolio, movePages, BATCH_START_TP, FOLIO_MOVED_TP } from "../src/index.js";

const rec = (name: string, ts: number): TraceRecord => ({ name, ts, fields: {}, cpu: 0, pid: 1, comm: "bench", ctx: 0 });

test("latency runs from each batch start to the first folio moved after it", (t) => {
  const trace = [
    rec(BATCH_START_TP, 100), rec("tlb_flush", 150), rec(FOLIO_MOVED_TP, 400), rec(FOLIO_MOVED_TP, 500),
    rec(BATCH_START_TP, 1000), rec(FOLIO_MOVED_TP, 1250),
    rec(BATCH_START_TP, 2000), // a batch that moved nothing
    rec(BATCH_START_TP, 3000), rec(FOLIO_MOVED_TP, 3900),
  ];
  t.deepEqual(firstFolioLatencies(trace), [300, 250, 900]);
  t.is(median(firstFolioLatencies(trace)), 300);
  t.is(median([4, 1, 3, 2]), 2.5);
});

test("from a recorded emulator trace: one latency per batch, positive, bounded by the batch", (t) => {
  const p = loadProfile("zen3-ptdma-base", BUILTIN_SCHEMA);
  const pp = preparePoint(p, { config: "vanilla", channels: null, folioSize: "4K", totalBytes: 2048 * 4096, batchPages: 512 });
  const m = pp.m;
  const r = m.core.trace.record([BATCH_START_TP, FOLIO_MOVED_TP, "mm_migrate_pages_batch_end"]);
  t.is(movePages(pp, 0, pp.nrFolios), 0);
  r.stop();
  const lat = firstFolioLatencies(r.records);
  t.is(lat.length, 4, "2048 4K folios in batches of 512");
  const ends = r.records.filter((x) => x.name === "mm_migrate_pages_batch_end").map((x) => x.ts);
  const starts = r.records.filter((x) => x.name === BATCH_START_TP).map((x) => x.ts);
  lat.forEach((l, i) => t.true(l > 0 && starts[i]! + l <= ends[i]!));
});

test("the streaming probe gives the recorded trace's latencies, keeps folio_moved off between a batch's first folio and the next batch, and detaches", (t) => {
  const p = loadProfile("zen3-ptdma-base", BUILTIN_SCHEMA);
  const pp = preparePoint(p, { config: "vanilla", channels: null, folioSize: "4K", totalBytes: 2048 * 4096, batchPages: 512 });
  const bus = pp.m.core.trace;
  const moved = bus.define(FOLIO_MOVED_TP);
  const probe = probeFirstFolio(bus);
  const seen: boolean[] = [];
  const offEnd = bus.on("mm_migrate_pages_batch_end", () => seen.push(moved.enabled));
  t.is(movePages(pp, 0, 1024), 0);
  // A full recording of the other two batches (it keeps folio_moved on) to compare with.
  const r2 = bus.record([BATCH_START_TP, FOLIO_MOVED_TP]);
  t.is(movePages(pp, 1024, pp.nrFolios), 0);
  r2.stop();
  offEnd();
  probe.stop();
  t.is(probe.latencies.length, 4);
  t.deepEqual(probe.latencies.slice(2), firstFolioLatencies(r2.records), "the same latencies as the full trace");
  t.deepEqual(seen.slice(0, 2), [false, false], "after a batch's first folio, folio_moved is off again");
  t.false(moved.enabled, "stop() detaches");
  t.false(bus.define(BATCH_START_TP).enabled);
});

test("a call starts with the reused working set cold: its first batch's folios pay the misses, later batches less", (t) => {
  const base = loadProfile("zen3-ptdma-base", BUILTIN_SCHEMA);
  const latencies = (p: typeof base) => {
    const pp = preparePoint(p, { config: "vanilla", channels: null, folioSize: "4K", totalBytes: 2048 * 4096, batchPages: 512 });
    const r = pp.m.core.trace.record([BATCH_START_TP, FOLIO_MOVED_TP]);
    t.is(movePages(pp, 0, pp.nrFolios), 0);
    r.stop();
    return firstFolioLatencies(r.records);
  };
  const W = 1000, s = 4, miss = 100;
  const withSet = latencies(withParams(base, { "cpu.warm_set_lines": W, "cpu.warm_set_lines_per_folio": s, "cpu.warm_set_miss": miss }));
  const without = latencies(withParams(base, { "cpu.warm_set_lines_per_folio": 0 }));
  // Batch k's 512 unmaps take the set from 1 - q^(512(k-1)) to 1 - q^(512k) warm, q = 1 - s/W.
  const q = 1 - s / W;
  const expected = [0, 1, 2, 3].map((k) => W * (q ** (512 * k) - q ** (512 * (k + 1))) * miss);
  withSet.forEach((l, k) => t.true(Math.abs(l - without[k]! - expected[k]!) < 2, `batch ${k}: ${l - without[k]!} ns extra, expected ${expected[k]}`));
  t.true(expected[0]! > 80_000 && expected[3]! < 1000);
});
