/** stack: the process's initial stack, a VM_GROWSDOWN VMA below STACK_TOP that page faults grow. */
import { z } from "zod";
import { setupStack } from "@mmemu/mm-core";
import { parseSize } from "../expr.js";
import { defineOp, hex, retOutcome } from "../op.js";
import { common, Name, proc, Size } from "../schema-types.js";

export const stack = defineOp({
  schema: z.object({
    op: z.literal("stack"), ...common, ...proc,
    as: Name.describe("label for the stack VMA's start (its lowest address) as set up"),
    len: Size.default("128KiB").describe("initial size (setup_arg_pages() expands to 128 KiB beyond the arguments)"),
  }).strict(),
  check(c, st) {
    c.proc(st.process);
    c.size(st.len, "len");
    c.scope.labels.add(st.as);
  },
  run(w, st, scope) {
    const t = w.task(st.process);
    const r = setupStack(t.mm!, parseSize(st.len));
    if (r >= 0) w.labels.set(st.as, BigInt(r));
    return retOutcome(`setup_arg_pages(${st.len})`, r, undefined, scope.vars, r >= 0 ? { addr: hex(r) } : {});
  },
});
