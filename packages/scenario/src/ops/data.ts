/** Patterns and hex bytes of write steps and data expectations, and the comparison with memory. */
import { patternDigest } from "@mmemu/mm-core";
import { hex } from "../op.js";
import type { DataExpectation } from "../schema-types.js";
import type { World } from "../world.js";

export function patternOf(p: number | string): number {
  return (typeof p === "number" ? p : parseInt(p, 16)) >>> 0;
}

export function hexBytes(s: string): Uint8Array {
  const h = s.replace(/\s+/g, "");
  return Uint8Array.from({ length: h.length / 2 }, (_, i) => parseInt(h.slice(2 * i, 2 * i + 2), 16));
}

/** Compare memory with a data expectation; mismatch sentences. */
export function checkData(w: World, pfns: readonly number[], bytesAt: (len: number) => Uint8Array | null, want: DataExpectation, label: string): string[] {
  const m = w.m;
  if (want.pattern !== undefined || want.zero) {
    const p = want.zero ? 0 : patternOf(want.pattern!);
    const d = patternDigest(p);
    const bad = pfns.findIndex((pfn) => pfn < 0 || m.mem.digest(pfn) !== d);
    if (bad >= 0) return [`${label}: page ${bad} does not hold ${want.zero ? "zeroes" : `pattern ${hex(p)}`}`];
    return [];
  }
  if (want.bytes !== undefined) {
    const b = hexBytes(want.bytes);
    const got = bytesAt(b.length);
    if (got === null) return [`${label}: unreadable`];
    for (let i = 0; i < b.length; i++) if (got[i] !== b[i]) return [`${label}: byte ${i} is ${got[i]!.toString(16).padStart(2, "0")}, expected ${b[i]!.toString(16).padStart(2, "0")}`];
  }
  return [];
}
