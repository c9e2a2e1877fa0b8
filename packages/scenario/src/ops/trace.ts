/**
 * trace_start / trace_stop: record tracepoints between two steps and check how often each fired, as a
 * test on a real machine counts lines of the tracefs `trace` file.
 */
import { z } from "zod";
import { defineOp } from "../op.js";
import { common } from "../schema-types.js";

const EventName = z.string().regex(/^[a-z_][a-z0-9_]*$/, "a tracepoint name like set_migration_pte");

export const trace_start = defineOp({
  schema: z.object({ op: z.literal("trace_start"), ...common, events: z.array(EventName).min(1) }).strict(),
  check() {},
  run(w, st) {
    const known = w.m.core.trace.names();
    const unknown = st.events.filter((e) => !known.includes(e));
    if (unknown.length > 0) return { call: "trace", result: {}, mismatches: [`unknown tracepoint ${unknown.join(", ")} (known: ${known.join(", ")})`] };
    w.trace?.stop();
    w.trace = w.m.core.trace.record(st.events);
    return { call: `trace ${st.events.join(", ")}`, result: {}, mismatches: [] };
  },
});

export const trace_stop = defineOp({
  schema: z.object({
    op: z.literal("trace_stop"), ...common,
    expect: z.record(EventName, z.number().int().nonnegative()).optional().describe("how many times each event fired"),
  }).strict(),
  check() {},
  run(w, st) {
    const rec = w.trace;
    if (rec === null) return { call: "trace stop", result: {}, mismatches: ["trace_stop without a trace_start before it"] };
    rec.stop();
    w.trace = null;
    const counts: Record<string, number> = {};
    for (const r of rec.records) counts[r.name] = (counts[r.name] ?? 0) + 1;
    const mismatches: string[] = [];
    for (const [name, want] of Object.entries(st.expect ?? {})) {
      const got = counts[name] ?? 0;
      if (got !== want) mismatches.push(`${name} fired ${got} times, expected ${want}`);
    }
    return { call: "trace stop", result: { counts }, mismatches };
  },
});
