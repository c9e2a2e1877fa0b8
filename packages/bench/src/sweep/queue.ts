/**
 * The distributed engine: points as BullMQ jobs on Redis. `mmemu sweep SPEC --queue redis://HOST:PORT`
 * adds one job per point (job id = the point's hash, so a point already queued or finished by an
 * earlier run is not added twice) and waits for each; `mmemu worker --queue ...` on any number of
 * machines runs them on a local worker pool.
 *
 * Failure handling (docs/sweeps.md): a point that throws is retried `attempts` times in all, then
 * reported as failed. A worker that dies holding jobs stops renewing their locks; when a lock expires
 * (lockDuration) another worker's stalled-job check (every stalledInterval) puts the job back in the
 * queue, so no point is lost. The points run on worker threads, so a long point never blocks the
 * process's lock renewals. A worker refuses (without retries) jobs made by a different mmemu build:
 * its results would not be the same.
 */
import { Queue, QueueEvents, UnrecoverableError, Worker, type ConnectionOptions, type Job } from "bullmq";
import { PointPool } from "../pool.js";
import type { PointTask } from "../worker.js";
import { outcomeOf, PointOutcomeSchema, type PointOutcome } from "./cache.js";
import { longestFirst, type EngineTask, type PointEnd, type PointEngine } from "./engine.js";
import { mmemuVersion } from "./identity.js";

/** The queue points go to unless told otherwise (one queue serves every sweep: jobs are points). */
export const DEFAULT_QUEUE_NAME = "mmemu-points";
/** Runs of a point before it is reported failed. */
export const DEFAULT_ATTEMPTS = 3;
/** How long a worker's claim on a job lasts without renewal (renewed every half of it). */
export const DEFAULT_LOCK_MS = 30_000;
/** How often workers look for jobs whose lock expired (a dead worker's). */
export const DEFAULT_STALLED_MS = 15_000;

interface JobData {
  readonly version: string;
  readonly task: PointTask;
}

/** A redis:// URL, checked (a typo should not become a connection to somewhere else). */
export function queueConnection(url: string): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--queue: "${url}" is not a URL (expected redis://HOST:PORT)`);
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") throw new Error(`--queue: "${url}" is not a redis:// URL`);
  if (u.hostname === "") throw new Error(`--queue: "${url}" has no host`);
  // null: BullMQ's blocking commands must not give up on a slow server.
  return { url, maxRetriesPerRequest: null };
}

export interface QueueEngineOptions {
  readonly url: string;
  readonly name?: string;
  readonly attempts?: number;
}

export class QueueEngine implements PointEngine {
  readonly description: string;
  private readonly queue: Queue<JobData, unknown>;
  private readonly events: QueueEvents;
  private readonly attempts: number;

  constructor(o: QueueEngineOptions) {
    const connection = queueConnection(o.url);
    const name = o.name ?? DEFAULT_QUEUE_NAME;
    this.attempts = o.attempts ?? DEFAULT_ATTEMPTS;
    if (!Number.isInteger(this.attempts) || this.attempts < 1 || this.attempts > 100) throw new RangeError(`--attempts must be a whole number from 1 to 100, got ${o.attempts}`);
    this.queue = new Queue<JobData, unknown>(name, { connection });
    this.events = new QueueEvents(name, { connection });
    // One waiter per point listens on each.
    this.events.setMaxListeners(0);
    this.queue.setMaxListeners(0);
    // Connection errors surface through the awaited calls; without a listener they would also be thrown.
    this.queue.on("error", () => {});
    this.events.on("error", () => {});
    this.description = `queue ${o.url} (${name})`;
  }

  async run<T extends EngineTask>(points: readonly T[], onEnd: (p: T, end: PointEnd) => void, signal?: AbortSignal): Promise<void> {
    await this.events.waitUntilReady();
    const version = mmemuVersion();
    const waits: Array<Promise<void>> = [];
    for (const p of longestFirst(points)) {
      if (signal?.aborted === true) break;
      let job = await this.queue.add("point", { version, task: p.task }, {
        jobId: p.hash,
        attempts: this.attempts,
        backoff: { type: "fixed", delay: 1000 },
        // Finished jobs stay a while (a resumed sweep finds them), then go.
        removeOnComplete: { age: 24 * 3600 },
        removeOnFail: { age: 24 * 3600 },
      });
      // A job of this id that failed in an earlier sweep is tried again, not reported again.
      if ((await job.getState()) === "failed") {
        await job.retry("failed");
        job = (await this.queue.getJob(p.hash)) ?? job;
      }
      waits.push(job.waitUntilFinished(this.events).then(
        (rv: unknown) => {
          const parsed = PointOutcomeSchema.safeParse(rv);
          onEnd(p, parsed.success ? { ok: true, outcome: parsed.data } : { ok: false, error: `worker returned a malformed result: ${parsed.error.issues[0]?.message}` });
        },
        (e: unknown) => onEnd(p, { ok: false, error: (e as Error).message }),
      ));
    }
    await Promise.all(waits);
  }

  async close(): Promise<void> {
    await this.events.close();
    await this.queue.close();
  }
}

export interface QueueWorkerOptions {
  readonly url: string;
  readonly name?: string;
  /** Points run at once (worker threads). @default one per core */
  readonly concurrency?: number;
  readonly lockMs?: number;
  readonly stalledMs?: number;
  readonly log?: (line: string) => void;
}

/** A running `mmemu worker`: `close()` finishes the jobs in hand, then stops. */
export interface QueueWorker {
  readonly done: Promise<void>;
  close(): Promise<void>;
}

export async function startQueueWorker(o: QueueWorkerOptions): Promise<QueueWorker> {
  const connection = queueConnection(o.url);
  const log = o.log ?? (() => {});
  const pool = new PointPool(o.concurrency);
  const lockDuration = o.lockMs ?? DEFAULT_LOCK_MS;
  const stalledInterval = o.stalledMs ?? DEFAULT_STALLED_MS;
  if (!(lockDuration >= 1000) || !(stalledInterval >= 500)) throw new RangeError("--lock-ms must be at least 1000 and --stalled-ms at least 500");
  const version = mmemuVersion();
  const worker = new Worker<JobData, PointOutcome>(o.name ?? DEFAULT_QUEUE_NAME, async (job: Job<JobData>) => {
    if (job.data.version !== version) {
      throw new UnrecoverableError(`this worker runs mmemu ${version}, the sweep was made by ${job.data.version}: run the same build everywhere`);
    }
    return outcomeOf(await pool.run(job.data.task));
  }, {
    connection, concurrency: pool.size, lockDuration, stalledInterval,
    // A point may be caught by two worker deaths before it fails for good.
    maxStalledCount: 2,
  });
  worker.on("error", (e) => log(`worker: ${e.message}`));
  worker.on("active", (job) => log(`running point ${job.id?.slice(0, 12)}`));
  worker.on("failed", (job, e) => log(`point ${job?.id?.slice(0, 12) ?? "?"} failed (attempt ${job?.attemptsMade ?? "?"}): ${e.message}`));
  await worker.waitUntilReady();
  log(`worker ${process.pid}: mmemu ${version}, ${pool.size} thread${pool.size === 1 ? "" : "s"}, queue ${o.name ?? DEFAULT_QUEUE_NAME} on ${o.url}`);
  let closing: Promise<void> | null = null;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  return {
    done,
    close: () => {
      closing ??= (async () => {
        await worker.close();
        await pool.close();
        resolveDone();
      })();
      return closing;
    },
  };
}
