/**
 * `mmemu bench seed [--profile NAME] [--set section.name=value ...] [--seed N] [--measurements FILE] [--report DIR] [--json FILE] [--threads N]`
 * `mmemu bench speed [--profile NAME] [--no-seed]`
 */
import { Command } from "commander";
import cliProgress from "cli-progress";
import { readMeasurements } from "../measurements.js";
import { intOption, outputPath, writeFileAtomic } from "../output.js";
import { parseThreads, PointPool } from "../pool.js";
import { writeSeedReport } from "../report.js";
import { fidelity, formatSeedTables, runSeed } from "../seed.js";
import { runSpeed } from "../speed.js";
import { formatPredict, runPredict } from "../predict.js";
import { DEFAULT_MEASUREMENTS } from "./calibrate.js";
import { DEFAULT_PROFILE, loadProfileWith, setOption } from "./profile.js";
import { BUILTIN_COMPONENTS } from "@mmemu/components";
import { componentOptions, componentsFrom, type ComponentFlags } from "./components.js";

/** --seed: a whole number (the PRNG seed). */
export function seedOption(value: string): number {
  return intOption("--seed", value, 0, 2 ** 32 - 1);
}

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
      // Every input and output is checked before the benchmark runs.
      if (o.json !== undefined) outputPath("--json", o.json, "file");
      if (o.report !== undefined) outputPath("--report", o.report, "dir");
      const seed = seedOption(o.seed);
      const components = await componentsFrom(o);
      const profile = loadProfileWith(o.profile, o.set, components.schema);
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
        const fid = fidelity(run.cells);
        if (fid.cells > 0) {
          console.log(`fidelity: ${fid.cells} published cells, median |error| ${(fid.medianAbs * 100).toFixed(1)}% (target <= 10%: ${fid.medianAbs <= 0.1 ? "met" : "MISSED"}), ` +
            `max ${(fid.maxAbs * 100).toFixed(1)}%, ${fid.over25} cells beyond 25% (target 0: ${fid.over25 === 0 ? "met" : "MISSED"})`);
        }
        console.log(`${run.points.length} points on ${pool.threads} threads in ${(run.wallMs / 1000).toFixed(1)} s wall`);
        // Runs with plug-ins or other built-ins say so (the tables keep the published "dcbm" labels).
        const plugged = components !== BUILTIN_COMPONENTS;
        if (plugged) console.log(`offload points ran with migrator ${components.selection.migrator}, engines ${components.selection.engines.join(", ")}`);
        if (o.json) {
          writeFileAtomic(o.json, JSON.stringify(plugged ? { ...run.json, components: components.selection } : run.json, null, 1) + "\n");
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
        const { rows, results } = await runPredict(pool, profile, seedOption(o.seed), (done, total) => {
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
