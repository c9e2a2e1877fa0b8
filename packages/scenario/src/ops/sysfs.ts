/**
 * sysfs: read or write the loaded migrator's attributes mid-run (/sys/kernel/<migrator>/...), as a user
 * would between two move_pages calls: change nr_dma_chan, reset folios_migrated, check a counter.
 */
import { z } from "zod";
import { errnoName } from "@mmemu/kernel";
import { checkRet } from "../expect.js";
import { defineOp } from "../op.js";
import { common, ErrnoName } from "../schema-types.js";

const Value = z.union([z.string(), z.number()]);

export const sysfs = defineOp({
  schema: z.object({
    op: z.literal("sysfs"), ...common,
    write: z.record(z.string().min(1), Value).optional().describe("attributes to write, in this order (the value gets a trailing newline, as echo writes it)"),
    read: z.array(z.string().min(1)).optional().describe("attributes to read after the writes; their values are in the step's result"),
    expect: z.record(z.string().min(1), Value).optional().describe("values the read attributes must show (compared without the trailing newline)"),
    errno: ErrnoName.optional().describe("the errno the last write must fail with (e.g. EINVAL); without it every write must succeed"),
  }).strict(),
  check(c, st) {
    if (c.migrator === null) c.problem("op", "no migrator is loaded (set machine.migrator)");
    if (st.write === undefined && st.read === undefined) c.problem("op", "give write, read or both");
    if (st.errno !== undefined && (st.write === undefined || Object.keys(st.write).length === 0)) c.problem("errno", "an expected errno needs a write");
    for (const k of Object.keys(st.expect ?? {})) if (!(st.read ?? []).includes(k)) c.problem(`expect.${k}`, `"${k}" is not read by this step (add it to read)`);
  },
  run(w, st) {
    const inst = w.migrator;
    if (inst === null) throw new Error("sysfs: no migrator is loaded");
    const mismatches: string[] = [];
    const unknown = [...Object.keys(st.write ?? {}), ...(st.read ?? [])].filter((a) => !inst.attrs.includes(a));
    if (unknown.length > 0) throw new Error(`sysfs: the migrator has no attribute ${unknown.map((a) => `"${a}"`).join(", ")} (it has ${inst.attrs.join(", ")})`);
    const written: Record<string, unknown> = {};
    const writes = Object.entries(st.write ?? {});
    writes.forEach(([attr, v], i) => {
      const rc = inst.sysfsWrite(attr, `${v}\n`);
      written[attr] = rc < 0 ? `-${errnoName(rc)}` : String(v);
      const last = i === writes.length - 1;
      if (last && st.errno !== undefined) mismatches.push(...checkRet(rc < 0 ? -1 : 0, rc < 0 ? -rc : 0, { errno: st.errno }, {}).map((m) => `write ${attr}=${v}: ${m}`));
      else if (rc < 0) mismatches.push(`write ${attr}=${v} failed with ${errnoName(rc)}`);
    });
    const values: Record<string, string> = {};
    for (const attr of st.read ?? []) {
      const r = inst.sysfsRead(attr);
      values[attr] = typeof r === "number" ? `-${errnoName(r)}` : r.replace(/\n$/, "");
    }
    for (const [attr, want] of Object.entries(st.expect ?? {})) {
      if (values[attr] !== String(want)) mismatches.push(`${attr} is "${values[attr]}", expected "${want}"`);
    }
    const call = [...writes.map(([a, v]) => `echo ${v} > ${a}`), ...(st.read ?? []).map((a) => `cat ${a}`)].join("; ");
    return { call: `sysfs: ${call}`, result: { ...(writes.length > 0 ? { written } : {}), ...(st.read ? { values } : {}) }, mismatches };
  },
});
