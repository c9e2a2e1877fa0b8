/** setresuid, setresgid, capset, prctl(PR_SET_DUMPABLE) and cpuset.mems: who may move whose pages. */
import { z } from "zod";
import { capByName, capMask, capset as kcapset, nodeMaskOf, setresgid as ksetresgid, setresuid as ksetresuid, type Cred } from "@mmemu/move-pages";
import { defineOp, retOutcome, type Outcome } from "../op.js";
import { CapName, common, NodeList, OpExpect, proc } from "../schema-types.js";
import type { World } from "../world.js";

/** Commit new credentials, or return the error. */
function commit(w: World, process: string, next: Cred | number, call: string, expect: z.infer<typeof OpExpect> | undefined, vars: Readonly<Record<string, number>>): Outcome {
  if (typeof next !== "number") w.tasks.commitCreds(w.task(process), next);
  return retOutcome(call, typeof next === "number" ? next : 0, expect, vars);
}

const checkProc = (c: { proc(name: string): void }, st: { process: string }) => c.proc(st.process);

export const setresuid = defineOp({
  schema: z.object({ op: z.literal("setresuid"), ...common, ...proc, ruid: z.number().int().min(-1).default(-1), euid: z.number().int().min(-1).default(-1), suid: z.number().int().min(-1).default(-1), expect: OpExpect.optional() }).strict(),
  check: checkProc,
  run(w, st, scope) {
    const next = ksetresuid(w.task(st.process).cred, st.ruid, st.euid, st.suid);
    return commit(w, st.process, next, `setresuid(${st.ruid}, ${st.euid}, ${st.suid})`, st.expect, scope.vars);
  },
});

export const setresgid = defineOp({
  schema: z.object({ op: z.literal("setresgid"), ...common, ...proc, rgid: z.number().int().min(-1).default(-1), egid: z.number().int().min(-1).default(-1), sgid: z.number().int().min(-1).default(-1), expect: OpExpect.optional() }).strict(),
  check: checkProc,
  run(w, st, scope) {
    const next = ksetresgid(w.task(st.process).cred, st.rgid, st.egid, st.sgid);
    return commit(w, st.process, next, `setresgid(${st.rgid}, ${st.egid}, ${st.sgid})`, st.expect, scope.vars);
  },
});

export const capset = defineOp({
  schema: z.object({ op: z.literal("capset"), ...common, ...proc, effective: z.array(CapName), permitted: z.array(CapName).optional(), expect: OpExpect.optional() }).strict(),
  check(c, st) {
    c.proc(st.process);
    for (const [k, n] of [...st.effective, ...(st.permitted ?? [])].entries()) {
      if (capByName(n) === undefined) c.problem(`effective/permitted[${k}]`, `unknown capability "${n}"`);
    }
  },
  run(w, st, scope) {
    const t = w.task(st.process);
    const eff = capMask(st.effective.map((c) => capByName(c)!));
    const next = kcapset(t.cred, eff, st.permitted ? capMask(st.permitted.map((c) => capByName(c)!)) : t.cred.capPermitted);
    return commit(w, st.process, next, `capset(${st.effective.join(",") || "none"})`, st.expect, scope.vars);
  },
});

export const prctl_set_dumpable = defineOp({
  schema: z.object({ op: z.literal("prctl_set_dumpable"), ...common, ...proc, value: z.number().int(), expect: OpExpect.optional() }).strict(),
  check: checkProc,
  run(w, st, scope) {
    const r = w.tasks.prctlSetDumpable(w.task(st.process), st.value);
    return retOutcome(`prctl(PR_SET_DUMPABLE, ${st.value})`, r, st.expect, scope.vars);
  },
});

export const set_cpuset = defineOp({
  schema: z.object({ op: z.literal("set_cpuset"), ...common, ...proc, nodes: NodeList }).strict(),
  check(c, st) {
    c.proc(st.process);
    c.nodes(st.nodes, "nodes");
  },
  run(w, st) {
    w.task(st.process).cpuset = w.tasks.createCpuset(`${st.process}-cpuset`, nodeMaskOf(st.nodes));
    return { call: `cpuset.mems = ${st.nodes.join(",")}`, result: {}, mismatches: [] };
  },
});
