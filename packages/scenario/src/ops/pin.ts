/** pin_user_pages / unpin_user_page: long-term pins that keep a page from migrating. */
import { z } from "zod";
import { EINVAL } from "@mmemu/kernel";
import { evalAddrNumber } from "../expr.js";
import { defineOp, retOutcome } from "../op.js";
import { Addr, common, Name, OpExpect, proc } from "../schema-types.js";

export const pin = defineOp({
  schema: z.object({
    op: z.literal("pin"), ...common, ...proc, addr: Addr, as: Name, write: z.boolean().default(false),
    kind: z.enum(["pin", "get"]).default("pin").describe("pin: pin_user_pages (FOLL_PIN); get: a plain reference (FOLL_GET, as vmsplice takes)"),
    expect: OpExpect.optional(),
  }).strict(),
  check(c, st) {
    c.proc(st.process);
    c.addr(st.addr, "addr");
    c.scope.pins.add(st.as);
  },
  run(w, st, scope) {
    const t = w.task(st.process);
    const addr = evalAddrNumber(st.addr, scope);
    const r = w.tasks.withCurrent(t, () => (st.kind === "get" ? w.m.memory.getUserPage(t.mm!, addr, st.write) : w.m.memory.pinUserPage(t.mm!, addr, st.write)));
    if (r >= 0) {
      w.pins.set(st.as, r);
      if (st.kind === "get") w.gets.add(st.as);
    }
    const fn = st.kind === "get" ? "get_user_pages" : "pin_user_pages";
    return retOutcome(`${fn}(${st.addr}${st.write ? ", FOLL_WRITE" : ""})`, r >= 0 ? 0 : r, st.expect, scope.vars);
  },
});

export const unpin = defineOp({
  schema: z.object({ op: z.literal("unpin"), ...common, pin: Name }).strict(),
  check(c, st) {
    if (!c.scope.pins.has(st.pin)) c.problem("pin", `unknown pin "${st.pin}" (pins: ${c.known(c.scope.pins)})`);
  },
  run(w, st, scope) {
    const folio = w.pins.get(st.pin);
    const get = w.gets.delete(st.pin);
    let r = -EINVAL;
    if (folio !== undefined && get) {
      w.m.folioPut(folio);
      r = 0;
    } else if (folio !== undefined) r = w.m.memory.unpinUserPage(folio);
    w.pins.delete(st.pin);
    return retOutcome(`${get ? "put_page" : "unpin_user_page"}(${st.pin})`, r, undefined, scope.vars);
  },
});
