/**
 * The distributed engine: points as BullMQ jobs on Redis. `mmemu sweep SPEC --queue redis://HOST:PORT`
 * adds one job per point (job id = the point's hash, so a point already queued or finished by an
 * earlier run is not added twice) and waits for each; `mmemu worker --queue ...` on any number of
 * machines runs them on a local worker pool. Each build of mmemu has its own queue under the name
 * (buildQueue), so workers of another build never take a sweep's points.
 *
 * Failure handling (docs/sweeps.md): a point that throws is retried `attempts` times in all, then
 * reported as failed. A worker that dies holding jobs stops renewing their locks; when a lock expires
 * (lockDuration) another worker's stalled-job check (every stalledInterval) puts the job back in the
 * queue, so no point is lost. The points run on worker threads, so a long point never blocks the
 * process's lock renewals. A job carrying another build's version (only possible by hand) is refused
 * without retries: its results would not be the same.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import type { ConnectionOptions, Job, Queue, QueueEvents } from "bullmq";
import { PointPool } from "../pool.js";
import type { PointTask } from "../worker.js";
import { outcomeOf, PointOutcomeSchema, type PointOutcome } from "./cache.js";
import { longestFirst, type EngineTask, type PointEnd, type PointEngine } from "./engine.js";
import { mmemuVersion, sha256 } from "./identity.js";
import { pluginDigests } from "./resolve.js";

/**
 * bullmq (and ioredis under it) is loaded when a queue is first used: most commands never touch one,
 * and loading it would add ~0.4 s to every start of the command line.
 */
function bullmq(): Promise<typeof import("bullmq")> {
  return import("bullmq");
}

/** The queue points go to unless told otherwise (one queue serves every sweep: jobs are points). */
export const DEFAULT_QUEUE_NAME = "mmemu-points";
/**
 * The Redis queue behind a queue name: one per mmemu build, so a worker only ever sees points its own
 * build made (a worker of another build is simply not a worker of this queue; a sweep with none says so).
 */
export function buildQueue(name: string): string {
  return `${name}-${mmemuVersion().replace(/[^A-Za-z0-9.]/g, "-")}`;
}

/** Runs of a point before it is reported failed. */
export const DEFAULT_ATTEMPTS = 3;
/** How long a worker's claim on a job lasts without renewal (renewed every half of it). */
export const DEFAULT_LOCK_MS = 30_000;
/** How often workers look for jobs whose lock expired (a dead worker's). */
export const DEFAULT_STALLED_MS = 15_000;

interface JobData {
  readonly version: string;
  readonly task: PointTask;
  /** SHA-256 of each plug-in file the task loads, by absolute path: a worker checks its copy is the same. */
  readonly plugins: Readonly<Record<string, string>>;
}

/** How long to wait for the Redis server at start before saying it cannot be reached. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** How often a waiting sweep checks that some worker is connected (and says so once if none is). */
const NO_WORKER_CHECK_MS = 15_000;

/**
 * A BullMQ client's connection errors: remembered (for the message if it never connects) and, once it
 * has connected, passed to `log` (the client retries on its own; without a listener they would be
 * printed as stack traces).
 */
class ConnectionWatch {
  last = "";
  up = false;

  constructor(client: { on(ev: "error", f: (e: Error) => void): unknown }, log: (line: string) => void) {
    client.on("error", (e: Error) => {
      this.last = (e as NodeJS.ErrnoException).code ?? e.message;
      if (this.up) log(`redis: ${e.message}`);
    });
  }

