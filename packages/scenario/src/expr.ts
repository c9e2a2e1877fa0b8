/**
 * The two small languages of scenario files: sizes ("4KiB", "2MiB", "3p") and address expressions
 * ("buf+4096", "KERNEL", "$i*4096+base"). Addresses are evaluated as 64-bit unsigned values (bigint), so
 * a raw pointer such as 0xffffffffffffffff is stored exactly; kernel entry points take them as numbers.
 */
import { PAGE_SIZE } from "@mmemu/mm-core";

/** Named addresses every expression may use. */
export const ADDRESS_CONSTANTS: Readonly<Record<string, bigint>> = {
  NULL: 0n,
  /** Where x86-64 kernel text lives: never a user address. */
  KERNEL: 0xffff_ffff_8100_0000n,
  /** Between the canonical halves of the 48-bit address space. */
  NONCANONICAL: 0x8000_0000_0000_0000n,
  /** TASK_SIZE_MAX: the first address user space cannot map. */
  TASK_SIZE: 0x7fff_ffff_f000n,
  PAGE_SIZE: BigInt(PAGE_SIZE),
};

const UNITS: Readonly<Record<string, number>> = {
  "": 1, B: 1, K: 1024, KB: 1024, KiB: 1024, M: 1 << 20, MB: 1 << 20, MiB: 1 << 20,
  G: 1 << 30, GB: 1 << 30, GiB: 1 << 30, p: PAGE_SIZE, page: PAGE_SIZE, pages: PAGE_SIZE,
};

/** Parse a size (bytes): a number, or "<number><unit>" with binary units and p/pages for 4 KiB pages. */
export function parseSize(v: number | string): number {
  if (typeof v === "number") return v;
  const m = /^\s*(\d+|0x[0-9a-fA-F]+)\s*([A-Za-z]*)\s*$/.exec(v);
  if (m === null || !(m[2]! in UNITS)) throw new Error(`"${v}" is not a size (use e.g. 4096, "4KiB", "2MiB", "3p")`);
  return Number(m[1]) * UNITS[m[2]!]!;
}

/** What an expression may refer to. */
export interface ExprScope {
  /** Labels -> addresses. */
  readonly labels: ReadonlyMap<string, bigint>;
  /** Repeat variables -> values. */
  readonly vars: Readonly<Record<string, number>>;
}

type Tok = { t: "num"; v: bigint } | { t: "id"; v: string } | { t: "var"; v: string } | { t: "op"; v: "+" | "-" | "*" | "(" | ")" };

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === " " || c === "\t") {
      i++;
      continue;
    }
    if (c === "+" || c === "-" || c === "*" || c === "(" || c === ")") {
      out.push({ t: "op", v: c });
      i++;
      continue;
    }
    const num = /^(0x[0-9a-fA-F_]+|\d[\d_]*)(KiB|MiB|GiB|KB|MB|GB|K|M|G|pages|page|p|B)?(?![A-Za-z0-9_])/.exec(src.slice(i));
    if (num) {
      const base = BigInt(num[1]!.replace(/_/g, ""));
      out.push({ t: "num", v: base * BigInt(UNITS[num[2] ?? ""]!) });
      i += num[0].length;
      continue;
    }
    const id = /^\$?[A-Za-z_][A-Za-z0-9_.]*/.exec(src.slice(i));
    if (id) {
      out.push(id[0].startsWith("$") ? { t: "var", v: id[0].slice(1) } : { t: "id", v: id[0] });
      i += id[0].length;
      continue;
    }
    throw new Error(`unexpected "${c}" at position ${i}`);
  }
  return out;
}

/** The identifiers (labels) and variables an expression uses, for checking before a run. */
export function exprNames(src: number | string): { ids: string[]; vars: string[] } {
  if (typeof src === "number") return { ids: [], vars: [] };
  const toks = tokenize(src);
  parseTokens(toks, null);
  return {
    ids: toks.filter((t) => t.t === "id").map((t) => t.v as string).filter((n) => !(n in ADDRESS_CONSTANTS)),
    vars: toks.filter((t) => t.t === "var").map((t) => t.v as string),
  };
}

/** Evaluate an address expression to a 64-bit unsigned value. */
export function evalAddr(src: number | string, scope: ExprScope): bigint {
  if (typeof src === "number") return BigInt(src);
  return BigInt.asUintN(64, parseTokens(tokenize(src), scope));
}

/** Evaluate to a JS number (exact below 2^53; larger values only ever name invalid user addresses). */
export function evalAddrNumber(src: number | string, scope: ExprScope): number {
  return Number(evalAddr(src, scope));
}

/**
 * expr := term (('+' | '-') term)* ; term := factor ('*' factor)* ; factor := number | name | $var |
 * '(' expr ')' | '-' factor. With a null scope only the syntax is checked.
 */
function parseTokens(toks: Tok[], scope: ExprScope | null): bigint {
  let p = 0;
  const peek = () => toks[p];
  const expr = (): bigint => {
    let v = term();
    for (let t = peek(); t && t.t === "op" && (t.v === "+" || t.v === "-"); t = peek()) {
      p++;
      const r = term();
      v = t.v === "+" ? v + r : v - r;
    }
    return v;
  };
  const term = (): bigint => {
    let v = factor();
    for (let t = peek(); t && t.t === "op" && t.v === "*"; t = peek()) {
      p++;
      v *= factor();
    }
    return v;
  };
  const factor = (): bigint => {
    const t = toks[p++];
    if (t === undefined) throw new Error("expression ends too early");
    if (t.t === "num") return t.v;
    if (t.t === "op" && t.v === "(") {
      const v = expr();
      const close = toks[p++];
      if (!close || close.t !== "op" || close.v !== ")") throw new Error("missing \")\"");
      return v;
    }
    if (t.t === "op" && t.v === "-") return -factor();
    if (t.t === "id") {
      const c = ADDRESS_CONSTANTS[t.v];
      if (c !== undefined) return c;
      if (scope === null) return 0n;
      const v = scope.labels.get(t.v);
      if (v === undefined) throw new Error(`unknown label "${t.v}"`);
      return v;
    }
    if (t.t === "var") {
      if (scope === null) return 0n;
      const v = scope.vars[t.v];
      if (v === undefined) throw new Error(`unknown variable "$${t.v}"`);
      return BigInt(v);
    }
    throw new Error(`unexpected "${t.v}"`);
  };
  const v = expr();
  if (p !== toks.length) throw new Error(`unexpected "${(toks[p] as { v: unknown }).v}" after the expression`);
  return v;
}
