/** move_pages(2) with its three arrays in the caller's memory: given, ranges, raw pointers or fills. */
import { z } from "zod";
import { PAGE_SIZE } from "@mmemu/mm-core";
import { kernelMovePages, MPOL_MF_LAZY, MPOL_MF_MOVE, MPOL_MF_MOVE_ALL, MPOL_MF_STRICT, readUserInts, writeUserArray, type TaskStruct } from "@mmemu/move-pages";
import { checkStatus, describeStatus } from "../expect.js";
import { evalAddr, evalAddrNumber, parseSize, type ExprScope } from "../expr.js";
import { bits, defineOp, retOutcome, type Outcome } from "../op.js";
import type { World } from "../world.js";
import { Addr, common, IntOrVar, Name, proc, Size, SyscallExpect } from "../schema-types.js";

/** Status arrays longer than this are reported as a summary (value -> count). */
export const STATUS_REPORT_LIMIT = 4096;

const MOVE_BITS: Record<string, number> = { MOVE: MPOL_MF_MOVE, MOVE_ALL: MPOL_MF_MOVE_ALL, STRICT: MPOL_MF_STRICT, LAZY: MPOL_MF_LAZY };
const MoveFlag = z.enum(["MOVE", "MOVE_ALL", "STRICT", "LAZY"]);

const PageList = z.union([
  z.array(Addr),
  z.object({ range: Addr, count: z.number().int().nonnegative(), stride: Size.default(4096) }).strict(),
]);
const NodeValues = z.union([
  z.array(IntOrVar),
  z.object({ fill: IntOrVar, count: z.number().int().nonnegative() }).strict(),
]);

const MovePagesSchema = z.object({
  op: z.literal("move_pages"), ...common, ...proc,
  pid: z.union([z.number().int(), Name]).default(0).describe("0, a number, or a process/thread name"),
  count: z.union([z.number().int().nonnegative(), z.string()]).optional().describe("default: the number of pages given"),
  pages: z.union([PageList, z.object({ raw: Addr }).strict()]).describe("addresses, a range, or {raw: pointer}"),
  nodes: z.union([NodeValues, z.object({ raw: Addr }).strict(), z.null()]).default(null).describe("null selects stat mode"),
  status: z.union([z.literal("auto"), z.object({ raw: Addr }).strict()]).default("auto"),
  statusFill: z.number().int().default(-999).describe("what status holds before the call"),
  flags: z.union([z.number().int(), z.array(MoveFlag)]).default(["MOVE"]),
  // Where an argument array goes: a fresh area (default), a given address, or a raw pointer value.
  pagesAt: Addr.optional().describe("store the pages array at this address instead of a fresh area"),
  nodesAt: Addr.optional(),
  statusAt: Addr.optional(),
  expect: SyscallExpect.optional(),
}).strict();
export type MovePagesStep = z.infer<typeof MovePagesSchema>;

/**
 * Expand a pages list to the values to store (exact: bigints for raw 64-bit values, numbers for a
 * range, which stays below 2^53), or null for a raw pointer.
 */
function pageAddresses(st: MovePagesStep, scope: ExprScope): ArrayLike<number | bigint> | null {
  const p = st.pages;
  if (Array.isArray(p)) return p.map((e) => evalAddr(e, scope));
  if ("range" in p) {
    const base = evalAddrNumber(p.range, scope);
    const stride = parseSize(p.stride);
    const out = new Float64Array(p.count);
    for (let k = 0; k < p.count; k++) out[k] = base + k * stride;
    return out;
  }
  return null;
}

export const move_pages = defineOp({
  schema: MovePagesSchema,
  check(c, st) {
    c.proc(st.process);
    c.pid(st.pid);
    if (Array.isArray(st.pages)) {
      c.entries(st.pages.length, "pages");
      st.pages.forEach((p, k) => c.addr(p, `pages[${k}]`));
    } else if ("range" in st.pages) {
      c.entries(st.pages.count, "pages.count");
      c.addr(st.pages.range, "pages.range");
      c.size(st.pages.stride, "pages.stride");
    } else {
      c.addr(st.pages.raw, "pages.raw");
      if (st.count === undefined) c.problem("count", "required when pages is a raw pointer");
    }
    if (typeof st.count === "string") c.addr(st.count, "count");
    if (st.nodes !== null) {
      if (Array.isArray(st.nodes)) st.nodes.forEach((n, k) => c.intVar(n, `nodes[${k}]`));
      else if ("fill" in st.nodes) {
        c.entries(st.nodes.count, "nodes.count");
        c.intVar(st.nodes.fill, "nodes.fill");
      }
      else c.addr(st.nodes.raw, "nodes.raw");
    }
    if (st.status !== "auto") c.addr(st.status.raw, "status.raw");
    for (const f of ["pagesAt", "nodesAt", "statusAt"] as const) if (st[f] !== undefined) c.addr(st[f]!, f);
    if (Array.isArray(st.pages) && Array.isArray(st.nodes) && st.nodes.length !== st.pages.length && st.count === undefined) {
      c.problem("nodes", `${st.nodes.length} nodes for ${st.pages.length} pages (give count to pass a different count on purpose)`);
    }
  },
  run(w, st, scope) {
    const call = prepareMovePages(w, st, scope);
    w.beforeSyscall?.();
    const t0 = performance.now();
    const kret = kernelMovePages(w.tasks, call.task, call.pid, call.count, call.pagesPtr, call.nodesPtr, call.statusPtr, call.flags);
    return call.outcome(kret, performance.now() - t0);
  },
});

