/** munmap, mprotect, mlock/munlock and madvise: calls on an address range of the caller. */
import { z } from "zod";
import { EINVAL, ENOMEM } from "@mmemu/kernel";
import { madvisePageout, PAGE_SIZE } from "@mmemu/mm-core";
import { evalAddrNumber, parseSize, type ExprScope } from "../expr.js";
import { bits, defineOp, retOutcome, type Outcome, type StepCheck } from "../op.js";
import type { World } from "../world.js";
import { common, OpExpect, proc, Prot, Range } from "../schema-types.js";
import { PROT_BITS } from "./prot.js";

function checkRange(c: StepCheck, st: { process: string; addr: number | string; len: number | string }): void {
  c.proc(st.process);
  c.addr(st.addr, "addr");
  c.size(st.len, "len");
}

export const munmap = defineOp({
  schema: z.object({ op: z.literal("munmap"), ...common, ...proc, ...Range, expect: OpExpect.optional() }).strict(),
  check: checkRange,
  run(w, st, scope) {
    const t = w.task(st.process);
    const r = w.m.memory.munmap(t.mm!, evalAddrNumber(st.addr, scope), parseSize(st.len));
    return retOutcome(`munmap(${st.addr}, ${st.len})`, r, st.expect, scope.vars);
  },
});

export const mprotect = defineOp({
  schema: z.object({ op: z.literal("mprotect"), ...common, ...proc, ...Range, prot: Prot, expect: OpExpect.optional() }).strict(),
  check: checkRange,
  run(w, st, scope) {
    const t = w.task(st.process);
    const r = w.m.memory.mprotect(t.mm!, evalAddrNumber(st.addr, scope), parseSize(st.len), bits(st.prot, PROT_BITS));
    return retOutcome(`mprotect(${st.addr}, ${st.len}, ${Array.isArray(st.prot) ? st.prot.join("|") : st.prot})`, r, st.expect, scope.vars);
  },
});

interface LockStep {
  op: "mlock" | "munlock";
  process: string;
  addr: number | string;
  len: number | string;
  onFault?: boolean;
  expect?: z.infer<typeof OpExpect> | undefined;
}

function lockRange(w: World, st: LockStep, scope: ExprScope): Outcome {
  const t = w.task(st.process);
  const lock = st.op === "mlock";
  const onFault = lock && st.onFault === true;
  const r = w.tasks.withCurrent(t, () => w.m.memory.mlockRange(t.mm!, evalAddrNumber(st.addr, scope), parseSize(st.len), lock, onFault));
  return retOutcome(`${st.op}${onFault ? "2(MLOCK_ONFAULT)" : ""}(${st.addr}, ${st.len})`, r, st.expect, scope.vars);
}

export const mlock = defineOp({
  schema: z.object({ op: z.literal("mlock"), ...common, ...proc, ...Range, onFault: z.boolean().default(false), expect: OpExpect.optional() }).strict(),
  check: checkRange,
  run: lockRange,
});

export const munlock = defineOp({
  schema: z.object({ op: z.literal("munlock"), ...common, ...proc, ...Range, expect: OpExpect.optional() }).strict(),
  check: checkRange,
  run: lockRange,
});

export const madvise = defineOp({
  schema: z.object({
    op: z.literal("madvise"), ...common, ...proc, ...Range,
    advice: z.enum(["HUGEPAGE", "NOHUGEPAGE", "DONTNEED", "PAGEOUT", "MERGEABLE", "UNMERGEABLE"]),
    expect: OpExpect.optional(),
  }).strict(),
  check: checkRange,
  run(w, st, scope) {
    const m = w.m;
    const t = w.task(st.process);
    const addr = evalAddrNumber(st.addr, scope);
    const len = parseSize(st.len);
    const r = w.tasks.withCurrent(t, () => {
      if (st.advice !== "PAGEOUT") return m.memory.madvise(t.mm!, addr, len, st.advice.toLowerCase() as "hugepage");
      if (addr % PAGE_SIZE !== 0) return -EINVAL;
      // madvise() fails with -ENOMEM when part of the range is not mapped.
      for (let a = addr; a < addr + len; a = t.mm!.findVma(a)!.end) if (t.mm!.findVma(a) === null) return -ENOMEM;
      madvisePageout(m, t.mm!, addr, len);
      return 0;
    });
    return retOutcome(`madvise(${st.addr}, ${st.len}, MADV_${st.advice})`, r, st.expect, scope.vars);
  },
});
