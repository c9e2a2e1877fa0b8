/**
 * Comparing what a step did with what the scenario expected. Each check returns the mismatches as
 * sentences naming the field, what happened and what was expected.
 */
import { errnoName, errnoNumber } from "@mmemu/kernel";
import type { StatusExpectation, SyscallExpectation } from "./schema.js";

/** "-16 (-EBUSY)" for status values that are errnos, the number otherwise. */
export function describeStatus(v: number | null, fill: number): string {
  if (v === null) return "unreadable";
  if (v === fill) return `${v} (untouched)`;
  if (v < 0 && v >= -133) return `${v} (-${errnoName(v)})`;
  return String(v);
}

function resolveVar(v: number | string, vars: Readonly<Record<string, number>>): number | string {
  if (typeof v === "string" && v.startsWith("$")) {
    const x = vars[v.slice(1)];
    if (x === undefined) throw new Error(`unknown variable "${v}"`);
    return x;
  }
  return v;
}

/** The expected errno number of a name ("EFAULT" or "-EFAULT"). */
export function errnoOf(name: string): number {
  const n = errnoNumber(name.replace(/^-/, ""));
  if (n === undefined) throw new Error(`unknown errno "${name}"`);
  return n;
}

/** Whether one status value matches one expected entry. */
function statusMatches(got: number | null, want: number | string, fill: number, vars: Readonly<Record<string, number>>): boolean {
  const w = resolveVar(want, vars);
  if (w === "*") return true;
  if (w === "untouched") return got === fill;
  if (typeof w === "number") return got === w;
  return got === -errnoOf(w);
}

function wantText(want: number | string, vars: Readonly<Record<string, number>>): string {
  const w = resolveVar(want, vars);
  return typeof w === "number" ? String(w) : w;
}

/** Check a status array against an expectation; returns mismatch sentences. */
export function checkStatus(status: ReadonlyArray<number | null>, want: StatusExpectation, fill: number, vars: Readonly<Record<string, number>>): string[] {
  const out: string[] = [];
  const MAX = 8;
  const push = (msg: string) => {
    if (out.length < MAX) out.push(msg);
    else if (out.length === MAX) out.push("... more status mismatches");
  };
  if (Array.isArray(want)) {
    if (want.length !== status.length) push(`status has ${status.length} entries, expected ${want.length}`);
    const n = Math.min(want.length, status.length);
    for (let i = 0; i < n; i++) {
      if (!statusMatches(status[i]!, want[i]!, fill, vars)) push(`status[${i}] is ${describeStatus(status[i]!, fill)}, expected ${wantText(want[i]!, vars)}`);
    }
    return out;
  }
  const at = want.at ?? {};
  for (let i = 0; i < status.length; i++) {
    const w = at[String(i)] ?? want.all;
    if (w === undefined) continue;
    if (!statusMatches(status[i]!, w, fill, vars)) push(`status[${i}] is ${describeStatus(status[i]!, fill)}, expected ${wantText(w, vars)}`);
  }
  for (const k of Object.keys(at)) if (Number(k) >= status.length) push(`status[${k}] expected, but the array has ${status.length} entries`);
  if (want.counts) {
    for (const [value, count] of Object.entries(want.counts)) {
      const n = resolveVar(count, vars);
      const got = status.filter((s) => statusMatches(s, /^-?\d+$/.test(value) ? Number(value) : value, fill, vars)).length;
      if (got !== n) push(`${got} status entries are ${wantText(value, vars)}, expected ${n}`);
    }
  }
  return out;
}

/** Check a return value and errno as user space sees them (ret -1 and errno on failure). */
export function checkRet(ret: number, errno: number, want: Pick<SyscallExpectation, "ret" | "errno">, vars: Readonly<Record<string, number>>): string[] {
  const out: string[] = [];
  const got = errno !== 0 ? `-1 (${errnoName(errno)})` : String(ret);
  if (want.ret !== undefined) {
    const w = resolveVar(want.ret, vars);
    const ok = w === "any" || (w === "positive" && ret > 0) || (w === "nonnegative" && ret >= 0) || w === ret;
    if (!ok) out.push(`returned ${got}, expected ${w}`);
  }
  if (want.errno !== undefined) {
    const list = Array.isArray(want.errno) ? want.errno : [want.errno];
    const ok = list.map((x) => (x === 0 ? 0 : errnoOf(x)));
    if (!ok.includes(errno)) {
      const names = ok.map((x) => (x === 0 ? "0 (success)" : errnoName(x))).join(" or ");
      out.push(`errno is ${errno === 0 ? "0 (success)" : errnoName(errno)}, expected ${names}`);
    }
  }
  return out;
}

/** Compare one observed value with an expected one, naming the field. */
export function checkField(field: string, got: unknown, want: unknown): string[] {
  if (want === undefined || got === want) return [];
  return [`${field} is ${String(got)}, expected ${String(want)}`];
}
