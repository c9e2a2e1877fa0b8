/**
 * One report chart as a standalone SVG file: Observable Plot draws the axes and marks into a linkedom
 * document (no browser needed); the title, an accessible <title> and the key are drawn inside the same
 * <svg>, so the file works alone, as an <img> and in Markdown. The key names every series and tells
 * emulated marks (line and open circles) from published ones (filled diamonds).
 */
import type * as PlotModule from "@observablehq/plot";
import type { parseHTML as ParseHtml } from "linkedom";

interface ChartLibs {
  readonly Plot: typeof PlotModule;
  readonly parseHTML: typeof ParseHtml;
}

let libs: Promise<ChartLibs> | null = null;

/** Plot and linkedom, loaded by the first chart: ~0.9 s that commands drawing none do not pay at start-up. */
function chartLibs(): Promise<ChartLibs> {
  return (libs ??= Promise.all([import("@observablehq/plot"), import("linkedom")]).then(([Plot, l]) => ({ Plot, parseHTML: l.parseHTML })));
}

/** Tableau 10: distinct, colour-blind-aware series colours. */
export const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

export interface ChartPoint {
  readonly x: number | string;
  readonly y: number;
}

export interface ChartSeries {
  readonly name: string;
  readonly emulated: readonly ChartPoint[];
  readonly published: readonly ChartPoint[];
}

