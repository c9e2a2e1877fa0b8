/**
 * Silent CPU fallbacks made visible: every command that runs points prints how many folios the CPU
 * copied although their batch went to the migrator, by cause, and `--strict-offload` turns any such
 * batch into a failed run.
 */
import { Option } from "commander";
/** What a point reports of its fallbacks (a PointResult, or a sweep point's cached outcome). */
export interface FallbackReport {
  readonly fallback: Readonly<Record<string, number>>;
  readonly strictFailures: readonly string[];
}

/** The --strict-offload option shared by the commands that run points. */
export function strictOffloadOption(): Option {
  return new Option("--strict-offload", "fail the run when a batch the migrator should have copied fell back to the CPU copy");
}

/** Folios copied by the CPU instead of the migrator over `results`, by cause, most first. */
export function fallbackTotals(results: readonly FallbackReport[]): Array<[string, number]> {
  const sum: Record<string, number> = {};
  for (const r of results) for (const [cause, n] of Object.entries(r.fallback)) sum[cause] = (sum[cause] ?? 0) + n;
  return Object.entries(sum).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/** "CPU fallbacks: none" or "CPU fallbacks: 1536 folios in 3 points (ENODEV 1024, ETIMEDOUT 512)". */
export function fallbackLine(results: readonly FallbackReport[]): string {
  const totals = fallbackTotals(results);
  if (totals.length === 0) return "CPU fallbacks: none";
  const folios = totals.reduce((a, [, n]) => a + n, 0);
  const points = results.filter((r) => Object.keys(r.fallback).length > 0).length;
  return `CPU fallbacks: ${folios} folios in ${points} point(s) (${totals.map(([c, n]) => `${c} ${n}`).join(", ")})`;
}

/** With --strict-offload: throw a one-line error naming the first batch that fell back (labels name the points). */
export function checkStrictOffload(results: readonly FallbackReport[], labels: readonly string[]): void {
  const bad = results.findIndex((r) => r.strictFailures.length > 0);
  if (bad < 0) return;
  const n = results.reduce((a, r) => a + r.strictFailures.length, 0);
  throw new Error(`--strict-offload: ${n}${n >= 20 ? "+" : ""} batch(es) fell back to the CPU; first at point ${labels[bad]}: ${results[bad]!.strictFailures[0]}`);
}
