/**
 * The seed benchmark's report: report.md and report.html with the published tables (emulated value,
 * published value and error in each cell) as real tables, a phase breakdown per configuration, and
 * standalone SVG charts (chart.ts). Every published value a table shows is also a mark on a chart:
 * both look cells up by the point they were measured on, so a cell shared by two tables (the 1 GiB
 * offload rows are the throughput rows) appears in both.
 */
import { join } from "node:path";
import { PHASE_NAMES } from "@mmemu/kernel";
import { lineChartSvg, stackedBarsSvg, type ChartPoint, type ChartSeries, type LineChart, type StackedBars } from "./chart.js";
import { measurementCells, type Cell, type Measurements } from "./measurements.js";
import { writeFileAtomic } from "./output.js";
import { cellSpec, SEED_OFFLOAD_CHANNELS, specKey } from "./points.js";
import type { PoolResult } from "./pool.js";
import { fidelity, type SeedRun } from "./seed.js";
import { FOLIO_SIZE_NAMES, type PointSpec } from "./workload.js";

type Metric = "GBps" | "first_us";

/** One table cell: the emulated value and, where published, the published value and relative error. */
export interface ReportCell {
  readonly emulated: number;
  readonly published?: number;
  readonly error?: number;
}

export interface ReportTable {
  readonly title: string;
  readonly head: readonly string[];
  readonly rows: ReadonlyArray<{ readonly label: readonly string[]; readonly cells: ReadonlyArray<ReportCell | null> }>;
}

/** Lookups shared by tables and charts. */
class RunIndex {
  private readonly results = new Map<string, PoolResult>();
  private readonly pub = new Map<string, Cell>();
  constructor(readonly run: SeedRun, ms: Measurements | null) {
    run.points.forEach((p, i) => this.results.set(specKey(p.spec), run.results[i]!));
    for (const c of ms ? measurementCells(ms) : []) this.pub.set(`${specKey(cellSpec(c))}#${c.metric}`, c);
  }
  result(spec: PointSpec): PoolResult | undefined {
    return this.results.get(specKey(spec));
  }
  published(spec: PointSpec, metric: Metric): number | undefined {
    return this.pub.get(`${specKey(spec)}#${metric}`)?.value;
  }
  cell(spec: PointSpec, metric: Metric): ReportCell | null {
    const r = this.result(spec);
    if (r === undefined) return null;
    const emulated = metric === "GBps" ? r.GBps : r.firstUs;
    const published = this.published(spec, metric);
    return published === undefined ? { emulated } : { emulated, published, error: (emulated - published) / published };
  }
  /** Emulated and published chart points of some specs, x from each spec. */
  series(name: string, specs: readonly PointSpec[], x: (s: PointSpec) => number | string, metric: Metric): ChartSeries {
    const emulated: ChartPoint[] = [];
    const published: ChartPoint[] = [];
    for (const s of specs) {
      const c = this.cell(s, metric);
      if (c === null) continue;
      emulated.push({ x: x(s), y: c.emulated });
      if (c.published !== undefined) published.push({ x: x(s), y: c.published });
    }
    return { name, emulated, published };
  }
}

function specsOf(run: SeedRun, table: SeedRun["points"][number]["table"], pred: (s: PointSpec) => boolean = () => true): PointSpec[] {
  return run.points.filter((p) => p.table === table && pred(p.spec)).map((p) => p.spec);
}

