/**
 * The seed benchmark's report: Markdown and HTML with SVG charts (Observable Plot rendered into a
 * linkedom document, so no browser is needed): throughput against channels per folio size, and
 * first-folio latency and throughput against batch size for the offload rows.
 */
import * as Plot from "@observablehq/plot";
import { parseHTML } from "linkedom";
import type { Measurements } from "./measurements.js";
import { writeFilesAtomic } from "./output.js";
import { fidelity, formatSeedTables, type SeedRun } from "./seed.js";

function svgOf(options: Record<string, unknown>): string {
  const { document } = parseHTML("<!doctype html><html><body></body></html>");
  const el = Plot.plot({ ...options, document } as Plot.PlotOptions) as unknown as { outerHTML: string; querySelector?: unknown };
  let html = el.outerHTML;
  // Plot wraps legends and the SVG in a <figure>; keep it whole. Ensure the SVG namespace for standalone files.
  if (!html.includes('xmlns="http://www.w3.org/2000/svg"')) html = html.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"');
  return html;
}

interface Row { [k: string]: string | number | null }

/** Charts as SVG strings, by file name. */
export function seedCharts(run: SeedRun): Record<string, string> {
  const rec = run.json.results;
  const tput: Row[] = rec.filter((r) => r.table === "throughput_by_folio_size" && r.config === "dcbm")
    .map((r) => ({ channels: (r as { channels: number }).channels, GBps: r.GBps, folio: r.folio_size, source: "emulated" }));
  const pubT: Row[] = run.cells.filter((c) => c.cell.table === "throughput_by_folio_size" && c.cell.config === "dcbm")
    .map((c) => ({ channels: c.cell.channels, GBps: c.cell.value, folio: c.cell.folioSize, source: "published" }));
  const charts: Record<string, string> = {};
  charts["throughput-vs-channels.svg"] = svgOf({
    title: "dcbm move_pages() throughput against DMA channels (1 GiB)",
    width: 760, height: 420, x: { label: "DMA channels", ticks: [1, 2, 4, 8, 12, 16] }, y: { label: "GB/s", grid: true },
    color: { legend: true, domain: ["4K", "16K", "64K", "256K", "1M", "2M"] },
    marks: [
      Plot.line(tput, { x: "channels", y: "GBps", stroke: "folio" }),
      Plot.dot(tput, { x: "channels", y: "GBps", stroke: "folio" }),
      Plot.dot(pubT, { x: "channels", y: "GBps", fill: "folio", symbol: "diamond", r: 4 }),
    ],
  });
  for (const fs of ["4K", "2M"] as const) {
    const off: Row[] = rec.filter((r) => r.table === "first_folio_latency_offload" && r.folio_size === fs)
      .map((r) => { const o = r as { N: number; channels: number; GBps: number; first_us: number }; return { N: o.N, ch: `${o.channels} ch`, GBps: o.GBps, first_us: o.first_us }; });
    const pubO: Row[] = run.cells.filter((c) => c.cell.table === "first_folio_latency_offload" && c.cell.folioSize === fs)
      .map((c) => ({ N: c.cell.N!, ch: `${c.cell.channels} ch`, metric: c.cell.metric, value: c.cell.value }));
    for (const metric of ["first_us", "GBps"] as const) {
      charts[`offload-${metric === "first_us" ? "latency" : "throughput"}-vs-batch-${fs}.svg`] = svgOf({
        title: `${fs} folios with dcbm: ${metric === "first_us" ? "first-folio latency (us)" : "throughput (GB/s)"} against batch size N (pages)`,
        width: 760, height: 380,
        x: { type: "log", label: "N = NR_MAX_BATCHED_MIGRATION (pages)" },
        y: { type: metric === "first_us" ? "log" : "linear", label: metric === "first_us" ? "first-folio latency (us)" : "GB/s", grid: true },
        color: { legend: true, domain: ["1 ch", "4 ch", "16 ch"] },
        marks: [
          Plot.line(off, { x: "N", y: metric, stroke: "ch" }),
          Plot.dot(off, { x: "N", y: metric, stroke: "ch" }),
          Plot.dot(pubO.filter((p) => p.metric === metric), { x: "N", y: "value", fill: "ch", symbol: "diamond", r: 4 }),
        ],
      });
    }
  }
  return charts;
}

/** Write report.md, report.html and the SVG charts into `dir`, all or nothing (writeFilesAtomic). */
export function writeSeedReport(dir: string, run: SeedRun, measurements: Measurements | null, extra: { profile: string; seed: number }): string[] {
  const charts = seedCharts(run);
  const fid = fidelity(run.cells);
  const tables = formatSeedTables(run, measurements);
  const summary = `Profile **${extra.profile}**, seed ${extra.seed}, ${run.points.length} points in ${(run.wallMs / 1000).toFixed(1)} s wall. ` +
    (fid.cells > 0
      ? `Against ${fid.cells} published cells: median |error| ${(fid.medianAbs * 100).toFixed(1)}% (target <= 10%), max ${(fid.maxAbs * 100).toFixed(1)}%, ${fid.over25} cells beyond 25% (target 0).`
      : "No published cells to compare.");
  const md = [
    "# mmemu seed benchmark", "", summary, "",
    "Cells read `emulated (published error)`; `!` marks a miss beyond 25%.", "",
    "```text", tables, "```", "",
    ...Object.keys(charts).map((n) => `![${n}](${n})`), "",
  ].join("\n");
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>mmemu seed benchmark</title>
<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}pre{font-size:12px;overflow-x:auto;background:#f6f6f6;padding:1em}</style></head>
<body><h1>mmemu seed benchmark</h1><p>${esc(summary).replace(/\*\*(.*?)\*\*/g, "<b>$1</b>")}</p>
<pre>${esc(tables)}</pre>
${Object.values(charts).join("\n")}
</body></html>`;
  return writeFilesAtomic(dir, { "report.md": md, "report.html": html, ...charts });
}
