/**
 * `mmemu sweep SPEC [--threads N | --queue redis://HOST:PORT] [--cache DIR | --no-cache] [--out FILE.jsonl]
 *  [--report DIR] [--limit N]` and `mmemu worker --queue redis://HOST:PORT [--concurrency N]`:
 * design-space sweeps (docs/sweeps.md).
 */
import { Command, Option } from "commander";
import cliProgress from "cli-progress";
import { parseThreads } from "../pool.js";
import { PointCache } from "../sweep/cache.js";
import { writeSweepDb } from "../sweep/db.js";
import { LocalEngine, type PointEngine } from "../sweep/engine.js";
import { formatSweepTable, recordsJsonl, summaryLine, writeSweepReport } from "../sweep/output.js";
import { DEFAULT_ATTEMPTS, DEFAULT_LOCK_MS, DEFAULT_QUEUE_NAME, DEFAULT_STALLED_MS, QueueEngine, startQueueWorker } from "../sweep/queue.js";
import { resolveSweep } from "../sweep/resolve.js";
import { runSweep, type SweepRunResult } from "../sweep/run.js";
import { intOption, outputPath, writeFileAtomic } from "../output.js";
import { loadSweepFile, type Sweep } from "../sweep/spec.js";
import { checkStrictOffload, fallbackLine, strictOffloadOption } from "../fallback.js";

/** Where point outcomes are cached unless told otherwise (relative to the working directory). */
export const DEFAULT_CACHE_DIR = ".mmemu-cache/points";

/** `--queue URL` for commands that run preset sweeps (their points go to `mmemu worker`s). */
export function queueOption(): Option {
  return new Option("--queue <url>", "run the points on `mmemu worker` processes through this Redis (redis://HOST:PORT; docs/sweeps.md)");
}

/** `--cache DIR` for commands that run preset sweeps (off unless given). */
export function cacheOption(): Option {
  return new Option("--cache <dir>", "reuse and keep point results in this cache (docs/sweeps.md)");
}

export interface EngineChoice {
  readonly threads?: string;
  readonly queue?: string;
  readonly queueName?: string;
  readonly attempts?: string;
}

/** The engine the options ask for: the local pool, or a queue (calibrate takes the same options). */
export async function engineFrom(o: EngineChoice): Promise<PointEngine> {
  if (o.queue !== undefined) {
    if (o.threads !== undefined) throw new Error("--threads and --queue exclude each other (workers choose their own --concurrency)");
    return QueueEngine.open({ url: o.queue, name: o.queueName ?? DEFAULT_QUEUE_NAME, attempts: intOption("--attempts", o.attempts ?? String(DEFAULT_ATTEMPTS), 1, 100) });
  }
  return new LocalEngine(parseThreads(o.threads));
}

export interface SweepCommandOptions extends EngineChoice {
  readonly strictOffload?: boolean;
  readonly cache?: string | false;
  readonly out?: string;
  readonly report?: string;
  readonly limit?: string;
  readonly table?: boolean;
  readonly db?: string;
}

/** Run a resolved sweep with a progress bar on stderr (when it is a terminal) and Ctrl-C to stop early. */
export async function runSweepWithProgress(sweep: Sweep, engine: PointEngine, o: { cache: PointCache | null; limit?: number; label?: string }): Promise<SweepRunResult> {
  const points = await resolveSweep(sweep);
  const tty = process.stderr.isTTY === true;
  const bar = new cliProgress.SingleBar({
    format: `${o.label ?? sweep.name} {bar} {value}/{total} points {pps} points/s {duration}s`, stream: process.stderr, hideCursor: true,
  }, cliProgress.Presets.shades_classic);
  const abort = new AbortController();
  // The first Ctrl-C stops submitting points (those running finish and are cached); a second one exits.
  const onSigint = () => {
    if (abort.signal.aborted) process.exit(130);
    abort.abort();
    process.stderr.write("\nstopping after the points in progress (Ctrl-C again to quit now); run the same command to resume\n");
  };
  process.on("SIGINT", onSigint);
  const t0 = performance.now();
  try {
    return await runSweep(sweep, points, {
      engine, cache: o.cache, signal: abort.signal, ...(o.limit !== undefined ? { limit: o.limit } : {}),
      onProgress: (done, total) => {
        if (!tty) return;
        const pps = (done / ((performance.now() - t0) / 1000)).toFixed(2);
        if (done === 0) bar.start(total, 0, { pps: "0.00" });
        else bar.update(done, { pps });
      },
    });
  } finally {
    bar.stop();
    process.off("SIGINT", onSigint);
  }
}