/** The seed tables as data. */
export function seedReportTables(run: SeedRun, ms: Measurements | null): ReportTable[] {
  const ix = new RunIndex(run, ms);
  const tables: ReportTable[] = [];
  const tp = specsOf(run, "throughput_by_folio_size");
  const rowKeys = [...new Set(tp.map((s) => (s.config === "vanilla" ? "vanilla" : `dcbm ${s.channels} ch`)))];
  tables.push({
    title: "Throughput by folio size (GiB/s, 1 GiB moved)",
    head: ["configuration", ...FOLIO_SIZE_NAMES],
    rows: rowKeys.map((k) => ({
      label: [k],
      cells: FOLIO_SIZE_NAMES.map((fs) => {
        const s = tp.find((x) => x.folioSize === fs && (x.config === "vanilla" ? "vanilla" : `dcbm ${x.channels} ch`) === k);
        return s ? ix.cell(s, "GBps") : null;
      }),
    })),
  });
  for (const fs of ["4K", "2M"] as const) {
    const specs = specsOf(run, "first_folio_latency_vanilla", (s) => s.folioSize === fs);
    tables.push({
      title: `Vanilla first-folio latency, ${fs} folios (n folios per call)`,
      head: ["n", "GiB/s", "first folio (us)"],
      rows: specs.map((s) => ({ label: [String(s.perCall)], cells: [ix.cell(s, "GBps"), ix.cell(s, "first_us")] })),
    });
  }
  for (const fs of ["4K", "2M"] as const) {
    const specs = specsOf(run, "first_folio_latency_offload", (s) => s.folioSize === fs);
    tables.push({
      title: `dcbm first-folio latency, ${fs} folios (N = NR_MAX_BATCHED_MIGRATION pages, 1 GiB moved)`,
      head: ["N", "channels", "GiB/s", "first folio (us)"],
      rows: specs.map((s) => ({ label: [String(s.batchPages), String(s.channels)], cells: [ix.cell(s, "GBps"), ix.cell(s, "first_us")] })),
    });
  }
  // A run restricted to some points has nothing for some tables.
  return tables.filter((t) => t.rows.some((r) => r.cells.some((c) => c !== null)));
}

/** Where virtual time went for each throughput configuration, as % of its total. */
export function breakdownTable(run: SeedRun): ReportTable {
  const ix = new RunIndex(run, null);
  const specs = specsOf(run, "throughput_by_folio_size");
  const phases = PHASE_NAMES.filter((p) => specs.some((s) => (ix.result(s)?.phases[p] ?? 0) > 0));
  return {
    title: "Where virtual time went, by phase (% of each configuration's time; 1 GiB moved)",
    head: ["configuration", "total (ms)", ...phases],
    rows: specs.map((s) => {
      const r = ix.result(s)!;
      return {
        label: [configLabel(s), (r.virtualNs / 1e6).toFixed(2)],
        cells: phases.map((p) => ({ emulated: (100 * (r.phases[p] ?? 0)) / r.virtualNs })),
      };
    }),
  };
}

function configLabel(s: PointSpec): string {
  return `${s.config === "vanilla" ? "vanilla" : `dcbm ${s.channels} ch`} ${s.folioSize}`;
}

/** A chart before rendering: its data, so tests can check what it shows. */
export type ChartSpec = { readonly kind: "line"; readonly chart: LineChart } | { readonly kind: "bars"; readonly chart: StackedBars };

/** Charts as SVG strings, by file name. */
export async function seedCharts(run: SeedRun, ms: Measurements | null = null): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, c] of Object.entries(seedChartSpecs(run, ms))) {
    // A run restricted to some points leaves some charts without data: they are left out.
    if (c.kind === "line" ? c.chart.series.every((s) => s.emulated.length === 0) : c.chart.bars.length === 0) continue;
    out[name] = c.kind === "line" ? await lineChartSvg(c.chart) : await stackedBarsSvg(c.chart);
  }
  return out;
}

