/**
 * `mmemu bench seed [--profile NAME] [--set section.name=value ...] [--seed N] [--measurements FILE] [--report DIR] [--json [FILE]] [--threads N]`
 * `mmemu bench predict [--profile NAME] [--json [FILE]]`
 * `mmemu bench speed [--profile NAME] [--no-seed] [--no-engines] [--json [FILE]]`
 * Each also takes the trace options (--trace FILE ...), --breakdown, --quiet (cli-common.ts) and
 * --strict-offload (fallback.ts); each prints its CPU-fallback counts.
 */
import { Command } from "commander";
import { readMeasurements, type GigabyteUnit } from "../measurements.js";
import { intOption, outputPath, writeFileAtomic } from "../output.js";
import { seedPoints, specLabel } from "../points.js";
import { parseThreads, PointPool } from "../pool.js";
import { writeSeedReport } from "../report.js";
import { fidelity, fidelityLine, formatSeedTables, runSeed, sampleStatus } from "../seed.js";
import { CALIBRATE_TARGET_MIN, formatSpeed, runSpeed, SPEED_POINTS } from "../speed.js";
import { formatPredict, predictRows, runPredict } from "../predict.js";
import { DEFAULT_MEASUREMENTS } from "./calibrate.js";
import { checkStrictOffload, fallbackLine, strictOffloadOption } from "../fallback.js";
import { DEFAULT_PROFILE, loadProfileWith, setOption } from "./profile.js";
import { BUILTIN_COMPONENTS } from "@mmemu/components";
import { componentOptions, componentsFrom, type ComponentFlags } from "./components.js";
import {
  addQuietOption, addTraceOptions, checkTraceArgs, emitJson, formatBreakdownTable, gigabyteOption, progressBar, traceOnePoint, type TraceCliArgs,
} from "./cli-common.js";

interface CommonOpts extends TraceCliArgs, ComponentFlags {
  readonly profile: string;
  readonly set?: string[];
  readonly quiet?: boolean;
  readonly breakdown?: boolean;
  readonly strictOffload?: boolean;
}

/** --seed: a whole number (the PRNG seed). */
export function seedOption(value: string): number {
  return intOption("--seed", value, 0, 2 ** 32 - 1);
}

