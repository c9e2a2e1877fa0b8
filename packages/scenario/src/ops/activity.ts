/** spawn and stop: a thread reading or writing pages periodically while other steps run. */
import { z } from "zod";
import { PAGE_SIZE } from "@mmemu/mm-core";
import { Activity } from "../activity.js";
import { checkField } from "../expect.js";
import { evalAddrNumber } from "../expr.js";
import { defineOp } from "../op.js";
import { Addr, common, Name, proc } from "../schema-types.js";

export const spawn = defineOp({
  schema: z.object({
    op: z.literal("spawn"), ...common, ...proc, thread: Name.optional().describe("the thread that runs it (default: the process's main thread)"),
    as: Name, kind: z.enum(["read", "write"]), addr: Addr, pages: z.number().int().min(1).default(1),
    everyNs: z.number().int().min(1).default(100), count: z.number().int().min(1).optional().describe("default: until stopped"),
  }).strict(),
  check(c, st) {
    c.proc(st.process);
    c.entries(st.pages, "pages");
    if (st.everyNs < c.limits.threadPeriodNs) c.problem("everyNs", `${st.everyNs} ns is shorter than limits.threadPeriodNs (${c.limits.threadPeriodNs} ns); lower limits.threadPeriodNs to allow it`);
    if (st.thread !== undefined) c.proc(st.thread, "thread");
    c.addr(st.addr, "addr");
    if (c.scope.activities.has(st.as)) c.problem("as", `activity "${st.as}" already exists`);
    c.scope.activities.add(st.as);
  },
  run(w, st, scope) {
    const t = w.task(st.thread ?? st.process);
    const base = evalAddrNumber(st.addr, scope);
    const pages = Array.from({ length: st.pages }, (_, k) => base - (base % PAGE_SIZE) + k * PAGE_SIZE);
    const a = new Activity(w.m, t, st.kind, pages, st.everyNs, st.count, w.threadBudget);
    w.activities.set(st.as, a);
    a.start();
    return { call: `${st.as}: ${st.thread ?? st.process} ${st.kind}s ${st.pages} page(s) at ${st.addr} every ${st.everyNs} ns`, result: {}, mismatches: [] };
  },
});

export const stop = defineOp({
  schema: z.object({
    op: z.literal("stop"), ...common, activity: Name,
    expect: z.object({
      minAccesses: z.number().int().optional(),
      minMigrationWaits: z.number().int().optional(),
      faults: z.number().int().optional().describe("accesses that failed"),
      intact: z.boolean().optional().describe("every page written holds the last value written"),
    }).strict().optional(),
  }).strict(),
  check(c, st) {
    if (!c.scope.activities.has(st.activity)) c.problem("activity", `unknown activity "${st.activity}" (spawned: ${c.known(c.scope.activities)})`);
  },
  run(w, st) {
    const s = w.activities.get(st.activity)!.stop();
    const e = st.expect ?? {};
    const mismatches: string[] = [];
    if (e.minAccesses !== undefined && s.accesses < e.minAccesses) mismatches.push(`${s.accesses} accesses, expected at least ${e.minAccesses}`);
    if (e.minMigrationWaits !== undefined && s.migrationWaits < e.minMigrationWaits) mismatches.push(`${s.migrationWaits} migration waits, expected at least ${e.minMigrationWaits}`);
    mismatches.push(...checkField("faults", s.faults, e.faults));
    if (e.intact === true && s.lostWrites > 0) mismatches.push(`${s.lostWrites} page(s) do not hold the last value written: a write was lost`);
    return { call: `stop ${st.activity}`, result: { ...s }, mismatches };
  },
});
