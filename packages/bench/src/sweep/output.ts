/**
 * What a sweep writes: JSON lines (one record per point, in point order), a summary table on the
 * terminal (cli-table3) and an HTML report with the table and the charts. The report's files are staged
 * and renamed together (writeFilesAtomic), so a failed or interrupted write leaves the previous report.
 */
import { join } from "node:path";
import Table from "cli-table3";
import { writeFilesAtomic } from "../output.js";
import { sweepCharts } from "./charts.js";
import type { SweepRecord, SweepRunResult } from "./run.js";
import { SCALAR_FIGURES, type Sweep } from "./spec.js";

/** The records as JSON lines (points without an outcome are left out). */
export function recordsJsonl(records: ReadonlyArray<SweepRecord | null>): string {
  return records.filter((r) => r !== null).map((r) => JSON.stringify(r)).join("\n") + "\n";
}

const fmt = (v: unknown) => (typeof v !== "number" ? (v === null || v === undefined ? "-" : String(v)) : Number.isInteger(v) ? String(v) : v >= 100 ? v.toFixed(1) : v.toPrecision(4));

/** The table's rows: point number, axis values, scalar figures. */
export function tableRows(sweep: Sweep, records: ReadonlyArray<SweepRecord | null>): { head: string[]; rows: string[][] } {
  const figs = sweep.figures.filter((f) => (SCALAR_FIGURES as readonly string[]).includes(f));
  const head = ["point", ...sweep.axes, ...figs];
  const rows = sweep.points.map((p, i) => {
    const r = records[i] ?? null;
    return [String(p.index), ...sweep.axes.map((a) => fmt(p.axes[a])), ...figs.map((f) => (r === null ? "(not run)" : fmt(r.figures[f])))];
  });
  return { head, rows };
}

/** The summary table (the first `maxRows` points; the JSON lines have all). */
export function formatSweepTable(sweep: Sweep, records: ReadonlyArray<SweepRecord | null>, maxRows = 200): string {
  const { head, rows } = tableRows(sweep, records);
  const t = new Table({ head, style: { head: [], border: [], compact: true } });
  for (const r of rows.slice(0, maxRows)) t.push(r);
  const more = rows.length > maxRows ? `\n... ${rows.length - maxRows} more points (see the JSON lines)` : "";
  return t.toString() + more;
}

/** One line: how the run went. */
export function summaryLine(sweep: Sweep, run: SweepRunResult, engine: string): string {
  const pps = run.ran > 0 ? `, ${(run.ran / (run.wallMs / 1000)).toFixed(2)} points/s` : "";
  return `${sweep.name}: ${sweep.points.length} points (${run.cached} distinct from the cache, ${run.ran} run, ${run.failed.length} failed, ${run.remaining} left) ` +
    `in ${(run.wallMs / 1000).toFixed(1)} s on ${engine}${pps}`;
}

/** Write report.html, the chart SVGs and results.jsonl into `dir`; returns the files written. */
export async function writeSweepReport(dir: string, sweep: Sweep, run: SweepRunResult, engine: string): Promise<string[]> {
  const charts = await sweepCharts(sweep, run.records);
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const { head, rows } = tableRows(sweep, run.records);
  const table = `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>` +
    rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`).join("\n") + "</tbody></table>";
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>mmemu sweep ${esc(sweep.name)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}</style></head>
<body><h1>mmemu sweep ${esc(sweep.name)}</h1><p>${esc(sweep.description)}</p><p>${esc(summaryLine(sweep, run, engine))}</p>
${Object.values(charts).join("\n")}
${table}
</body></html>`;
  return writeFilesAtomic(dir, { "report.html": html, "results.jsonl": recordsJsonl(run.records), ...charts });
}