export interface LineChart {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly xType?: "linear" | "log" | "point";
  readonly yType?: "linear" | "log";
  readonly xTicks?: readonly number[];
  readonly series: readonly ChartSeries[];
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const WIDTH = 820;
const KEY_W = 190;
const TOP = 56;

function plotSvg({ Plot, parseHTML }: ChartLibs, options: Record<string, unknown>): string {
  const { document } = parseHTML("<!doctype html><html><body></body></html>");
  const el = Plot.plot({ ...options, document } as PlotModule.PlotOptions) as unknown as { outerHTML: string; tagName: string };
  if (el.tagName.toLowerCase() !== "svg") throw new Error(`chart: Plot returned <${el.tagName}> instead of <svg> (no legend or title options may be used)`);
  return el.outerHTML;
}

/** Put the title, a <title> and the key inside Plot's <svg>, with the SVG namespace for standalone use. */
function finish(svg: string, title: string, key: string): string {
  const open = svg.indexOf(">") + 1;
  let head = svg.slice(0, open);
  if (!head.includes('xmlns="http://www.w3.org/2000/svg"')) head = head.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"');
  head = head.replace("<svg", '<svg role="img"');
  const heading = `<title>${esc(title)}</title><text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold" font-family="system-ui, sans-serif" fill="currentColor">${esc(title)}</text>`;
  const body = svg.slice(open, svg.lastIndexOf("</svg>"));
  return `<?xml version="1.0" encoding="UTF-8"?>\n${head}${heading}${body}<g class="key" font-family="system-ui, sans-serif" font-size="12" text-anchor="start">${key}</g></svg>\n`;
}

/** The key: one swatch per series, then what the two mark shapes mean. */
function keyMarkup(names: readonly string[], x0: number): string {
  let s = "";
  let y = TOP + 4;
  s += `<text x="${x0}" y="${y}" font-weight="bold" fill="currentColor">Key</text>`;
  names.forEach((n, i) => {
    y += 18;
    s += `<rect x="${x0}" y="${y - 9}" width="14" height="10" fill="${PALETTE[i % PALETTE.length]}"/><text x="${x0 + 20}" y="${y}" fill="currentColor">${esc(n)}</text>`;
  });
  y += 26;
  s += `<line x1="${x0}" x2="${x0 + 22}" y1="${y - 4}" y2="${y - 4}" stroke="#555" stroke-width="1.5"/><circle cx="${x0 + 11}" cy="${y - 4}" r="3.5" fill="white" stroke="#555" stroke-width="1.5"/>`;
  s += `<text x="${x0 + 28}" y="${y}" fill="currentColor">emulated (mmemu)</text>`;
  y += 20;
  s += `<path d="M${x0 + 11},${y - 10} l6,6 l-6,6 l-6,-6 z" fill="#555"/><text x="${x0 + 28}" y="${y}" fill="currentColor">published</text>`;
  return s;
}

/** A line chart of emulated series with the published points beside them. */
export async function lineChartSvg(c: LineChart): Promise<string> {
  const libs = await chartLibs();
  const { Plot } = libs;
  const names = c.series.map((s) => s.name);
  const emu = c.series.flatMap((s) => s.emulated.map((p) => ({ ...p, s: s.name })));
  const pub = c.series.flatMap((s) => s.published.map((p) => ({ ...p, s: s.name })));
  const height = 420;
  const svg = plotSvg(libs, {
    width: WIDTH, height, marginTop: TOP, marginRight: KEY_W, marginLeft: 64, marginBottom: 48,
    x: { type: c.xType ?? "linear", label: c.xLabel, labelAnchor: "center", labelOffset: 40, ...(c.xTicks ? { ticks: c.xTicks } : {}) },
    y: { type: c.yType ?? "linear", label: c.yLabel, labelAnchor: "center", labelOffset: 52, grid: true, nice: true },
    color: { domain: names, range: PALETTE.slice(0, Math.max(1, names.length)) },
    marks: [
      Plot.line(emu, { x: "x", y: "y", z: "s", stroke: "s", strokeWidth: 1.5 }),
      Plot.dot(emu, { x: "x", y: "y", stroke: "s", fill: "white", r: 3.5 }),
      Plot.dot(pub, { x: "x", y: "y", fill: "s", symbol: "diamond", r: 5 }),
    ],
  });
  return finish(svg, c.title, keyMarkup(names, WIDTH - KEY_W + 24));
}

export interface StackedBars {
  readonly title: string;
  readonly xLabel: string;
  /** One bar per label; parts in `parts` order. */
  readonly bars: ReadonlyArray<{ readonly label: string; readonly parts: Readonly<Record<string, number>> }>;
  readonly parts: readonly string[];
}

/** Horizontal bars, each split into its parts as shares of its total (the parts add up to 100%). */
export async function stackedBarsSvg(c: StackedBars): Promise<string> {
  const libs = await chartLibs();
  const { Plot } = libs;
  const rows = c.bars.flatMap((b) => {
    const total = c.parts.reduce((s, p) => s + (b.parts[p] ?? 0), 0) || 1;
    return c.parts.map((p) => ({ label: b.label, part: p, share: (100 * (b.parts[p] ?? 0)) / total }));
  });
  const height = TOP + 40 + 18 * c.bars.length;
  const svg = plotSvg(libs, {
    width: WIDTH, height, marginTop: TOP, marginRight: KEY_W, marginLeft: 150, marginBottom: 40,
    x: { label: c.xLabel, labelAnchor: "center", domain: [0, 100], grid: true },
    y: { label: null, domain: c.bars.map((b) => b.label) },
    color: { domain: [...c.parts], range: PALETTE.slice(0, c.parts.length) },
    marks: [Plot.barX(rows, Plot.stackX({ x: "share", y: "label", fill: "part", order: [...c.parts] }))],
  });
  let key = `<text x="${WIDTH - KEY_W + 24}" y="${TOP + 4}" font-weight="bold" fill="currentColor">Key (phase)</text>`;
  c.parts.forEach((p, i) => {
    const y = TOP + 22 + 18 * i;
    key += `<rect x="${WIDTH - KEY_W + 24}" y="${y - 9}" width="14" height="10" fill="${PALETTE[i % PALETTE.length]}"/><text x="${WIDTH - KEY_W + 44}" y="${y}" fill="currentColor">${esc(p)}</text>`;
  });
  return finish(svg, c.title, key);
}
