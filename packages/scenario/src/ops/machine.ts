/** sleep, vm_events, node_info and fill_node: virtual time, counters and node memory. */
import { z } from "zod";
import { nodeHugetlbCounters, nodeReadMeminfo, PAGE_SIZE, WMARK_HIGH, WMARK_LOW, WMARK_MIN, type Machine } from "@mmemu/mm-core";
import { checkField } from "../expect.js";
import { parseSize } from "../expr.js";
import { defineOp, type StepCheck } from "../op.js";
import { common, NodeId, Size } from "../schema-types.js";

function checkNode(c: StepCheck, node: number): void {
  if (c.nodeBytes(node) === undefined) c.problem("node", `node ${node} does not exist`);
}

export const sleep = defineOp({
  schema: z.object({ op: z.literal("sleep"), ...common, ns: z.number().int().nonnegative() }).strict(),
  check() {},
  run(w, st) {
    w.m.sim.run(w.m.sim.now + st.ns);
    return { call: `sleep ${st.ns} ns`, result: { now: w.m.sim.now }, mismatches: [] };
  },
});

export const vm_events = defineOp({
  schema: z.object({
    op: z.literal("vm_events"), ...common,
    expect: z.partialRecord(z.enum(["pgmigrate_success", "pgmigrate_fail", "thp_migration_success", "thp_migration_fail", "thp_migration_split"]), z.number().int()).optional(),
  }).strict(),
  check() {},
  run(w, st) {
    const ev = w.m.vmEvents;
    const mismatches: string[] = [];
    for (const [k, v] of Object.entries(st.expect ?? {})) mismatches.push(...checkField(k, ev[k as keyof typeof ev], v));
    return { call: "/proc/vmstat", result: { ...ev }, mismatches };
  },
});

export const node_info = defineOp({
  schema: z.object({
    op: z.literal("node_info"), ...common, node: NodeId,
    expect: z.object({
      minFree: Size.optional(), maxFree: Size.optional(), hugetlbFree: z.number().int().optional(),
      min: Size.optional().describe("Σ of the node's zones' MIN watermarks"),
      low: Size.optional().describe("Σ of the node's zones' LOW watermarks"),
      high: Size.optional().describe("Σ of the node's zones' HIGH watermarks"),
      minFreeKbytes: z.number().int().optional().describe("vm.min_free_kbytes (machine-wide)"),
    }).strict().optional(),
  }).strict(),
  check(c, st) {
    checkNode(c, st.node);
  },
  run(w, st) {
    const m = w.m;
    const free = m.alloc.nrFree(st.node) * PAGE_SIZE;
    const e = st.expect ?? {};
    const hugetlbFree = m.hugetlbFree[st.node]?.length ?? 0;
    const mismatches: string[] = [];
    if (e.minFree !== undefined && free < parseSize(e.minFree)) mismatches.push(`node ${st.node} has ${free} bytes free, expected at least ${parseSize(e.minFree)}`);
    if (e.maxFree !== undefined && free > parseSize(e.maxFree)) mismatches.push(`node ${st.node} has ${free} bytes free, expected at most ${parseSize(e.maxFree)}`);
    mismatches.push(...checkField("hugetlbFree", hugetlbFree, e.hugetlbFree));
    const marks = {
      min: m.alloc.nodeWatermark(st.node, WMARK_MIN) * PAGE_SIZE,
      low: m.alloc.nodeWatermark(st.node, WMARK_LOW) * PAGE_SIZE,
      high: m.alloc.nodeWatermark(st.node, WMARK_HIGH) * PAGE_SIZE,
    };
    for (const k of ["min", "low", "high"] as const) {
      const want = e[k];
      if (want !== undefined && marks[k] !== parseSize(want)) mismatches.push(`node ${st.node} ${k} watermark is ${marks[k]} bytes, expected ${parseSize(want)}`);
    }
    mismatches.push(...checkField("minFreeKbytes", m.watermarks.minFreeKbytes, e.minFreeKbytes));
    const zones = (m.alloc.nodeZones[st.node] ?? []).filter((z) => z !== null).map((z) => ({
      zone: z.name, managed: z.managed, free: z.free, min: z.mark(WMARK_MIN), low: z.mark(WMARK_LOW), high: z.mark(WMARK_HIGH),
      lowmemReserve: Array.from(z.lowmemReserve),
    }));
    return {
      call: `node ${st.node} meminfo`,
      result: { freeBytes: free, hugetlbFree, hugetlbTotal: m.hugetlbTotal[st.node] ?? 0, minFreeKbytes: m.watermarks.minFreeKbytes, watermarkBytes: marks, zones },
      mismatches,
    };
  },
});

