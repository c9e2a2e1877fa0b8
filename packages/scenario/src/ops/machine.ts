/** sleep, vm_events, node_info and fill_node: virtual time, counters and node memory. */
import { z } from "zod";
import { PAGE_SIZE } from "@mmemu/mm-core";
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
    expect: z.object({ minFree: Size.optional(), maxFree: Size.optional(), hugetlbFree: z.number().int().optional() }).strict().optional(),
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
    return { call: `node ${st.node} meminfo`, result: { freeBytes: free, hugetlbFree, hugetlbTotal: m.hugetlbTotal[st.node] ?? 0 }, mismatches };
  },
});

export const fill_node = defineOp({
  schema: z.object({
    op: z.literal("fill_node"), ...common, node: NodeId, leave: Size.default(0).describe("bytes to leave free"),
    fragment: z.boolean().default(false).describe("leave free memory only as scattered 4 KiB pages (no 2 MiB block)"),
  }).strict(),
  check(c, st) {
    checkNode(c, st.node);
    c.size(st.leave, "leave");
  },
  run(w, st) {
    const m = w.m;
    const leave = Math.floor(parseSize(st.leave) / PAGE_SIZE);
    const held: number[] = [];
    for (let p = m.alloc.alloc(st.node, 0); p >= 0; p = m.alloc.alloc(st.node, 0)) held.push(p);
    // Give back pages until `leave` are free: every other one when fragmenting, so no two are buddies.
    let freed = 0;
    for (let k = st.fragment ? 0 : held.length - 1; freed < leave && k >= 0 && k < held.length; k += st.fragment ? 2 : -1) {
      m.alloc.free(held[k]!, 0);
      freed++;
    }
    return { call: `fill node ${st.node} leaving ${st.leave}${st.fragment ? " (fragmented)" : ""}`, result: { freeBytes: m.alloc.nrFree(st.node) * PAGE_SIZE }, mismatches: [] };
  },
});
