/** numa_maps and smaps: /proc/PID/numa_maps lines and /proc/PID/smaps fields in the kernel's formats. */
import { z } from "zod";
import { showNumaMap, smapsFields, smapsLines, type SmapsFields } from "@mmemu/mm-core";
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

const SMAPS_FIELDS = [
  "Size", "KernelPageSize", "MMUPageSize", "Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty",
  "Anonymous", "AnonHugePages", "Shared_Hugetlb", "Private_Hugetlb", "Swap", "Locked",
] as const;

export const smaps = defineOp({
  schema: z.object({
    op: z.literal("smaps"), ...common, ...proc, addr: Addr.describe("an address in the VMA"),
    expect: z.partialRecord(z.enum(SMAPS_FIELDS), z.number().int().nonnegative()).optional().describe("field values in kB"),
  }).strict(),
  check(c, st) {
    c.proc(st.process);
    c.addr(st.addr, "addr");
  },
  run(w, st, scope) {
    const t = w.task(st.process);
    const addr = evalAddrNumber(st.addr, scope);
    const v = t.mm?.findVma(addr) ?? null;
    if (v === null) return { call: `smaps of ${st.addr}`, result: {}, mismatches: [`no VMA at ${st.addr}`] };
    const fields = smapsFields(w.m, v);
    const mismatches: string[] = [];
    for (const [k, want] of Object.entries(st.expect ?? {})) {
      const got = fields[k as keyof SmapsFields];
      if (got !== want) mismatches.push(`${k} is ${got} kB, expected ${want} kB`);
    }
    return { call: `smaps of ${st.addr}`, result: { lines: smapsLines(fields) }, mismatches };
  },
});
