/**
 * Sweep charts: any figure against any axis, one line per value of the other varying axes (or of
 * the chart's `series` axis), drawn with the seed report's SVG renderer. Without `charts` in the
 * spec, each scalar figure is drawn against the first axis.
 */
import { lineChartSvg } from "../chart.js";
import type { SweepRecord } from "./run.js";
import { SCALAR_FIGURES, type ChartSpec, type Sweep } from "./spec.js";

/** A figure's value in a record: a scalar figure, cost.KIND (virtual ms) or counters.NAME. */
export function figureValue(r: SweepRecord, y: string): number | null {
  const [fig, sub] = y.split(/\.(.*)/s) as [string, string | undefined];
  const v = r.figures[fig];
  if (sub === undefined) return typeof v === "number" ? v : null;
  const entry = (v as Record<string, unknown> | undefined)?.[sub];
  if (fig === "cost") return entry === undefined ? 0 : (entry as { ns: number }).ns / 1e6;
  return typeof entry === "number" ? entry : 0;
}

const LABELS: Record<string, string> = {
  GBps: "throughput (GiB/s)", first_us: "first-folio latency (us)", virtual_ms: "virtual time (ms)",
  calls: "move_pages() calls", batches: "migrate_pages_batch() calls", folios: "folios moved",
};

/** The charts to draw: the spec's, or each scalar figure against the first axis. */
export function chartSpecs(sweep: Sweep): ChartSpec[] {
  if (sweep.charts.length > 0) return [...sweep.charts];
  const x = sweep.axes[0];
  if (x === undefined) return [];
  return sweep.figures.filter((f) => (SCALAR_FIGURES as readonly string[]).includes(f)).map((y) => ({ x, y }));
}

/** SVG charts by file name. */
export async function sweepCharts(sweep: Sweep, records: ReadonlyArray<SweepRecord | null>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const recs = records.filter((r): r is SweepRecord => r !== null);
  for (const [i, c] of chartSpecs(sweep).entries()) {
    const others = c.series !== undefined ? [c.series] : sweep.axes.filter((a) => a !== c.x);
    const rows = recs.filter((r) => r.axes[c.x] !== undefined).map((r) => ({
      x: r.axes[c.x]!,
      y: figureValue(r, c.y),
      series: others.map((a) => `${a}=${r.axes[a]}`).join(" ") || "all",
    })).filter((r) => r.y !== null);
    const numericX = rows.every((r) => typeof r.x === "number");
    const names = [...new Set(rows.map((r) => r.series))];
    out[`chart-${i + 1}-${c.y.replace(/[^A-Za-z0-9_]+/g, "_")}-vs-${c.x.replace(/[^A-Za-z0-9_]+/g, "_")}.svg`] = await lineChartSvg({
      title: `${sweep.name}: ${LABELS[c.y] ?? c.y} against ${c.x}`,
      xLabel: c.x, yLabel: LABELS[c.y] ?? c.y,
      xType: numericX ? (c.log_x === true ? "log" : "linear") : "point",
      yType: c.log_y === true ? "log" : "linear",
      series: names.map((name) => ({ name, emulated: rows.filter((r) => r.series === name).map((r) => ({ x: r.x, y: r.y! })), published: [] })),
    });
  }
  return out;
}