/** A move_pages step's arguments, placed in the caller's memory, and how to read its outcome back. */
export interface PreparedMovePages {
  readonly task: TaskStruct;
  readonly pid: number;
  readonly count: number;
  readonly pagesPtr: number;
  readonly nodesPtr: number;
  readonly statusPtr: number;
  readonly flags: number;
  /** The step's outcome once the call returned `kret` after `syscallMs` of host time (null: not measured). */
  outcome(kret: number, syscallMs: number | null): Outcome;
}

/** Place a move_pages step's arrays in its caller's memory (the runner's part before the syscall). */
export function prepareMovePages(w: World, st: MovePagesStep, scope: ExprScope): PreparedMovePages {
  const vars = scope.vars;
  const A = (e: number | string) => evalAddrNumber(e, scope);
  const t = w.task(st.process);
  const arena = w.arena(t);
  const pid = typeof st.pid === "string" ? w.task(st.pid).pid : st.pid;
  const addrs = pageAddresses(st, scope);
  const count = st.count !== undefined ? (typeof st.count === "number" ? st.count : A(st.count)) : addrs!.length;
  // The status array the runner provides (and reads back): one entry per page given, or for a raw
  // pages pointer one per count; a count beyond limits.arrayEntries (2^40, ULONG_MAX: a test of the
  // kernel's checks) gets one page of entries, past whose end the kernel finds no memory, as with a
  // caller whose array is too short.
  const n = addrs?.length ?? (count <= w.limits.arrayEntries ? count : PAGE_SIZE / 4);
  const place = (values: ArrayLike<number | bigint>, size: 4 | 8, at: number | string | undefined): number => {
    if (at === undefined) return arena.place(values, size);
    const a = A(at);
    writeUserArray(w.tasks, t, a, values, size);
    return a;
  };
  const pagesPtr = addrs === null ? A((st.pages as { raw: number | string }).raw) : place(addrs, 8, st.pagesAt);
  let nodesPtr = 0;
  let nodeList: number[] | null = null;
  if (st.nodes !== null) {
    if (Array.isArray(st.nodes)) nodeList = st.nodes.map((x) => (typeof x === "number" ? x : vars[x.slice(1)]!));
    else if ("fill" in st.nodes) {
      const f = st.nodes.fill;
      nodeList = new Array(st.nodes.count).fill(typeof f === "number" ? f : vars[f.slice(1)]!);
    }
    nodesPtr = nodeList !== null ? place(Int32Array.from(nodeList), 4, st.nodesAt) : A((st.nodes as { raw: number | string }).raw);
  }
  const fill = st.statusFill;
  const statusPtr = st.status === "auto" ? place(new Int32Array(Math.max(n, 1)).fill(fill), 4, st.statusAt) : A(st.status.raw);
  const flags = bits(st.flags, MOVE_BITS);
  const outcome = (kret: number, syscallMs: number | null): Outcome => {
    const status = st.status === "auto" || n > 0 ? readUserInts(w.tasks, t, statusPtr, n) : [];
    const extra: Record<string, unknown> = syscallMs === null ? {} : { syscallMs: Math.round(syscallMs * 1000) / 1000 };
    if (status.length <= STATUS_REPORT_LIMIT) extra.status = status.map((s) => (s === fill ? "untouched" : s));
    else {
      const summary: Record<string, number> = {};
      for (const s of status) {
        const k = describeStatus(s, fill);
        summary[k] = (summary[k] ?? 0) + 1;
      }
      extra.statusSummary = summary;
    }
    const flagText = Array.isArray(st.flags) ? st.flags.join("|") || "0" : String(st.flags);
    const nodesText = nodeList === null ? (st.nodes === null ? "NULL" : "raw") : nodeList.length > 8 ? `[${nodeList.slice(0, 4).join(",")},... ${nodeList.length}]` : `[${nodeList.join(",")}]`;
    const countText = st.count === undefined ? String(count) : typeof st.count === "number" ? String(st.count) : evalAddr(st.count, scope).toString();
    const call = `move_pages(${pid}, ${countText}, ${addrs === null ? "raw" : `${addrs.length} addrs`}, ${nodesText}, status, ${flagText})`;
    const out = retOutcome(call, kret, st.expect, vars, extra);
    if (st.expect?.status !== undefined) out.mismatches.push(...checkStatus(status, st.expect.status, fill, vars));
    return out;
  };
  return { task: t, pid, count, pagesPtr, nodesPtr, statusPtr, flags, outcome };
}
