/** mbind(2), set_mempolicy(2) and get_mempolicy(2) with raw arguments, node lists placed in the caller's memory. */
import { z } from "zod";
import {
  MPOL_BIND, MPOL_DEFAULT, MPOL_F_NUMA_BALANCING, MPOL_F_RELATIVE_NODES, MPOL_F_STATIC_NODES, MPOL_INTERLEAVE, MPOL_LOCAL,
  MPOL_PREFERRED, MPOL_PREFERRED_MANY, MPOL_WEIGHTED_INTERLEAVE,
} from "@mmemu/mm-core";
import {
  kernelGetMempolicy, kernelMbind, kernelSetMempolicy, MPOL_F_ADDR, MPOL_F_MEMS_ALLOWED, MPOL_F_NODE, MPOL_MF_LAZY,
  MPOL_MF_MOVE, MPOL_MF_MOVE_ALL, MPOL_MF_STRICT, nodeBitmapLongs, readUserInts, type TaskStruct,
} from "@mmemu/move-pages";
import { checkField } from "../expect.js";
import { evalAddrNumber, parseSize, type ExprScope } from "../expr.js";
import { bits, defineOp, hex, retOutcome } from "../op.js";
import { Addr, common, IntOrVar, NodeList, OpExpect, proc, Size } from "../schema-types.js";
import type { World } from "../world.js";

const MODES: Readonly<Record<string, number>> = {
  DEFAULT: MPOL_DEFAULT, PREFERRED: MPOL_PREFERRED, BIND: MPOL_BIND, INTERLEAVE: MPOL_INTERLEAVE, LOCAL: MPOL_LOCAL,
  PREFERRED_MANY: MPOL_PREFERRED_MANY, WEIGHTED_INTERLEAVE: MPOL_WEIGHTED_INTERLEAVE,
};
const MODE_FLAGS: Readonly<Record<string, number>> = {
  STATIC_NODES: MPOL_F_STATIC_NODES, RELATIVE_NODES: MPOL_F_RELATIVE_NODES, NUMA_BALANCING: MPOL_F_NUMA_BALANCING,
};
const MBIND_FLAGS: Readonly<Record<string, number>> = { STRICT: MPOL_MF_STRICT, MOVE: MPOL_MF_MOVE, MOVE_ALL: MPOL_MF_MOVE_ALL, LAZY: MPOL_MF_LAZY };
const GET_FLAGS: Readonly<Record<string, number>> = { NODE: MPOL_F_NODE, ADDR: MPOL_F_ADDR, MEMS_ALLOWED: MPOL_F_MEMS_ALLOWED };

const Mode = z.union([z.number().int(), z.enum(Object.keys(MODES) as [string, ...string[]])]).describe("MPOL_* mode name or raw number");
const ModeFlags = z.array(z.enum(Object.keys(MODE_FLAGS) as [string, ...string[]])).default([]).describe("MPOL_F_* flags OR-ed into the mode");
const Nodes = z.union([NodeList, z.null(), z.object({ raw: Addr }).strict()]).default(null)
  .describe("node list placed as a bitmap in the caller's memory, null for a NULL pointer, or a raw pointer");
const Maxnode = z.number().int().nonnegative().default(1025);

function modeValue(mode: number | string, flags: readonly string[]): number {
  return (typeof mode === "number" ? mode : MODES[mode]!) | bits(flags, MODE_FLAGS);
}

function placeNodes(w: World, t: TaskStruct, nodes: z.infer<typeof Nodes>, maxnode: number, scope: ExprScope): number {
  if (nodes === null) return 0;
  if (!Array.isArray(nodes)) return evalAddrNumber(nodes.raw, scope);
  return w.arena(t).place(nodeBitmapLongs(nodes, Math.max(64, Math.min(maxnode, 1 << 15))), 8);
}

function nodesText(nodes: z.infer<typeof Nodes>): string {
  return nodes === null ? "NULL" : Array.isArray(nodes) ? `{${nodes.join(",")}}` : String(nodes.raw);
}

function modeText(mode: number | string, flags: readonly string[]): string {
  return [String(mode), ...flags].join("|");
}

