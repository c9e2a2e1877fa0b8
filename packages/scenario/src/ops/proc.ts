/** numa_maps: /proc/PID/numa_maps in the kernel's format, checked line by line. */
import { z } from "zod";
import { showNumaMap } from "@mmemu/mm-core";
import { evalAddrNumber } from "../expr.js";
import { defineOp } from "../op.js";
import { Addr, common, proc } from "../schema-types.js";

export const numa_maps = defineOp({
  schema: z.object({
    op: z.literal("numa_maps"), ...common, ...proc,
    expect: z.array(z.object({
      addr: Addr.describe("an address in the VMA"),
      line: z.string().describe("the line after the VMA's start address, e.g. \"bind:1 anon=4 dirty=4 active=0 N1=4 kernelpagesize_kB=4\""),
    }).strict()).optional(),
  }).strict(),
  check(c, st) {
    c.proc(st.process);
    for (const [i, e] of (st.expect ?? []).entries()) c.addr(e.addr, `expect[${i}].addr`);
  },
  run(w, st, scope) {
    const t = w.task(st.process);
    const mm = t.mm;
    const mismatches: string[] = [];
    if (mm === null) return { call: `cat /proc/${t.pid}/numa_maps`, result: { lines: [] }, mismatches: ["the process has no address space"] };
    const lines = mm.vmas.map((v) => showNumaMap(w.m, v, t.ctx));
    for (const e of st.expect ?? []) {
      const addr = evalAddrNumber(e.addr, scope);
      const v = mm.findVma(addr);
      if (v === null) {
        mismatches.push(`no VMA at ${e.addr}`);
        continue;
      }
      const got = showNumaMap(w.m, v, t.ctx).replace(/^[0-9a-f]+ /, "");
      if (got !== e.line) mismatches.push(`numa_maps of ${e.addr}: "${got}", expected "${e.line}"`);
    }
    return { call: `cat /proc/${t.pid}/numa_maps`, result: { lines }, mismatches };
  },
});
