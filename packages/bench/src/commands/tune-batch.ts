/**
 * `mmemu tune-batch --folio 2M --channels 16 --budget-us 500 [--profile NAME]`: sweep the batch size N
 * (NR_MAX_BATCHED_MIGRATION) for dcbm and recommend the N with the best throughput whose first-folio
 * latency stays inside the budget, printing the whole curve.
 */
import { Command } from "commander";
import { DEFAULT_PROFILE, loadProfileWith, setOption } from "./profile.js";
import { componentOptions, componentsFrom, type ComponentFlags } from "./components.js";
import { PointPool } from "../pool.js";
import { outputPath } from "../output.js";
import { checkStrictOffload, fallbackLine, strictOffloadOption } from "../fallback.js";
import { offloadSpec, SEED_OFFLOAD_N, specLabel } from "../points.js";
import {
  addQuietOption, addTraceOptions, checkTraceArgs, emitJson, formatBreakdownTable, progressBar, traceOnePoint, type TraceCliArgs,
} from "./cli-common.js";
import { FOLIO_SIZE_NAMES, type FolioSizeName } from "../workload.js";

export interface TuneRow {
  readonly N: number;
  readonly GBps: number;
  readonly firstUs: number;
}

/** The best-throughput N within the budget (ties: the smaller N), or null if none fits. */
export function recommendBatch(rows: readonly TuneRow[], budgetUs: number): TuneRow | null {
  let best: TuneRow | null = null;
  for (const r of rows) if (r.firstUs <= budgetUs && (best === null || r.GBps > best.GBps)) best = r;
  return best;
}

export function tuneBatchCommand(): Command {
  const cmd = componentOptions(new Command("tune-batch")
    .description("sweep the offload batch size (dcbm or --migrator) and recommend the best-throughput N within a first-folio latency budget")
    .requiredOption("--folio <size>", `folio size (${FOLIO_SIZE_NAMES.join(", ")})`)
    .requiredOption("--channels <n>", "DMA channels (1..16)")
    .requiredOption("--budget-us <us>", "first-folio latency budget in microseconds")
    .option("--profile <name>", "hardware profile name or file", DEFAULT_PROFILE)
    .addOption(setOption()).addOption(strictOffloadOption()))
    .option("--json [file]", "the curve and the recommendation as JSON (to stdout, or to FILE)")
    .option("--breakdown", "print where each N's virtual time went, by phase");
  return addQuietOption(addTraceOptions(cmd))
    .action(async (o: TraceCliArgs & ComponentFlags & { folio: string; channels: string; budgetUs: string; profile: string; set?: string[]; json?: string | boolean; quiet?: boolean; breakdown?: boolean; strictOffload?: boolean }) => {
      if (!(FOLIO_SIZE_NAMES as readonly string[]).includes(o.folio)) throw new Error(`--folio must be one of ${FOLIO_SIZE_NAMES.join(", ")}`);
      const fs = o.folio as FolioSizeName;
      // dcbm's nr_dma_chan accepts 1..16 (MAX_DMA_CHANNELS); say so before running anything.
      if (!/^\d+$/.test(o.channels) || Number(o.channels) < 1 || Number(o.channels) > 16) {
        throw new Error(`--channels must be a whole number from 1 to 16 (dcbm's nr_dma_chan), got "${o.channels}"`);
      }
      const ch = Number(o.channels);
      const budget = Number(o.budgetUs);
      if (!(budget > 0) || !Number.isFinite(budget)) throw new Error(`--budget-us must be a positive number of microseconds, got "${o.budgetUs}"`);
      const components = await componentsFrom(o);
      const profile = loadProfileWith(o.profile, o.set, components.schema);
      if (typeof o.json === "string") outputPath("--json", o.json, "file");
      const traced = checkTraceArgs(o, SEED_OFFLOAD_N.length);
      const pool = new PointPool(undefined, components);
      const bar = progressBar("tune-batch", o.quiet);
      try {
        const specs = SEED_OFFLOAD_N.map((N) => offloadSpec(fs, N, ch));
        let done = 0;
        const res = await pool.runAll(profile, specs, { strictOffload: o.strictOffload === true }, () => bar.update(++done, specs.length));
        bar.stop();
        const rows: TuneRow[] = res.map((r, i) => ({ N: SEED_OFFLOAD_N[i]!, GBps: r.GBps, firstUs: r.firstUs }));
        const best = recommendBatch(rows, budget);
        const log = o.json === true ? console.error : console.log;
        if (traced !== null) log(traceOnePoint(profile, components, specs[traced.index]!, specLabel(specs[traced.index]!), 1, o, res[traced.index]!.virtualNs));
        const json = {
          profile: profile.name, folio_size: fs, channels: ch, budget_us: budget,
          rows: rows.map((r, i) => ({ N: r.N, GBps: r.GBps, first_us: r.firstUs, over_budget: r.firstUs > budget, fallback: res[i]!.fallback, phases_ns: res[i]!.phases, vmstat: res[i]!.vmstat, stats: res[i]!.stats })),
          recommended_N: best?.N ?? null,
        };
        if (o.json === true) {
          checkStrictOffload(res, specs.map(specLabel));
          emitJson(true, json);
          return;
        }
        const maxG = Math.max(...rows.map((r) => r.GBps));
        console.log(`${fs} folios, ${ch} channels, profile ${profile.name}, first-folio budget ${budget} us`);
        console.log("N (pages)   first_us     GiB/s");
        for (const r of rows) {
          const bar = "#".repeat(Math.round((r.GBps / maxG) * 40));
          const mark = r === best ? " <- recommended" : r.firstUs > budget ? " (over budget)" : "";
          console.log(`${String(r.N).padStart(9)} ${r.firstUs.toFixed(0).padStart(10)} ${r.GBps.toFixed(2).padStart(8)}  ${bar}${mark}`);
        }
        if (best) console.log(`recommended N = ${best.N} pages: ${best.GBps.toFixed(2)} GiB/s, first folio after ${best.firstUs.toFixed(0)} us`);
        else console.log(`no batch size meets ${budget} us; the smallest, N = ${rows[0]!.N}, takes ${rows[0]!.firstUs.toFixed(0)} us`);
        console.log(fallbackLine(res));
        if (o.breakdown) console.log(formatBreakdownTable(specs.map((s, i) => ({ label: specLabel(s), r: res[i]! }))));
        checkStrictOffload(res, specs.map(specLabel));
        const note = emitJson(o.json, json);
        if (note !== null) console.log(note);
      } finally {
        bar.stop();
        await pool.close();
      }
    });
}
