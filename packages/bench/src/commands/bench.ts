/**
 * `mmemu bench seed [--profile NAME] [--set section.name=value ...] [--seed N] [--measurements FILE] [--report DIR] [--json FILE] [--threads N]`
 * `mmemu bench speed [--profile NAME] [--no-seed]`
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { Command } from "commander";
import cliProgress from "cli-progress";
import { readMeasurements } from "../measurements.js";
import { parseThreads, PointPool } from "../pool.js";
import { writeSeedReport } from "../report.js";
import { fidelity, fidelityLine, formatSeedTables, runSeed } from "../seed.js";
import { runSpeed } from "../speed.js";
import { formatPredict, runPredict } from "../predict.js";
import { DEFAULT_MEASUREMENTS } from "./calibrate.js";
import { DEFAULT_PROFILE, loadProfileWith, setOption } from "./profile.js";
import { BUILTIN_COMPONENTS } from "@mmemu/components";
import { componentOptions, componentsFrom, type ComponentFlags } from "./components.js";

export function benchCommand(): Command {
  const bench = new Command("bench").description("benchmarks: the seed benchmark (published tables) and the emulator's speed");
  componentOptions(bench.command("seed"))
    .description("regenerate the published move_pages() tables on a profile, with the published value and error beside each cell")
    .option("--profile <name>", "hardware profile name or file", DEFAULT_PROFILE)
    .addOption(setOption())
    .option("--seed <n>", "PRNG seed", "1")
    .option("--measurements <file>", "published figures to compare against", DEFAULT_MEASUREMENTS)
    .option("--report <dir>", "write report.md, report.html and SVG charts")
    .option("--json <file>", "write { profile, seed, version, results }")
    .option("--threads <n>", "worker threads (default: one per core)")
    .action(async (o: ComponentFlags & { profile: string; set?: string[]; seed: string; measurements: string; report?: string; json?: string; threads?: string }) => {
      const components = await componentsFrom(o);
      const profile = loadProfileWith(o.profile, o.set, components.schema);
      const seed = Number(o.seed);
      const ms = o.measurements === "none" ? null : readMeasurements(o.measurements);
      const pool = new PointPool(parseThreads(o.threads), components);
      const bar = new cliProgress.SingleBar({ format: "seed {bar} {value}/{total} points {duration}s", stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
      let started = false;
      try {
        const run = await runSeed(pool, profile, seed, ms, (done, total) => {
          if (!started) {
            bar.start(total, 0);
            started = true;
          }
          bar.update(done);
        });
        bar.stop();
        console.log(formatSeedTables(run, ms));
        // Runs with plug-ins or other built-ins say so (the tables keep the published "dcbm" labels).
        const plugged = components !== BUILTIN_COMPONENTS;
        const fid = fidelity(run.cells);
        if (fid.cells > 0) console.log(fidelityLine(fid, plugged ? components.selection : null));
        console.log(`${run.points.length} points on ${pool.threads} threads in ${(run.wallMs / 1000).toFixed(1)} s wall`);
        if (plugged) console.log(`offload points ran with migrator ${components.selection.migrator}, engines ${components.selection.engines.join(", ")}`);
        if (o.json) {
          mkdirSync(dirname(o.json), { recursive: true });
          writeFileSync(o.json, JSON.stringify(plugged ? { ...run.json, components: components.selection } : run.json, null, 1) + "\n");
          console.log(`wrote ${o.json}`);
        }
        if (o.report) console.log(`wrote ${writeSeedReport(o.report, run, ms, { profile: profile.name, seed }).join(", ")}`);
      } finally {
        bar.stop();
        await pool.close();
      }
    });
  componentOptions(bench.command("predict"))
    .description("unpublished configurations: vanilla first-folio latency vs n for 16K/64K, dcbm latency and throughput vs batch size for 16K..1M")
    .option("--profile <name>", "hardware profile name or file", DEFAULT_PROFILE)
    .addOption(setOption())
    .option("--seed <n>", "PRNG seed", "1")
    .option("--threads <n>", "worker threads (default: one per core)")
    .action(async (o: ComponentFlags & { profile: string; set?: string[]; seed: string; threads?: string }) => {
      const components = await componentsFrom(o);
      const profile = loadProfileWith(o.profile, o.set, components.schema);
      const pool = new PointPool(parseThreads(o.threads), components);
      const bar = new cliProgress.SingleBar({ format: "predict {bar} {value}/{total} points {duration}s", stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
      let started = false;
      try {
        const { rows, results } = await runPredict(pool, profile, Number(o.seed), (done, total) => {
          if (!started) {
            bar.start(total, 0);
            started = true;
          }
          bar.update(done);
        });
        bar.stop();
        console.log(`profile ${profile.name}`);
        console.log(formatPredict(rows, results));
      } finally {
        bar.stop();
        await pool.close();
      }
    });
  componentOptions(bench.command("speed"))
    .description("wall time, folios/s, virtual/wall ratio and peak memory for 1 GiB runs, and the whole seed benchmark's wall time")
    .option("--profile <name>", "hardware profile name or file", DEFAULT_PROFILE)
    .addOption(setOption())
    .option("--no-seed", "skip timing the whole seed benchmark")
    .action(async (o: ComponentFlags & { profile: string; set?: string[]; seed: boolean }) => {
      const components = await componentsFrom(o);
      await runSpeed(loadProfileWith(o.profile, o.set, components.schema), o.seed, components);
    });
  return bench;
}
