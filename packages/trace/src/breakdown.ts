/**
 * Where virtual time went: the difference of two snapshots of Sim.phaseNs, by phase name. The clock
 * only moves through Sim, which attributes every nanosecond to the current phase, so the parts add up
 * to the interval exactly (integer ns).
 */
import { NR_PHASES, PHASE_NAMES } from "@mmemu/kernel";

/** Virtual ns by phase name, in Phase order, every phase present. */
export type PhaseBreakdown = Record<string, number>;

/** A copy of the phase counters to subtract later. */
export function phaseSnapshot(sim: { readonly phaseNs: Float64Array }): Float64Array {
  return Float64Array.from(sim.phaseNs);
}

export function phaseBreakdown(before: Float64Array, after: Float64Array): PhaseBreakdown {
  const out: PhaseBreakdown = {};
  for (let p = 0; p < NR_PHASES; p++) out[PHASE_NAMES[p]!] = after[p]! - before[p]!;
  return out;
}

/** Sum of the parts. */
export function breakdownTotal(b: PhaseBreakdown): number {
  let t = 0;
  for (const v of Object.values(b)) t += v;
  return t;
}

/** A text table: phase, µs, share of the total; phases with no time are left out. */
export function formatBreakdown(b: PhaseBreakdown, title = "where virtual time went"): string {
  const total = breakdownTotal(b);
  const rows = Object.entries(b).filter(([, v]) => v > 0);
  const w = Math.max(10, ...rows.map(([k]) => k.length));
  let s = `${title} (${(total / 1000).toFixed(3)} us):\n`;
  for (const [k, v] of rows) s += `  ${k.padEnd(w)} ${(v / 1000).toFixed(3).padStart(14)} us ${((100 * v) / (total || 1)).toFixed(1).padStart(6)}%\n`;
  return s;
}