  /** Wait until connected, or fail with one line naming the URL and the last error. */
  async ready(client: { waitUntilReady(): Promise<unknown> }, url: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`--queue ${url}: no Redis server answered within ${CONNECT_TIMEOUT_MS / 1000} s${this.last !== "" ? ` (${this.last})` : ""}`)), CONNECT_TIMEOUT_MS);
    });
    try {
      await Promise.race([client.waitUntilReady(), timeout]);
      this.up = true;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Close a client, giving up after a few seconds (a client that never connected may not close cleanly). */
async function closeSoon(close: () => Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([close().catch(() => {}), new Promise<void>((r) => (timer = setTimeout(r, 3000)))]);
  clearTimeout(timer);
}

/**
 * Connection options for a redis:// URL, checked (a typo should not become a connection to somewhere
 * else). The client reconnects after a lost connection (up to 2 s apart) until `stop.closed` is set:
 * a client that never connected would otherwise keep retrying, and the process alive, after close.
 */
export function queueConnection(url: string, stop: { closed: boolean } = { closed: false }): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--queue: "${url}" is not a URL (expected redis://HOST:PORT)`);
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") throw new Error(`--queue: "${url}" is not a redis:// URL`);
  if (u.hostname === "") throw new Error(`--queue: "${url}" has no host`);
  // null: BullMQ's blocking commands must not give up on a slow server.
  return { url, maxRetriesPerRequest: null, retryStrategy: (times: number) => (stop.closed ? null : Math.min(100 * times, 2000)) };
}

export interface QueueEngineOptions {
  readonly url: string;
  readonly name?: string;
  readonly attempts?: number;
  /** Notices while waiting (no worker connected). @default stderr */
  readonly log?: (line: string) => void;
}

export class QueueEngine implements PointEngine {
  readonly description: string;
  private readonly queue: Queue<JobData, unknown>;
  private readonly events: QueueEvents;
  private readonly attempts: number;
  private readonly url: string;
  private readonly name: string;
  private readonly log: (line: string) => void;
  private readonly queueWatch: ConnectionWatch;
  private readonly eventsWatch: ConnectionWatch;
  private readonly stop = { closed: false };

  /** Load bullmq and make the engine (it connects at its first run(), which reports a server that does not answer). */
  static async open(o: QueueEngineOptions): Promise<QueueEngine> {
    return new QueueEngine(o, await bullmq());
  }

  private constructor(o: QueueEngineOptions, { Queue, QueueEvents }: typeof import("bullmq")) {
    const connection = queueConnection(o.url, this.stop);
    const name = o.name ?? DEFAULT_QUEUE_NAME;
    this.url = o.url;
    this.name = name;
    this.log = o.log ?? ((l) => process.stderr.write(`${l}\n`));
    this.attempts = o.attempts ?? DEFAULT_ATTEMPTS;
    if (!Number.isInteger(this.attempts) || this.attempts < 1 || this.attempts > 100) throw new RangeError(`--attempts must be a whole number from 1 to 100, got ${o.attempts}`);
    this.queue = new Queue<JobData, unknown>(buildQueue(name), { connection });
    this.events = new QueueEvents(buildQueue(name), { connection, autorun: false });
    this.queueWatch = new ConnectionWatch(this.queue, this.log);
    this.eventsWatch = new ConnectionWatch(this.events, this.log);
    // One waiter per point listens on each.
    this.events.setMaxListeners(0);
    this.queue.setMaxListeners(0);
    this.description = `queue ${o.url} (${name})`;
  }

  async run<T extends EngineTask>(points: readonly T[], onEnd: (p: T, end: PointEnd) => void, signal?: AbortSignal): Promise<void> {
    if (!this.queueWatch.up) {
      await this.queueWatch.ready(this.queue, this.url);
      // Started here, once (calibrate runs many batches on one engine), so close() can tell if it connected.
      this.events.run().catch((e: Error) => this.log(`queue events: ${e.message}`));
      await this.eventsWatch.ready(this.events, this.url);
    }
    const version = mmemuVersion();
    const waits: Array<Promise<void>> = [];
    // Points wait for workers; say so (once) if none is connected.
    let warned = false;
    const check = setInterval(() => {
      void this.queue.getWorkersCount().then((n) => {
        if (n === 0 && !warned) {
          warned = true;
          this.log(`no worker of this build (mmemu ${mmemuVersion()}) is taking points from queue ${this.name}: start some with mmemu worker --queue ${this.url}${this.name !== DEFAULT_QUEUE_NAME ? ` --queue-name ${this.name}` : ""} from the same checkout`);
        }
      }, () => {});
    }, NO_WORKER_CHECK_MS);
    try {
      for (const p of longestFirst(points)) {
        if (signal?.aborted === true) break;
        waits.push(this.submit(p, version, onEnd));
      }
      // Stopped (Ctrl-C): stop waiting. The points already queued still run on the workers and stay
      // in Redis, so the next run of the sweep collects them instead of queueing them again.
      const stopped = new Promise<void>((resolve) => signal?.addEventListener("abort", () => resolve(), { once: true }));
      await Promise.race([Promise.all(waits), stopped]);
    } finally {
      clearInterval(check);
    }
  }

  /** Queue one point (or find it queued or finished already) and report its end. */
  private async submit<T extends EngineTask>(p: T, version: string, onEnd: (p: T, end: PointEnd) => void): Promise<void> {
    let job = await this.queue.add("point", { version, task: p.task, plugins: pluginDigests(p.task.components) }, {
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
    let end: PointEnd;
    try {
      const parsed = PointOutcomeSchema.safeParse(await job.waitUntilFinished(this.events));
      end = parsed.success ? { ok: true, outcome: parsed.data } : { ok: false, error: `worker returned a malformed result: ${parsed.error.issues[0]?.message}` };
    } catch (e) {
      end = { ok: false, error: (e as Error).message };
    }
    onEnd(p, end);
  }

  async close(): Promise<void> {
    this.stop.closed = true;
    // A client that never connected is disconnected (close would wait for it to connect).
    await closeSoon(() => (this.eventsWatch.up ? this.events.close() : this.events.disconnect()));
    await closeSoon(() => (this.queueWatch.up ? this.queue.close() : this.queue.disconnect()));
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
  const stop = { closed: false };
  const connection = queueConnection(o.url, stop);
  const log = o.log ?? (() => {});
  const pool = new PointPool(o.concurrency);
  const lockDuration = o.lockMs ?? DEFAULT_LOCK_MS;
  const stalledInterval = o.stalledMs ?? DEFAULT_STALLED_MS;
  if (!(lockDuration >= 1000) || !(stalledInterval >= 500)) throw new RangeError("--lock-ms must be at least 1000 and --stalled-ms at least 500");
  const version = mmemuVersion();
  const { UnrecoverableError, Worker } = await bullmq();
  const worker = new Worker<JobData, PointOutcome>(buildQueue(o.name ?? DEFAULT_QUEUE_NAME), async (job: Job<JobData>) => {
    if (job.data.version !== version) {
      throw new UnrecoverableError(`this worker runs mmemu ${version}, the sweep was made by ${job.data.version}: run the same build everywhere`);
    }
    // Plug-ins are loaded from the same absolute path on every machine; it must hold the same file.
    for (const [file, digest] of Object.entries(job.data.plugins ?? {})) {
      let mine: string;
      try {
        mine = sha256(readFileSync(file));
      } catch {
        throw new UnrecoverableError(`plug-in ${file} is not on this worker's machine (${hostname()}): put the same file at the same path on every worker`);
      }
      if (mine !== digest) throw new UnrecoverableError(`plug-in ${file} on this worker's machine (${hostname()}) differs from the sweep's: put the same file on every worker`);
    }
    return outcomeOf(await pool.run(job.data.task));
  }, {
    connection, concurrency: pool.size, lockDuration, stalledInterval,
    // A point may be caught by two worker deaths before it fails for good.
    maxStalledCount: 2,
  });
  // Connection trouble after the start is retried by the client; it is logged, not fatal.
  const watch = new ConnectionWatch(worker, log);
  worker.on("active", (job) => log(`running point ${job.id?.slice(0, 12)}`));
  worker.on("failed", (job, e) => log(`point ${job?.id?.slice(0, 12) ?? "?"} failed (attempt ${job?.attemptsMade ?? "?"}): ${e.message}`));
  try {
    await watch.ready(worker, o.url);
  } catch (e) {
    stop.closed = true;
    await closeSoon(() => worker.close(true));
    await pool.close();
    throw e;
  }
  log(`worker ${process.pid}: mmemu ${version}, ${pool.size} thread${pool.size === 1 ? "" : "s"}, queue ${o.name ?? DEFAULT_QUEUE_NAME} on ${o.url}`);
  let closing: Promise<void> | null = null;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  return {
    done,
    close: () => {
      closing ??= (async () => {
        await worker.close();
        stop.closed = true;
        await pool.close();
        resolveDone();
      })();
      return closing;
    },
  };
}
