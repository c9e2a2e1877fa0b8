import test from "ava";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { DOMParser } from "linkedom";
import { loadProfile } from "@mmemu/timing";
import { BUILTIN_SCHEMA } from "@mmemu/components";
import {
  PointPool, readMeasurements, runSeed, seedChartSpecs, seedReportTables, writeSeedReport, type SeedRun,
} from "../src/index.js";
import { DEFAULT_MEASUREMENTS } from "../src/commands/calibrate.js";

// A real seed run restricted to its 2 MiB points (512 folios each: quick), which carry published
// cells in all three tables.
const ms = readMeasurements(DEFAULT_MEASUREMENTS);
let cached: SeedRun | null = null;
async function run2M(): Promise<SeedRun> {
  if (cached !== null) return cached;
  const pool = new PointPool(1);
  try {
    const full = await runSeed(pool, loadProfile("zen3-ptdma", BUILTIN_SCHEMA), 1, ms, undefined, { only: (s) => s.folioSize === "2M" });
    cached = full;
    return full;
  } finally {
    await pool.close();
  }
}

test("every published value the tables show is a published mark on some chart", async (t) => {
  const run = await run2M();
  const tables = seedReportTables(run, ms);
  const specs = seedChartSpecs(run, ms);
  const pubMarks = new Set<number>();
  for (const c of Object.values(specs)) if (c.kind === "line") for (const s of c.chart.series) for (const p of s.published) pubMarks.add(p.y);
  let shown = 0;
  for (const tb of tables) for (const r of tb.rows) for (const c of r.cells) {
    if (c?.published === undefined) continue;
    shown++;
    t.true(pubMarks.has(c.published), `${tb.title} ${r.label.join(" ")}: published ${c.published} is on no chart`);
  }
  t.true(shown >= 7 + 14 + 60, `the 2M tables show ${shown} published values`);
});

test("chart files are standalone SVG documents with a title, axis labels and a key telling emulated from published", async (t) => {
  const run = await run2M();
  const dir = mkdtempSync(join(tmpdir(), "mmemu-report-"));
  try {
    const files = await writeSeedReport(dir, run, ms, { profile: "zen3-ptdma", seed: 1 });
    const svgs = files.filter((f) => f.endsWith(".svg"));
    t.true(svgs.length >= 7, `${svgs.length} charts for the 2M points`);
    for (const f of svgs) {
      const text = readFileSync(f, "utf8");
      const doc = new DOMParser().parseFromString(text, "image/svg+xml");
      const root = doc.documentElement;
      t.is(root.tagName.toLowerCase(), "svg", f);
      t.is(root.getAttribute("xmlns"), "http://www.w3.org/2000/svg", f);
      t.truthy(root.querySelector("title")?.textContent, `${f}: <title>`);
      const key = root.querySelector("g.key");
      t.truthy(key, `${f}: key inside the svg`);
      if (!f.endsWith("breakdown.svg")) {
        t.regex(key!.textContent ?? "", /emulated \(mmemu\).*published/s, `${f}: key names both kinds of marks`);
        t.regex(text, /aria-label="x-axis label"/, `${f}: x-axis label`);
        t.regex(text, /aria-label="y-axis label"/, `${f}: y-axis label`);
      }
    }
    const md = readFileSync(join(dir, "report.md"), "utf8");
    t.regex(md, /^\| configuration \| 4K \| 16K \|/m, "Markdown tables, not a text dump");
    for (const f of svgs) t.true(md.includes(`](${f.slice(dir.length + 1)})`), `report.md links ${f}`);
    const html = readFileSync(join(dir, "report.html"), "utf8");
    t.false(html.includes("<pre>"));
    t.regex(html, /<table>[\s\S]*<th scope="row">dcbm 16 ch<\/th>/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Headless Chromium, if this machine has it (Debian's chromium package). */
function chromium(): string | null {
  for (const c of ["chromium", "chromium-browser", "google-chrome"]) {
    const r = spawnSync("sh", ["-c", `command -v ${c}`], { encoding: "utf8" });
    if (r.status === 0 && r.stdout.trim() !== "") return r.stdout.trim();
  }
  return null;
}

test("headless Chromium renders the report and loads every chart as an image", async (t) => {
  const bin = chromium();
  if (bin === null) {
    t.log("SKIPPED: no chromium on this machine (apt-get install chromium) — the rendering check did not run");
    t.pass();
    return;
  }
  const run = await run2M();
  const dir = mkdtempSync(join(tmpdir(), "mmemu-report-"));
  try {
    await writeSeedReport(dir, run, ms, { profile: "zen3-ptdma", seed: 1 });
    const svgs = readdirSync(dir).filter((f) => f.endsWith(".svg"));
    // A copy of the report that writes, once loaded, each image's rendered width into the title.
    const probe = readFileSync(join(dir, "report.html"), "utf8").replace("</body>",
      "<script>window.addEventListener('load',()=>{document.title='imgs:'+[...document.images].map(i=>i.naturalWidth+'x'+i.naturalHeight).join(',')+' tables:'+document.querySelectorAll('table').length})</script></body>");
    writeFileSync(join(dir, "probe.html"), probe);
    const r = spawnSync(bin, ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000", "--dump-dom", pathToFileURL(join(dir, "probe.html")).href], { encoding: "utf8", timeout: 120_000 });
    t.is(r.status, 0, r.stderr);
    const title = /<title>([^<]*)<\/title>/.exec(r.stdout)?.[1] ?? "";
    const m = /^imgs:(\S*) tables:(\d+)$/.exec(title);
    t.truthy(m, `probe title: ${title}`);
    const sizes = m![1]!.split(",");
    t.is(sizes.length, svgs.length, "one <img> per chart");
    // An SVG the browser cannot parse loads as a broken image of width 0.
    t.true(sizes.every((s) => /^820x\d{3,4}$/.test(s)), `every chart loads as an image with its own size: ${sizes.join(" ")}`);
    t.true(Number(m![2]) >= 4, "the 2M tables and the breakdown");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