export const mbind = defineOp({
  schema: z.object({
    op: z.literal("mbind"), ...common, ...proc, addr: Addr, len: Size, mode: Mode, modeFlags: ModeFlags, nodes: Nodes, maxnode: Maxnode,
    flags: z.union([z.number().int(), z.array(z.enum(["STRICT", "MOVE", "MOVE_ALL", "LAZY"]))]).default([]),
    expect: OpExpect.optional(),
  }).strict(),
  check(c, st) {
    c.proc(st.process);
    c.addr(st.addr, "addr");
    c.size(st.len, "len");
    if (st.nodes !== null && !Array.isArray(st.nodes)) c.addr(st.nodes.raw, "nodes.raw");
  },
  run(w, st, scope) {
    const t = w.task(st.process);
    const addr = evalAddrNumber(st.addr, scope);
    const nm = placeNodes(w, t, st.nodes, st.maxnode, scope);
    w.beforeSyscall?.();
    const r = kernelMbind(w.tasks, t, addr, parseSize(st.len), modeValue(st.mode, st.modeFlags), nm, st.maxnode, bits(st.flags, MBIND_FLAGS));
    const flagText = Array.isArray(st.flags) ? st.flags.join("|") || "0" : String(st.flags);
    return retOutcome(`mbind(${hex(addr)}, ${st.len}, ${modeText(st.mode, st.modeFlags)}, ${nodesText(st.nodes)}, ${st.maxnode}, ${flagText})`, r, st.expect, scope.vars);
  },
});

export const set_mempolicy = defineOp({
  schema: z.object({
    op: z.literal("set_mempolicy"), ...common, ...proc, mode: Mode, modeFlags: ModeFlags, nodes: Nodes, maxnode: Maxnode,
    expect: OpExpect.optional(),
  }).strict(),
  check(c, st) {
    c.proc(st.process);
    if (st.nodes !== null && !Array.isArray(st.nodes)) c.addr(st.nodes.raw, "nodes.raw");
  },
  run(w, st, scope) {
    const t = w.task(st.process);
    const nm = placeNodes(w, t, st.nodes, st.maxnode, scope);
    w.beforeSyscall?.();
    const r = kernelSetMempolicy(w.tasks, t, modeValue(st.mode, st.modeFlags), nm, st.maxnode);
    return retOutcome(`set_mempolicy(${modeText(st.mode, st.modeFlags)}, ${nodesText(st.nodes)}, ${st.maxnode})`, r, st.expect, scope.vars);
  },
});

export const get_mempolicy = defineOp({
  schema: z.object({
    op: z.literal("get_mempolicy"), ...common, ...proc,
    addr: Addr.default(0), maxnode: Maxnode,
    flags: z.union([z.number().int(), z.array(z.enum(["NODE", "ADDR", "MEMS_ALLOWED"]))]).default([]),
    expect: OpExpect.extend({
      mode: z.union([z.number().int(), z.string()]).optional().describe("the int written to *policy: a mode name (with |FLAG names) or a number (a node with NODE)"),
      node: IntOrVar.optional().describe("with NODE: the node written to *policy (or \"$var\")"),
      nodes: NodeList.optional().describe("the nodes set in the returned mask"),
    }).strict().optional(),
  }).strict(),
  check(c, st) {
    c.proc(st.process);
    c.addr(st.addr, "addr");
  },
  run(w, st, scope) {
    const t = w.task(st.process);
    const addr = evalAddrNumber(st.addr, scope);
    const longs = Math.max(1, Math.ceil(st.maxnode / 64));
    const polPtr = w.arena(t).place([-1], 4);
    const nmPtr = w.arena(t).place(new Array<bigint>(longs).fill(0n), 8);
    w.beforeSyscall?.();
    const flags = bits(st.flags, GET_FLAGS);
    const r = kernelGetMempolicy(w.tasks, t, polPtr, nmPtr, st.maxnode, addr, flags);
    const pval = readUserInts(w.tasks, t, polPtr, 1)[0] ?? -1;
    const words = readUserInts(w.tasks, t, nmPtr, longs * 2);
    const nodes: number[] = [];
    words.forEach((v, i) => {
      for (let b = 0; b < 32; b++) if (((v ?? 0) >>> b) & 1) nodes.push(i * 32 + b);
    });
    const flagText = Array.isArray(st.flags) ? st.flags.join("|") || "0" : String(st.flags);
    const out = retOutcome(`get_mempolicy(&mode, nodemask, ${st.maxnode}, ${hex(addr)}, ${flagText})`, r, st.expect, scope.vars, { policy: pval, nodes });
    const e = st.expect;
    if (r === 0 && e !== undefined) {
      if (e.mode !== undefined) {
        const want = typeof e.mode === "number" ? e.mode : e.mode.split("|").reduce((acc, k) => acc | (MODES[k] ?? MODE_FLAGS[k] ?? NaN), 0);
        if (Number.isNaN(want)) out.mismatches.push(`expect.mode "${e.mode}" names no MPOL_* mode or flag`);
        else out.mismatches.push(...checkField("mode", pval, want));
      }
      if (e.node !== undefined) out.mismatches.push(...checkField("node", pval, typeof e.node === "number" ? e.node : scope.vars[e.node.slice(1)]));
      if (e.nodes !== undefined && nodes.join(",") !== e.nodes.join(",")) out.mismatches.push(`nodes are {${nodes.join(",")}}, expected {${e.nodes.join(",")}}`);
    }
    return out;
  },
});
