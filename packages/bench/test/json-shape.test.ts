import test from "ava";
import { z } from "zod";
import { seedPoints, type PoolResult } from "../src/index.js";
import { BENCH_VERSION, fidelity, fidelityLine } from "../src/seed.js";
import type { CellEval } from "../src/calibrate.js";

const sizes = z.enum(["4K", "16K", "64K", "256K", "1M", "2M"]);
const metrics = z.object({ GBps: z.number().optional(), first_us: z.number().optional() }).strict();
const extras = {
  published: metrics.optional(), error: metrics.optional(),
  phases_ns: z.record(z.string(), z.number().int().nonnegative()).optional(), virtual_ns: z.number().int().optional(),
  vmstat: z.record(z.string(), z.number().int().nonnegative()).optional(),
  stats: z.record(z.string(), z.record(z.string(), z.number())).optional(),
  fallback: z.record(z.string(), z.number().int().nonnegative()).optional(),
};
const Record = z.union([
  z.object({ table: z.literal("throughput_by_folio_size"), config: z.enum(["vanilla", "dcbm"]), channels: z.number().int().nullable(), folio_size: sizes, GBps: z.number(), ...extras }).strict(),
  z.object({ table: z.literal("first_folio_latency_vanilla"), folio_size: z.enum(["4K", "2M"]), n: z.number().int(), GBps: z.number(), first_us: z.number(), ...extras }).strict(),
  z.object({ table: z.literal("first_folio_latency_offload"), folio_size: z.enum(["4K", "2M"]), N: z.number().int(), channels: z.number().int(), GBps: z.number(), first_us: z.number(), ...extras }).strict(),
]);
const Output = z.object({ profile: z.string(), seed: z.number(), version: z.string(), results: z.array(Record) }).strict();

test("seed records have exactly the three shapes of the issue, and cover every table", (t) => {
  const fake: PoolResult = {
    GBps: 1.23456, firstUs: 78.9, virtualNs: 1, calls: 1, batches: 1, folios: 1, wallMs: 1, peakRssMB: 1, fallback: {}, strictFailures: [], phases: { syscall: 1 }, vmstat: {}, stats: {},
  };
  const pts = seedPoints();
  const out = { profile: "x", seed: 1, version: BENCH_VERSION, results: pts.map((p) => p.record(fake)) };
  const parsed = Output.safeParse(JSON.parse(JSON.stringify(out)));
  t.true(parsed.success, parsed.success ? "" : JSON.stringify(parsed.error.issues.slice(0, 3)));
  const count = (tb: string) => out.results.filter((r) => r.table === tb).length;
  t.is(count("throughput_by_folio_size"), 6 * 7);
  t.is(count("first_folio_latency_vanilla"), 12 + 7);
  t.is(count("first_folio_latency_offload"), 10 * 3 * 2);
  const v = out.results.find((r) => r.table === "throughput_by_folio_size" && r.config === "vanilla");
  t.is(v !== undefined && "channels" in v ? v.channels : "missing", null);
});

test("the fidelity line judges the built-ins against their targets, and calls a plug-in run's errors a difference from the published hardware", (t) => {
  const fid = fidelity([0.05, -0.3, 0.12].map((error) => ({ error }) as CellEval));
  t.is(fidelityLine(fid, null), "fidelity: 3 published cells, median |error| 12.0% (target <= 10%: MISSED), max 30.0%, 1 cells beyond 25% (target 0: MISSED)");
  const line = fidelityLine(fid, { migrator: "dcbm", engines: ["/tmp/x/x.ts"] });
  t.regex(line, /^difference from the 3 published cells \(measured with dcbm on PTDMA, not with migrator dcbm, engines \/tmp\/x\/x\.ts\): median \|error\| 12\.0%, max 30\.0%, 1 cells beyond 25%; the fidelity targets apply to the built-in models only$/);
  t.false(line.includes("MISSED"));
});