/** The charts' data, by file name. */
export function seedChartSpecs(run: SeedRun, ms: Measurements | null = null): Record<string, ChartSpec> {
  const ix = new RunIndex(run, ms);
  const charts: Record<string, ChartSpec> = {};
  const line = (chart: LineChart): ChartSpec => ({ kind: "line", chart });
  const bars = (chart: StackedBars): ChartSpec => ({ kind: "bars", chart });
  const tp = specsOf(run, "throughput_by_folio_size");
  const configs = [...new Set(tp.map((s) => (s.config === "vanilla" ? "vanilla" : `dcbm ${s.channels} ch`)))];
  charts["throughput-by-folio-size.svg"] = line({
    title: "move_pages() throughput by folio size (1 GiB moved)",
    xLabel: "folio size", yLabel: "GiB/s", xType: "point",
    series: configs.map((k) => ix.series(k, tp.filter((s) => (s.config === "vanilla" ? "vanilla" : `dcbm ${s.channels} ch`) === k), (s) => s.folioSize, "GBps")),
  });
  charts["throughput-vs-channels.svg"] = line({
    title: "dcbm throughput against DMA channels (1 GiB moved)",
    xLabel: "DMA channels", yLabel: "GiB/s", xTicks: [1, 2, 4, 8, 12, 16],
    series: FOLIO_SIZE_NAMES.map((fs) => ix.series(fs, tp.filter((s) => s.config === "dcbm" && s.folioSize === fs), (s) => s.channels!, "GBps")),
  });
  for (const fs of ["4K", "2M"] as const) {
    const v = specsOf(run, "first_folio_latency_vanilla", (s) => s.folioSize === fs);
    for (const metric of ["first_us", "GBps"] as const) {
      charts[`vanilla-${metric === "first_us" ? "latency" : "throughput"}-vs-n-${fs}.svg`] = line({
        title: `Vanilla ${fs}: ${metric === "first_us" ? "first-folio latency" : "throughput"} against folios per call`,
        xLabel: "n (folios per move_pages() call)", yLabel: metric === "first_us" ? "first-folio latency (us)" : "GiB/s", xType: "log",
        series: [ix.series(`vanilla ${fs}`, v, (s) => s.perCall!, metric)],
      });
    }
    const off = specsOf(run, "first_folio_latency_offload", (s) => s.folioSize === fs);
    for (const metric of ["first_us", "GBps"] as const) {
      charts[`offload-${metric === "first_us" ? "latency" : "throughput"}-vs-batch-${fs}.svg`] = line({
        title: `dcbm ${fs}: ${metric === "first_us" ? "first-folio latency" : "throughput"} against batch size N`,
        xLabel: "N = NR_MAX_BATCHED_MIGRATION (pages)", yLabel: metric === "first_us" ? "first-folio latency (us)" : "GiB/s",
        xType: "log", yType: metric === "first_us" ? "log" : "linear",
        series: SEED_OFFLOAD_CHANNELS.map((ch) => ix.series(`${ch} ch`, off.filter((s) => s.channels === ch), (s) => s.batchPages!, metric)),
      });
    }
  }
  const bt = breakdownTable(run);
  const phases = bt.head.slice(2);
  charts["breakdown.svg"] = bars({
    title: "Where virtual time went, per configuration (1 GiB moved)",
    xLabel: "% of the configuration's virtual time", parts: phases,
    bars: tp.map((s) => ({ label: configLabel(s), parts: ix.result(s)!.phases })),
  });
  return charts;
}

const f2 = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const pct = (e: number) => `${e >= 0 ? "+" : ""}${(e * 100).toFixed(0)}%`;
const escHtml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function cellText(c: ReportCell | null, share = false): string {
  if (c === null) return "";
  if (share) return c.emulated.toFixed(1);
  if (c.published === undefined) return f2(c.emulated);
  return `${f2(c.emulated)} (${f2(c.published)}, ${pct(c.error!)}${Math.abs(c.error!) > 0.25 ? "!" : ""})`;
}

function markdownTable(t: ReportTable, share = false): string {
  const lines = [`### ${t.title}`, "", `| ${t.head.join(" | ")} |`, `|${t.head.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`];
  for (const r of t.rows) lines.push(`| ${[...r.label, ...r.cells.map((c) => cellText(c, share))].join(" | ")} |`);
  return lines.join("\n");
}

