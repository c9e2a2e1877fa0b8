/** migrate_pages(2): move a process's pages from one node set to another. */
import { z } from "zod";
import { kernelMigratePages, nodeBitmapLongs } from "@mmemu/move-pages";
import { evalAddrNumber } from "../expr.js";
import { defineOp, retOutcome } from "../op.js";
import { Addr, common, Name, NodeList, OpExpect, proc } from "../schema-types.js";

const ULONG_MAX = 18446744073709551615;
const NodeSet = z.union([NodeList, z.object({ raw: Addr }).strict()]);

export const migrate_pages = defineOp({
  schema: z.object({
    op: z.literal("migrate_pages"), ...common, ...proc,
    pid: z.union([z.number().int(), Name]).default(0),
    maxnode: z.union([z.number().int().nonnegative(), z.string().regex(/^(ULONG_MAX|\d+)$/)]).default(1025),
    old: NodeSet,
    new: NodeSet,
    expect: OpExpect.optional(),
  }).strict(),
  check(c, st) {
    c.proc(st.process);
    c.pid(st.pid);
    if (!Array.isArray(st.old)) c.addr(st.old.raw, "old.raw");
    if (!Array.isArray(st.new)) c.addr(st.new.raw, "new.raw");
  },
  run(w, st, scope) {
    const t = w.task(st.process);
    const pid = typeof st.pid === "string" ? w.task(st.pid).pid : st.pid;
    const maxnode = st.maxnode === "ULONG_MAX" ? ULONG_MAX : Number(st.maxnode);
    const place = (v: z.infer<typeof NodeSet>) => {
      if (!Array.isArray(v)) return evalAddrNumber(v.raw, scope);
      return w.arena(t).place(nodeBitmapLongs(v, Math.max(64, Math.min(maxnode, 1 << 15))), 8);
    };
    const oldPtr = place(st.old);
    const newPtr = place(st.new);
    w.beforeSyscall?.();
    const r = kernelMigratePages(w.tasks, t, pid, maxnode, oldPtr, newPtr);
    const desc = (v: z.infer<typeof NodeSet>) => (Array.isArray(v) ? `{${v.join(",")}}` : String(v.raw));
    return retOutcome(`migrate_pages(${pid}, ${st.maxnode}, ${desc(st.old)}, ${desc(st.new)})`, r, st.expect, scope.vars);
  },
});
