/**
 * What one scenario operation is: its schema, the checks of a parsed step that the schema cannot
 * express, and the handler that executes it in a World. Each operation lives in ops/<op>.ts; ops/index.ts
 * lists them, and the schema, the checker and the runner all work from that table, so adding an
 * operation is a change in one new file and one line of the table.
 */
import type { z } from "zod";
import { errnoName } from "@mmemu/kernel";
import { toUser } from "@mmemu/move-pages";
import { checkRet } from "./expect.js";
import type { ExprScope } from "./expr.js";
import type { ScenarioLimits } from "./limits.js";
import type { SyscallExpectation } from "./schema-types.js";
import type { World } from "./world.js";

/** What a step did: the call in readable form, the op-specific result and the mismatches. */
export interface Outcome {
  call: string;
  result: Record<string, unknown>;
  mismatches: string[];
}

/** The names defined before a step (check.ts walks the steps in order). */
export interface CheckScope {
  procs: Set<string>;
  labels: Set<string>;
  pins: Set<string>;
  activities: Set<string>;
  vars: Set<string>;
}

/** The checks an operation runs on its step; each problem becomes "steps[i].field: problem". */
export interface StepCheck {
  readonly scope: CheckScope;
  readonly files: ReadonlySet<string>;
  /** machine.migrator as written (a built-in name or a plug-in path), or null when none is loaded. */
  readonly migrator: string | null;
  /** Report a problem with a field of the step. */
  problem(field: string, text: string): void;
  /** The process or thread exists (field defaults to "process"). */
  proc(name: string, field?: string): void;
  /** An address expression parses and names defined labels and variables. */
  addr(e: number | string, field: string): void;
  size(v: number | string, field: string): void;
  /** A "$var" names a variable of an enclosing repeat. */
  intVar(v: number | string, field: string): void;
  /** A pid given as a name names a process or thread. */
  pid(v: number | string): void;
  /** Bytes of memory of node `id`, or undefined when it does not exist. */
  nodeBytes(id: number): number | undefined;
  cpu(cpu: number, field: string): void;
  nodes(list: readonly number[] | undefined, field: string): void;
  /** Define a new process or thread name / pid. */
  addName(name: string, field: string): void;
  addPid(pid: number | undefined, field: string): void;
  known(set: ReadonlySet<string>): string;
  /** The limits in force (defaults, the scenario's own, the command line's). */
  readonly limits: ScenarioLimits;
  /** `n` entries in one array or page walk fit limits.arrayEntries. */
  entries(n: number, field: string): void;
}

/** One scenario operation. */
export interface OpDef<S extends z.ZodType = z.ZodType> {
  readonly schema: S;
  check(c: StepCheck, st: z.infer<S>): void;
  run(w: World, st: z.infer<S>, scope: ExprScope): Outcome;
}

/** Declare an operation (infers the step type from the schema). */
export function defineOp<S extends z.ZodType>(def: OpDef<S>): OpDef<S> {
  return def;
}

/** A kernel-convention return value as a result record, with the ret/errno expectation checked. */
export function retOutcome(call: string, kret: number, expect: Pick<SyscallExpectation, "ret" | "errno"> | undefined, vars: Readonly<Record<string, number>>, extra: Record<string, unknown> = {}): Outcome {
  const u = toUser(kret);
  // 64-bit values are printed exactly: a number while it is one, its decimal digits beyond 2^53.
  const ret = Number.isSafeInteger(u.ret) ? u.ret : BigInt(u.ret).toString();
  const result: Record<string, unknown> = { ret, errno: u.errno, ...(u.errno ? { errnoName: errnoName(u.errno) } : {}), ...extra };
  const mismatches = expect ? checkRet(u.ret, u.errno, expect, vars) : u.errno !== 0 ? [`failed with ${errnoName(u.errno)} and no failure was expected`] : [];
  return { call, result, mismatches };
}

/** A flag value given as a number or as a list of names. */
export function bits(v: number | readonly string[], table: Readonly<Record<string, number>>): number {
  if (typeof v === "number") return v;
  return v.reduce((acc, k) => acc | table[k]!, 0);
}

/** MAP_FAILED, (void *) -1 as a 64-bit address: what a label holds after its mmap failed. */
export const MAP_FAILED = 0xffff_ffff_ffff_ffffn;

export function hex(v: number | bigint): string {
  return `0x${v.toString(16)}`;
}

/** Mismatch sentences a step reports; the rest are counted. */
export const MISMATCH_REPORT_LIMIT = 100;

/** The first MISMATCH_REPORT_LIMIT mismatches and a count of the others. */
export function capMismatches(list: string[]): string[] {
  if (list.length <= MISMATCH_REPORT_LIMIT) return list;
  const more = list.length - MISMATCH_REPORT_LIMIT;
  list.length = MISMATCH_REPORT_LIMIT;
  list.push(`... and ${more} more mismatches`);
  return list;
}