export async function runSweepCommand(specFile: string, o: SweepCommandOptions): Promise<number> {
  const loaded = loadSweepFile(specFile);
  const sweep: Sweep = o.strictOffload === true ? { ...loaded, strictOffload: true } : loaded;
  // Every output is checked before the first point runs.
  if (o.out !== undefined) outputPath("--out", o.out, "file");
  if (o.report !== undefined) outputPath("--report", o.report, "dir");
  if (o.db !== undefined) outputPath("--db", o.db, "file");
  if (o.cache !== false) outputPath("--cache", o.cache ?? DEFAULT_CACHE_DIR, "dir");
  const limit = o.limit !== undefined ? intOption("--limit", o.limit, 1, Number.MAX_SAFE_INTEGER) : undefined;
  const cache = o.cache === false ? null : new PointCache(o.cache ?? DEFAULT_CACHE_DIR);
  const engine = await engineFrom(o);
  try {
    const run = await runSweepWithProgress(sweep, engine, { cache, ...(limit !== undefined ? { limit } : {}) });
    if (o.table !== false) console.log(formatSweepTable(sweep, run.records));
    for (const f of run.failed) console.error(`point ${f.point.point.index} failed: ${f.error}`);
    const outcomes = run.outcomes.filter((x) => x !== null);
    console.error(fallbackLine(outcomes));
    console.error(summaryLine(sweep, run, engine.description));
    if (run.remaining > 0) console.error(`${run.remaining} points not run yet: run the same command again to resume${cache === null ? " (with a cache)" : ""}`);
    if (o.out !== undefined) {
      writeFileAtomic(o.out, recordsJsonl(run.records));
      console.error(`wrote ${o.out}`);
    }
    if (o.report !== undefined) console.error(`wrote ${(await writeSweepReport(o.report, sweep, run, engine.description)).join(", ")}`);
    if (o.db !== undefined) console.error(`wrote ${await writeSweepDb(o.db, sweep, run.records)} rows to table points of ${o.db}`);
    if (sweep.strictOffload === true) checkStrictOffload(run.outcomes.map((x) => x ?? { fallback: {}, strictFailures: [] }), sweep.points.map((p) => String(p.index)));
    return run.failed.length > 0 ? 1 : 0;
  } finally {
    await engine.close();
  }
}

export function sweepCommand(): Command {
  return new Command("sweep")
    .description("run a design-space sweep described in a YAML or JSON spec (docs/sweeps.md), locally or through a Redis queue")
    .argument("<spec>", "sweep spec file (.yaml, .yml or .json)")
    .option("--threads <n>", "local worker threads (default: one per core)")
    .option("--queue <url>", "run the points on `mmemu worker` processes through this Redis (redis://HOST:PORT)")
    .option("--queue-name <name>", "queue name", DEFAULT_QUEUE_NAME)
    .option("--attempts <n>", "runs of a failing point on the queue before it is reported", String(DEFAULT_ATTEMPTS))
    .option("--cache <dir>", "point result cache (an interrupted sweep resumes from it)", DEFAULT_CACHE_DIR)
    .option("--no-cache", "run every point, cache nothing")
    .option("--out <file>", "write the records as JSON lines")
    .option("--report <dir>", "write report.html (table and charts), the chart SVGs and results.jsonl")
    .option("--limit <n>", "run at most n points not in the cache, then stop (the next run resumes)")
    .option("--db <file>", "also write the records to a DuckDB database (table points) for SQL queries")
    .option("--no-table", "do not print the summary table")
    .addOption(strictOffloadOption())
    .action(async (spec: string, o: SweepCommandOptions) => {
      process.exitCode = await runSweepCommand(spec, o);
    });
}

export function workerCommand(): Command {
  return new Command("worker")
    .description("run sweep points from a Redis queue until stopped (SIGINT/SIGTERM finish the points in hand)")
    .requiredOption("--queue <url>", "the Redis the sweeps use (redis://HOST:PORT)")
    .option("--queue-name <name>", "queue name", DEFAULT_QUEUE_NAME)
    .option("--concurrency <n>", "points at once, each on a worker thread (default: one per core)")
    .option("--lock-ms <ms>", "how long a claim on a point lasts unless renewed (a dead worker's points return after it)", String(DEFAULT_LOCK_MS))
    .option("--stalled-ms <ms>", "how often to look for points whose worker died", String(DEFAULT_STALLED_MS))
    .action(async (o: { queue: string; queueName: string; concurrency?: string; lockMs: string; stalledMs: string }) => {
      const w = await startQueueWorker({
        url: o.queue, name: o.queueName,
        ...(o.concurrency !== undefined ? { concurrency: intOption("--concurrency", o.concurrency, 1, 256) } : {}),
        lockMs: intOption("--lock-ms", o.lockMs, 1000, 3_600_000),
        stalledMs: intOption("--stalled-ms", o.stalledMs, 500, 3_600_000),
        log: (l) => console.error(l),
      });
      const stop = () => {
        console.error(`worker ${process.pid}: finishing the points in hand`);
        void w.close();
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      await w.done;
    });
}
