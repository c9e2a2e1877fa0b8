/**
 * `mmemu bench seed [--profile NAME] [--set section.name=value ...] [--seed N] [--measurements FILE] [--report DIR] [--json FILE] [--threads N]`
 * `mmemu bench speed [--profile NAME] [--no-seed] [--no-engines]`
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { Command } from "commander";
import cliProgress from "cli-progress";
import { BUILTIN_SCHEMA } from "@mmemu/components";
import { readMeasurements } from "../measurements.js";
import { parseThreads, PointPool } from "../pool.js";
import { writeSeedReport } from "../report.js";
import { fidelity, fidelityLine, formatSeedTables, runSeed, sampleStatus } from "../seed.js";
import { runSpeed } from "../speed.js";
import { formatPredict, predictRows, predictSweep } from "../predict.js";
import { PointCache } from "../sweep/cache.js";
import { throughputAndLatency } from "../sweep/preset.js";
import { cacheOption, engineFrom, queueOption, runSweepWithProgress, wholeNumber } from "./sweep.js";
import { DEFAULT_MEASUREMENTS } from "./calibrate.js";
import { checkStrictOffload, fallbackLine, strictOffloadOption } from "../fallback.js";
import { specKey } from "../points.js";
import { DEFAULT_PROFILE, loadProfileWith, parseSets, setOption } from "./profile.js";
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
    .addOption(strictOffloadOption())
    .action(async (o: ComponentFlags & { profile: string; set?: string[]; seed: string; measurements: string; report?: string; json?: string; threads?: string; strictOffload?: boolean }) => {
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
        }, o.strictOffload === true);
        bar.stop();
        console.log(formatSeedTables(run, ms));
        console.log(fallbackLine(run.results));
        checkStrictOffload(run.results, run.points.map((p) => specKey(p.spec)));
        // Runs with plug-ins or other built-ins say so (the tables keep the published "dcbm" labels).
        const plugged = components !== BUILTIN_COMPONENTS;
        const fid = fidelity(run.cells);
        if (fid.cells > 0) {
          console.log(fidelityLine(fid, plugged ? components.selection : null));
          console.log(sampleStatus(profile, o.measurements));
        }
        console.log(`${run.points.length} points on ${pool.threads} threads in ${(run.wallMs / 1000).toFixed(1)} s wall`);
        if (plugged) console.log(`offload points ran with migrator ${components.selection.migrator}, engines ${components.selection.engines.join(", ")}`);
        if (o.json) {
          mkdirSync(dirname(o.json), { recursive: true });
          writeFileSync(o.json, JSON.stringify(plugged ? { ...run.json, components: components.selection } : run.json, null, 1) + "\n");
          console.log(`wrote ${o.json}`);
        }
        if (o.report) console.log(`wrote ${writeSeedReport(o.report, run, ms, { profile: profile.name, seed, sample: ms ? sampleStatus(profile, o.measurements) : "" }).join(", ")}`);
      } finally {
        bar.stop();
        await pool.close();
      }
    });
  componentOptions(bench.command("predict"))
    .description("unpublished configurations: vanilla first-folio latency vs n for 16K/64K, dcbm latency and throughput vs batch size for 16K..1M (a preset sweep)")
    .option("--profile <name>", "hardware profile name or file", DEFAULT_PROFILE)
    .addOption(setOption())
    .option("--seed <n>", "PRNG seed", "1")
    .option("--threads <n>", "worker threads (default: one per core)")
    .addOption(strictOffloadOption())
    .addOption(queueOption())
    .addOption(cacheOption())
    .action(async (o: ComponentFlags & { profile: string; set?: string[]; seed: string; threads?: string; queue?: string; cache?: string; strictOffload?: boolean }) => {
      const components = await componentsFrom(o);
      const profile = loadProfileWith(o.profile, o.set, components.schema);
      const sweep = predictSweep({ profile: o.profile, set: parseSets(o.set, components.schema), seed: wholeNumber(o.seed, "--seed", 0, 2 ** 32 - 1), components: o, strictOffload: o.strictOffload === true });
      const engine = engineFrom(o);
      try {
        const run = await runSweepWithProgress(sweep, engine, { cache: o.cache !== undefined ? new PointCache(o.cache) : null, label: "predict" });
        console.log(`profile ${profile.name}`);
        const results = throughputAndLatency(run);
        console.log(formatPredict(predictRows(), results));
        console.log(fallbackLine(results));
        checkStrictOffload(results, predictRows().map((r) => specKey(r.spec)));
      } finally {
        await engine.close();
      }
    });
  componentOptions(bench.command("speed"))
    .description("the emulator's speed against its targets: 1 GiB runs (first in a fresh isolate, steady), the whole seed benchmark, sweep points/s on local threads and queue workers, calibrate evaluations/s")
    .option("--profile <name>", "hardware profile name or file", DEFAULT_PROFILE)
    .addOption(setOption())
    .option("--no-seed", "skip timing the whole seed benchmark")
    .addOption(strictOffloadOption())
    .option("--no-engines", "skip timing the sweep engines and calibrate's evaluations")
    .action(async (o: ComponentFlags & { profile: string; set?: string[]; seed: boolean; engines: boolean; strictOffload?: boolean }) => {
      const components = await componentsFrom(o);
      await runSpeed(loadProfileWith(o.profile, o.set, components.schema), { seed: o.seed, engines: o.engines, strictOffload: o.strictOffload === true }, components);
    });
  return bench;
}