export function benchCommand(): Command {
  const bench = new Command("bench").description("benchmarks: the seed benchmark (published tables) and the emulator's speed");
  const seed = componentOptions(bench.command("seed"))
    .description("regenerate the published move_pages() tables on a profile, with the published value and error beside each cell")
    .option("--profile <name>", "hardware profile name or file", DEFAULT_PROFILE)
    .addOption(setOption())
    .option("--seed <n>", "PRNG seed", "1")
    .option("--measurements <file>", "published figures to compare against", DEFAULT_MEASUREMENTS)
    .addOption(gigabyteOption())
    .option("--report <dir>", "write report.md, report.html and SVG charts")
    .option("--json [file]", "{ profile, seed, version, results } as JSON (published value, error and phases beside each record), to stdout or to FILE")
    .option("--threads <n>", "worker threads (default: one per core)")
    .option("--breakdown", "print where each point's virtual time went, by phase")
    .addOption(strictOffloadOption());
  addQuietOption(addTraceOptions(seed)).action(async (o: CommonOpts & { seed: string; measurements: string; gb?: GigabyteUnit; report?: string; json?: string | boolean; threads?: string }) => {
    // Every input and output is checked before the benchmark runs.
    if (typeof o.json === "string") outputPath("--json", o.json, "file");
    // With --json and no file the JSON is standard output, so everything else goes to standard error.
    const say = o.json === true ? console.error : console.log;
    if (o.report !== undefined) outputPath("--report", o.report, "dir");
    const components = await componentsFrom(o);
    const profile = loadProfileWith(o.profile, o.set, components.schema);
    const seedN = seedOption(o.seed);
    const points = seedPoints();
    const traced = checkTraceArgs(o, points.length);
    const ms = o.measurements === "none" ? null : readMeasurements(o.measurements, o.gb);
    const pool = new PointPool(parseThreads(o.threads), components);
    const bar = progressBar("seed", o.quiet);
    try {
      const run = await runSeed(pool, profile, seedN, ms, bar.update, { strictOffload: o.strictOffload === true });
      bar.stop();
      say(formatSeedTables(run, ms));
      say(fallbackLine(run.results));
      checkStrictOffload(run.results, run.points.map((p) => specLabel(p.spec)));
      // Runs with plug-ins or other built-ins say so (the tables keep the published "dcbm" labels).
      const plugged = components !== BUILTIN_COMPONENTS;
      const fid = fidelity(run.cells);
      if (fid.cells > 0) {
        say(fidelityLine(fid, plugged ? components.selection : null));
        // Whether these cells are the ones the profile was fitted to (then the errors say how well it fits, not how it predicts).
        if (!plugged) say(sampleStatus(profile, o.measurements));
      }
      say(`${run.points.length} points on ${pool.threads} threads in ${(run.wallMs / 1000).toFixed(1)} s wall`);
      if (plugged) say(`offload points ran with migrator ${components.selection.migrator}, engines ${components.selection.engines.join(", ")}`);
      if (o.breakdown) say(formatBreakdownTable(run.points.map((p, i) => ({ label: `${p.table} ${specLabel(p.spec)}`, r: run.results[i]! }))));
      const note = emitJson(o.json, plugged ? { ...run.json, components: components.selection } : run.json);
      if (note !== null) say(note);
      if (o.report) say(`wrote ${(await writeSeedReport(o.report, run, ms, { profile: profile.name, seed: seedN })).join(", ")}`);
      if (traced !== null) {
        const p = points[traced.index]!;
        say(traceOnePoint(profile, components, p.spec, specLabel(p.spec), seedN, o, run.results[traced.index]!.virtualNs));
      }
    } finally {
      bar.stop();
      await pool.close();
    }
  });
  const predict = componentOptions(bench.command("predict"))
    .description("unpublished configurations: vanilla first-folio latency vs n for 16K/64K, dcbm latency and throughput vs batch size for 16K..1M")
    .option("--profile <name>", "hardware profile name or file", DEFAULT_PROFILE)
    .addOption(setOption())
    .option("--seed <n>", "PRNG seed", "1")
    .option("--threads <n>", "worker threads (default: one per core)")
    .option("--json [file]", "the predictions as JSON (to stdout, or to FILE)")
    .option("--breakdown", "print where each point's virtual time went, by phase")
    .addOption(strictOffloadOption());
  addQuietOption(addTraceOptions(predict)).action(async (o: CommonOpts & { seed: string; threads?: string; json?: string | boolean }) => {
    const seedN = seedOption(o.seed);
    if (typeof o.json === "string") outputPath("--json", o.json, "file");
    const components = await componentsFrom(o);
    const profile = loadProfileWith(o.profile, o.set, components.schema);
    const rowsAll = predictRows();
    const traced = checkTraceArgs(o, rowsAll.length);
    const pool = new PointPool(parseThreads(o.threads), components);
    const bar = progressBar("predict", o.quiet);
    try {
      const { rows, results } = await runPredict(pool, profile, seedN, bar.update, o.strictOffload === true);
      bar.stop();
      const json = {
        profile: profile.name, seed: seedN,
        results: rows.map((r, i) => ({ table: r.table, folio_size: r.folioSize, ...(r.table === "vanilla" ? { n: r.n } : { N: r.n, channels: r.channels }), GBps: results[i]!.GBps, first_us: results[i]!.firstUs, virtual_ns: results[i]!.virtualNs, fallback: results[i]!.fallback, phases_ns: results[i]!.phases, vmstat: results[i]!.vmstat, stats: results[i]!.stats })),
      };
      if (o.json !== true) {
        console.log(`profile ${profile.name}`);
        console.log(formatPredict(rows, results));
        console.log(fallbackLine(results));
        if (o.breakdown) console.log(formatBreakdownTable(rows.map((r, i) => ({ label: specLabel(r.spec), r: results[i]! }))));
      }
      checkStrictOffload(results, rows.map((r) => specLabel(r.spec)));
      const note = emitJson(o.json, json);
      if (note !== null) console.log(note);
      if (traced !== null) {
        const msg = traceOnePoint(profile, components, rows[traced.index]!.spec, specLabel(rows[traced.index]!.spec), seedN, o, results[traced.index]!.virtualNs);
        (o.json === true ? console.error : console.log)(msg);
      }
    } finally {
      bar.stop();
      await pool.close();
    }
  });
  const speed = componentOptions(bench.command("speed"))
    .description(
      "wall time, folios/s, virtual/wall ratio and peak memory for 1 GiB runs (fresh and steady, against their targets), the whole seed " +
        "benchmark's wall time, the sweep engine's points/s (1 and 2 local threads, 2 queue workers) and calibrate's evaluations/s",
    )
    .option("--profile <name>", "hardware profile name or file", DEFAULT_PROFILE)
    .addOption(setOption())
    .option("--no-seed", "skip timing the whole seed benchmark")
    .option("--no-engines", "skip timing the sweep engines and calibrate's evaluations")
    .option("--json [file]", "the figures as JSON (to stdout, or to FILE)")
    .option("--breakdown", "print where each point's virtual time went, by phase")
    .addOption(strictOffloadOption());
  addQuietOption(addTraceOptions(speed)).action(async (o: CommonOpts & { seed: boolean; engines: boolean; json?: string | boolean }) => {
    if (typeof o.json === "string") outputPath("--json", o.json, "file");
    const components = await componentsFrom(o);
    const profile = loadProfileWith(o.profile, o.set, components.schema);
    if (typeof o.json === "string") outputPath("--json", o.json, "file");
    const traced = checkTraceArgs(o, SPEED_POINTS.length);
    const bar = progressBar("speed", o.quiet);
    let rep;
    try {
      rep = await runSpeed(profile, { seed: o.seed, engines: o.engines, strictOffload: o.strictOffload === true, onStep: bar.update }, components);
    } finally {
      bar.stop();
    }
    const json = {
      profile: profile.name, host_load: rep.hostLoad, cores: rep.cores,
      points: rep.rows.map((r) => ({
        label: r.label, first_ms: r.firstMs, first_target_ms: r.firstTargetMs, wall_ms: r.wallMs, steady_cpu_ms: r.steadyCpuMs, steady_target_ms: r.steadyTargetMs,
        folios_per_s: r.foliosPerSec, virtual_ms: r.virtualMs, virtual_per_wall: r.virtualPerWall, peak_rss_mib: r.peakRssMiB,
        fallback: r.result.fallback, phases_ns: r.result.phases, vmstat: r.result.vmstat, stats: r.result.stats,
      })),
      seed: rep.seed === null ? null : { wall_s: rep.seed.wallS, points: rep.seed.points, threads: rep.seed.threads, cores: rep.seed.cores, target_s: rep.seed.targetS },
      engines: rep.engines === null ? null : {
        sweep_points: rep.engines.points, points_per_s: { local_1: rep.engines.local1, local_2: rep.engines.local2, queue_2: rep.engines.queue2 },
        queue_note: rep.engines.queueNote,
        calibrate: rep.engines.calibrate.map((c) => ({ threads: c.threads, vanilla_evals_per_s: c.vanillaPerS, dcbm_evals_per_s: c.dcbmPerS })),
        calibrate_default_min: rep.engines.calibrateDefaultMin, calibrate_default_evaluations: rep.engines.calibrateDefaultEvals, calibrate_target_min: CALIBRATE_TARGET_MIN,
      },
    };
    if (o.json === true) emitJson(true, json);
    else {
      console.log(formatSpeed(rep));
      if (o.breakdown) console.log(formatBreakdownTable(rep.rows.map((r) => ({ label: r.label, r: r.result }))));
      const note = emitJson(o.json, json);
      if (note !== null) console.log(note);
    }
    if (traced !== null) {
      const p = SPEED_POINTS[traced.index]!;
      (o.json === true ? console.error : console.log)(traceOnePoint(profile, components, p.spec, p.label, 1, o, rep.rows[traced.index]!.result.virtualNs));
    }
  });
  return bench;
}