export const fill_node = defineOp({
  schema: z.object({
    op: z.literal("fill_node"), ...common, node: NodeId, leave: Size.default(0).describe("bytes to leave free"),
    above: z.enum(["none", "min", "low", "high"]).default("none")
      .describe("count `leave` above this watermark of the node's zones (what an allocation there may still take)"),
    fragment: z.boolean().default(false).describe("leave free memory only as scattered 4 KiB pages (no 2 MiB block)"),
  }).strict(),
  check(c, st) {
    checkNode(c, st.node);
    c.size(st.leave, "leave");
  },
  run(w, st) {
    const m = w.m;
    const leave = Math.floor(parseSize(st.leave) / PAGE_SIZE) + watermarkPages(m, st.node, st.above);
    const held: number[] = [];
    for (let p = m.alloc.alloc(st.node, 0); p >= 0; p = m.alloc.alloc(st.node, 0)) held.push(p);
    // Give back pages until `leave` are free: every other one when fragmenting, so no two are buddies.
    let freed = 0;
    for (let k = st.fragment ? 0 : held.length - 1; freed < leave && k >= 0 && k < held.length; k += st.fragment ? 2 : -1) {
      m.alloc.free(held[k]!, 0);
      freed++;
    }
    return { call: `fill node ${st.node} leaving ${st.leave}${st.above !== "none" ? ` above ${st.above}` : ""}${st.fragment ? " (fragmented)" : ""}`, result: { freeBytes: m.alloc.nrFree(st.node) * PAGE_SIZE }, mismatches: [] };
  },
});

/** The pages a node's zones keep free at a watermark ("none": 0). */
function watermarkPages(m: Machine, nid: number, above: "none" | "min" | "low" | "high"): number {
  if (above === "none") return 0;
  return m.alloc.nodeWatermark(nid, above === "min" ? WMARK_MIN : above === "low" ? WMARK_LOW : WMARK_HIGH);
}

export const node_meminfo = defineOp({
  schema: z.object({
    op: z.literal("node_meminfo"), ...common, node: NodeId,
    expect: z.object({
      lines: z.array(z.string()).optional().describe("lines that must appear exactly, e.g. \"Node 1 HugePages_Free:      1\""),
      nr_hugepages: z.number().int().optional(), free_hugepages: z.number().int().optional(), surplus_hugepages: z.number().int().optional(),
    }).strict().optional(),
  }).strict(),
  check(c, st) {
    checkNode(c, st.node);
  },
  run(w, st) {
    const lines = nodeReadMeminfo(w.m, st.node);
    const h = nodeHugetlbCounters(w.m, st.node);
    const e = st.expect ?? {};
    const mismatches: string[] = [];
    for (const l of e.lines ?? []) if (!lines.includes(l)) mismatches.push(`no line "${l}" in node ${st.node}'s meminfo`);
    for (const k of ["nr_hugepages", "free_hugepages", "surplus_hugepages"] as const) mismatches.push(...checkField(k, h[k], e[k]));
    return { call: `cat /sys/devices/system/node/node${st.node}/meminfo`, result: { lines, ...h }, mismatches };
  },
});