function htmlTable(t: ReportTable, share = false): string {
  const head = `<tr>${t.head.map((h) => `<th scope="col">${escHtml(h)}</th>`).join("")}</tr>`;
  const rows = t.rows.map((r) => {
    const cells = r.cells.map((c) => {
      if (c === null) return "<td></td>";
      if (share || c.published === undefined) return `<td>${escHtml(cellText(c, share))}</td>`;
      const miss = Math.abs(c.error!) > 0.25 ? ' class="miss"' : "";
      return `<td${miss}>${f2(c.emulated)} <span class="pub">${f2(c.published)}</span> <span class="err">${pct(c.error!)}</span></td>`;
    }).join("");
    return `<tr>${r.label.map((l, i) => (i === 0 ? `<th scope="row">${escHtml(l)}</th>` : `<td>${escHtml(l)}</td>`)).join("")}${cells}</tr>`;
  }).join("\n");
  return `<h3>${escHtml(t.title)}</h3>\n<table>\n<thead>${head}</thead>\n<tbody>\n${rows}\n</tbody>\n</table>`;
}

/** Write report.md, report.html and the SVG charts into `dir` (each file atomically). */
export async function writeSeedReport(dir: string, run: SeedRun, measurements: Measurements | null, extra: { profile: string; seed: number }): Promise<string[]> {
  const charts = await seedCharts(run, measurements);
  for (const [name, svg] of Object.entries(charts)) writeFileAtomic(join(dir, name), svg);
  const fid = fidelity(run.cells);
  const tables = seedReportTables(run, measurements);
  const bt = breakdownTable(run);
  const summary = `Profile **${extra.profile}**, seed ${extra.seed}, ${run.points.length} points in ${(run.wallMs / 1000).toFixed(1)} s wall. ` +
    (fid.cells > 0
      ? `Against ${fid.cells} published cells: median |error| ${(fid.medianAbs * 100).toFixed(1)}% (target <= 10%), max ${(fid.maxAbs * 100).toFixed(1)}%, ${fid.over25} cells beyond 25% (target 0).`
      : "No published cells to compare.");
  const legend = "Cells read `emulated (published, error)`; `!` marks a miss beyond 25%. On the charts, lines with open circles are emulated, filled diamonds published.";
  const md = [
    "# mmemu seed benchmark", "", summary, "", legend, "",
    ...tables.flatMap((t) => [markdownTable(t), ""]),
    markdownTable(bt, true), "",
    "## Charts", "",
    ...Object.keys(charts).map((n) => `![${n.replace(/\.svg$/, "")}](${n})`), "",
  ].join("\n");
  writeFileAtomic(join(dir, "report.md"), md);
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>mmemu seed benchmark</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right;white-space:nowrap}
th[scope=row],thead th:first-child{text-align:left}
thead th{background:#f0f0f0}
.pub{color:#666}.pub::before{content:"pub "}.err{color:#666}.miss .err{color:#c00;font-weight:bold}
figure{margin:1.5em 0}img{max-width:100%}
</style></head>
<body><h1>mmemu seed benchmark</h1><p>${escHtml(summary).replace(/\*\*(.*?)\*\*/g, "<b>$1</b>")}</p>
<p>Each cell: emulated value, then the published value and the emulated value's error; errors beyond 25% in red. On the charts, lines with open circles are emulated, filled diamonds published.</p>
${tables.map((t) => htmlTable(t)).join("\n")}
${htmlTable(bt, true)}
<h2>Charts</h2>
${Object.keys(charts).map((n) => `<figure><img src="${n}" alt="${escHtml(n.replace(/\.svg$/, ""))}"></figure>`).join("\n")}
</body></html>
`;
  writeFileAtomic(join(dir, "report.html"), html);
  return ["report.md", "report.html", ...Object.keys(charts)].map((n) => join(dir, n));
}
