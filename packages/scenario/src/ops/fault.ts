/**
 * fault: arm or disarm one of the machine's fault points with the knobs of lib/fault-inject.c
 * (probability, interval, times, space) and, where the point has one, a target: a folio (given as an
 * address of the process), an engine or a node (a number). The step reports the point's injections so far.
 */
import { z } from "zod";
import { checkField } from "../expect.js";
import { evalAddrNumber } from "../expr.js";
import { defineOp } from "../op.js";
import { Addr, common, Name } from "../schema-types.js";

export const FaultKnobs = {
  probability: z.number().min(0).max(1).optional().describe("chance that an eligible call fails (default 1)"),
  interval: z.number().int().min(1).optional().describe("only every n-th call is eligible (default 1)"),
  times: z.number().int().min(-1).optional().describe("fail at most this many times, -1 for no limit (default -1)"),
  space: z.number().int().min(0).optional().describe("let this many calls pass first (default 0)"),
};

export const fault = defineOp({
  schema: z.object({
    op: z.literal("fault"), ...common,
    point: z.string().regex(/^[a-z_][a-z0-9_.]*$/, "a fault point name like migrate_extra_ref or ptdma.bus_fault").describe("the fault point (mmemu faults lists them)"),
    ...FaultKnobs,
    target: z.union([z.number().int().nonnegative(), z.object({ process: Name, addr: Addr }).strict()]).optional()
      .describe("only this object: an engine or node number, or {process, addr} for the folio mapped there"),
    disarm: z.boolean().default(false),
    expect: z.object({ injected: z.number().int().optional(), minInjected: z.number().int().optional() }).strict().optional()
      .describe("failures injected by this point since it was armed"),
  }).strict(),
  check(c, st) {
    if (typeof st.target === "object") {
      c.proc(st.target.process, "target.process");
      c.addr(st.target.addr, "target.addr");
    }
    if (st.disarm && (st.probability !== undefined || st.interval !== undefined || st.times !== undefined || st.space !== undefined || st.target !== undefined)) {
      c.problem("disarm", "a disarm step takes no knobs");
    }
  },
  run(w, st, scope) {
    const faults = w.m.core.faults;
    const known = faults.list().map((p) => p.name);
    if (!known.includes(st.point)) {
      return { call: `fault ${st.point}`, result: {}, mismatches: [`no fault point "${st.point}" on this machine (points: ${known.join(", ")})`] };
    }
    const fp = faults.get(st.point);
    if (st.disarm) {
      fp.disarm();
    } else {
      let target: number | undefined;
      if (typeof st.target === "number") target = st.target;
      else if (st.target !== undefined) {
        const t = w.task(st.target.process);
        const pfn = t.mm === null ? -1 : w.m.memory.translate(t.mm, evalAddrNumber(st.target.addr, scope));
        if (pfn < 0) return { call: `fault ${st.point}`, result: {}, mismatches: [`target: nothing is mapped at ${st.target.process}'s ${st.target.addr}`] };
        target = w.m.folios.folioOf(pfn);
      }
      try {
        fp.arm({
          ...(st.probability !== undefined ? { probability: st.probability } : {}), ...(st.interval !== undefined ? { interval: st.interval } : {}),
          ...(st.times !== undefined ? { times: st.times } : {}), ...(st.space !== undefined ? { space: st.space } : {}),
          ...(target !== undefined ? { target } : {}),
        });
      } catch (e) {
        return { call: `fault ${st.point}`, result: {}, mismatches: [(e as Error).message] };
      }
    }
    const e = st.expect ?? {};
    const mismatches = checkField("injected", fp.injected, e.injected);
    if (e.minInjected !== undefined && fp.injected < e.minInjected) mismatches.push(`${fp.injected} failures injected, expected at least ${e.minInjected}`);
    const knobs = st.disarm ? "disarm" : [`probability=${st.probability ?? 1}`, st.interval ? `interval=${st.interval}` : "", st.times !== undefined ? `times=${st.times}` : "", st.space ? `space=${st.space}` : "", st.target !== undefined ? `target=${typeof st.target === "number" ? st.target : st.target.addr}` : ""].filter(Boolean).join(" ");
    return { call: `fault ${st.point} ${knobs}`, result: { armed: fp.armed, calls: fp.calls, injected: fp.injected }, mismatches };
  },
});
