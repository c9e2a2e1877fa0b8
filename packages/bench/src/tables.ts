/**
 * Text tables in the published layout, with the published value and the error beside each emulated
 * value where one exists.
 */
import type { CellEval } from "./calibrate.js";

const pct = (e: number) => `${e >= 0 ? "+" : ""}${(e * 100).toFixed(1)}%`;

/** One line per cell: where it is, published, emulated, error. */
export function formatCellErrors(evals: readonly CellEval[]): string {
  const lines = ["table                         metric    config  ch  size   n/N       published   emulated   error"];
  for (const e of evals) {
    const c = e.cell;
    lines.push(
      `${c.table.padEnd(30)}${c.metric.padEnd(10)}${c.config.padEnd(8)}${String(c.channels ?? "-").padStart(3)}  ${c.folioSize.padEnd(6)} ${String(c.n ?? c.N ?? "").padEnd(9)}` +
        `${c.value.toFixed(2).padStart(10)} ${e.emulated.toFixed(2).padStart(10)}   ${pct(e.error).padStart(7)}${Math.abs(e.error) > 0.25 ? "  !" : ""}`,
    );
  }
  return lines.join("\n");
}
