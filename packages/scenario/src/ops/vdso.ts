/** vdso: the kernel's [vvar] and [vdso] special mappings, as exec's arch_setup_additional_pages() installs them. */
import { z } from "zod";
import { mapVdso } from "@mmemu/mm-core";
import { defineOp, hex, retOutcome } from "../op.js";
import { common, Name, proc } from "../schema-types.js";

export const vdso = defineOp({
  schema: z.object({
    op: z.literal("vdso"), ...common, ...proc,
    as: Name.describe("label for the [vdso] text (the AT_SYSINFO_EHDR address)"),
    vvarAs: Name.describe("label for the [vvar] data pages just below it"),
  }).strict(),
  check(c, st) {
    c.proc(st.process);
    if (st.as === st.vvarAs) c.problem("vvarAs", `the same label as "as" ("${st.as}")`);
    c.scope.labels.add(st.as);
    c.scope.labels.add(st.vvarAs);
  },
  run(w, st, scope) {
    const t = w.task(st.process);
    const r = w.tasks.withCurrent(t, () => mapVdso(w.m, t.mm!));
    if (typeof r === "number") return retOutcome("map_vdso()", r, undefined, scope.vars);
    w.labels.set(st.as, BigInt(r.vdso));
    w.labels.set(st.vvarAs, BigInt(r.vvar));
    return retOutcome("map_vdso()", 0, undefined, scope.vars, { vdso: hex(r.vdso), vvar: hex(r.vvar) });
  },
});
