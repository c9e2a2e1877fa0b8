/**
 * The distributed engine against a real Redis: a redis-server on the loopback interface on a free
 * port, started and stopped here (the tests are skipped, saying so, only when redis-server is not
 * installed; .ci/run installs it).
 */
import test from "ava";
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Queue, QueueEvents } from "bullmq";
import { BUILTIN_SCHEMA } from "@mmemu/components";
import { loadProfile, withParams } from "@mmemu/timing";
import {
  calibrate, EngineRunner, LocalEngine, parseSweep, PointPool, QueueEngine, recordsJsonl, resolveSweep, runPoint, runSweep, startQueueWorker,
  vanillaLatencySpec, type Measurements, type ResolvedPoint,
} from "../src/index.js";
import { buildQueue } from "../src/sweep/queue.js";
import { haveRedisServer, startLocalRedis, startWorkerProcess, type LocalRedis } from "../src/sweep/local-redis.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const CLI = join(ROOT, "packages/cli/src/main.ts");
const HAVE_REDIS = haveRedisServer();
const qtest = HAVE_REDIS ? test.serial : test.skip;
if (!HAVE_REDIS) console.log("sweep-queue: redis-server is not installed (apt-get install -y redis-server); the queue tests are skipped");

/** Sixteen small points: vanilla, dcbm 1 and 4 channels, mtcopy 4 threads, against the batch limit. */
const SPEC = `
version: 1
name: queue-test
base: { folio_size: 4K, amount: 8MiB }
points:
  - { migrator: vanilla }
  - { migrator: dcbm, channels: 1 }
  - { migrator: dcbm, channels: 4 }
  - { migrator: mtcopy, channels: 4 }
grid:
  batch_pages: [256, 512, 1024, 2048]
figures: [GBps, first_us, virtual_ms, cost, counters]
`;

let redis: LocalRedis | null = null;
let url = "";
const dir = mkdtempSync(join(tmpdir(), "mmemu-queue-"));

test.before(async () => {
  if (!HAVE_REDIS) return;
  redis = await startLocalRedis();
  url = redis.url;
});

test.after.always(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** `mmemu worker` as a child process with short lock and stalled-check times. */
function worker(queueName: string) {
  return startWorkerProcess(url, ["--queue-name", queueName, "--concurrency", "1", "--lock-ms", "2000", "--stalled-ms", "1000"]);
}

qtest("two workers, one killed mid-sweep: every point completes and the records equal a local run's", async (t) => {
  const sweep = parseSweep(SPEC, "queue-test.yaml");
  const points = await resolveSweep(sweep);
  const local = new LocalEngine(1);
  const expected = recordsJsonl((await runSweep(sweep, points, { engine: local, cache: null })).records);
  await local.close();

  const name = "kill-test";
  const a = worker(name);
  const b = worker(name);
  // Kill worker a (SIGKILL: no cleanup, its job's lock is left to expire) as it starts its second point.
  let killedOn = "";
  const watch = setInterval(() => {
    const started = [...a.log().matchAll(/running point ([0-9a-f]{12})/g)];
    if (started.length >= 2 && killedOn === "") {
      killedOn = started[1]![1]!;
      a.child.kill("SIGKILL");
    }
  }, 10);
  const engine = await QueueEngine.open({ url, name });
  try {
    const run = await runSweep(sweep, points, { engine, cache: null });
    t.is(run.failed.length, 0, JSON.stringify(run.failed.map((f) => f.error)));
    t.is(run.ran, 16);
    t.is(recordsJsonl(run.records), expected);
  } finally {
    clearInterval(watch);
    await engine.close();
    b.child.kill("SIGTERM");
    await Promise.all([a.exited, b.exited]);
  }
  t.not(killedOn, "", "worker a was killed holding a point");
  // The point the dead worker held was taken up by the other after its lock expired.
  t.regex(b.log(), new RegExp(`running point ${killedOn}`));
  t.regex(b.log(), /finishing the points in hand/);
});

qtest("a failing point is retried a bounded number of times, then reported; a job from another build is refused at once", async (t) => {
  const name = "fail-test";
  const w = await startQueueWorker({ url, name, concurrency: 1, lockMs: 2000, stalledMs: 1000 });
  const engine = await QueueEngine.open({ url, name, attempts: 2 });
  try {
    const sweep = parseSweep("version: 1\nname: f\nbase: { amount: 4MiB }", "f.yaml");
    const [good] = await resolveSweep(sweep);
    // A task whose profile names a node that does not exist: the worker's validation rejects it.
    const badTask = { ...good!.task, profile: { ...good!.task.profile, topology: { ...good!.task.profile.topology, ptdma: good!.task.profile.topology.ptdma!.map((e) => ({ ...e, node: 9 })) } } };
    const bad: ResolvedPoint = { ...good!, hash: "f".repeat(64), task: badTask as ResolvedPoint["task"] };
    const run = await runSweep(sweep, [good!, bad], { engine, cache: null });
    t.is(run.ran, 1);
    t.is(run.failed.length, 1);
    t.regex(run.failed[0]!.error, /node 9/);
    const q = new Queue(buildQueue(name), { connection: { url } });
    const job = await q.getJob("f".repeat(64));
    t.is(job?.attemptsMade, 2);
    await q.add("point", { version: "0.0.0+src.old", task: good!.task }, { jobId: "old-build", attempts: 3 });
    const old = (await q.getJob("old-build"))!;
    const events = new QueueEvents(buildQueue(name), { connection: { url } });
    await t.throwsAsync(old.waitUntilFinished(events), { message: /this worker runs mmemu .*, the sweep was made by 0\.0\.0\+src\.old: run the same build everywhere/ });
    t.is((await q.getJob("old-build"))?.attemptsMade, 1);
    await events.close();
    await q.close();
  } finally {
    await engine.close();
    await w.close();
  }
});

qtest("mmemu sweep --queue runs the example spec through two workers with the same records as a local run", async (t) => {
  const spec = join(ROOT, "examples/sweeps/batch-vs-channels.yaml");
  const name = "cli-test";
  const run = (args: string[]) => new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const c = spawn(process.execPath, ["--import", "tsx", CLI, "sweep", spec, "--no-cache", "--no-table", ...args], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    c.stderr!.on("data", (d) => (stderr += d));
    c.on("close", (code) => resolve({ code, stderr }));
  });
  const a = worker(name);
  const b = worker(name);
  try {
    const q = await run(["--queue", url, "--queue-name", name, "--out", join(dir, "q.jsonl")]);
    t.is(q.code, 0, q.stderr);
    t.regex(q.stderr, /16 points \(0 distinct from the cache, 16 run, 0 failed, 0 left\) in [\d.]+ s on queue redis:\/\/127\.0\.0\.1:\d+ \(cli-test\)/);
    const l = await run(["--threads", "2", "--out", join(dir, "l.jsonl")]);
    t.is(l.code, 0, l.stderr);
    const { readFileSync } = await import("node:fs");
    t.is(readFileSync(join(dir, "q.jsonl"), "utf8"), readFileSync(join(dir, "l.jsonl"), "utf8"));
    t.true(a.log().includes("running point") && b.log().includes("running point"), "both workers ran points");
  } finally {
    a.child.kill("SIGTERM");
    b.child.kill("SIGTERM");
    await Promise.all([a.exited, b.exited]);
  }
});

qtest("calibrate evaluates its points on queue workers with the same fit as on the local pool", async (t) => {
  const base = loadProfile("zen3-ptdma-base", BUILTIN_SCHEMA);
  const truth = withParams(base, { "cpu.lru_cache_disable": 81_000 });
  const row = (fs: "4K" | "2M", n: number) => {
    const r = runPoint(truth, vanillaLatencySpec(fs, n));
    return { n, GBps: r.GBps, first_us: r.firstUs };
  };
  const ms = { tables: { first_folio_latency_vanilla: { order0_4K: [row("4K", 1), row("4K", 16)], order9_2M: [row("2M", 1)] } } } as Measurements;
  const fit = (pool: ConstructorParameters<typeof EngineRunner>[0] | PointPool) =>
    calibrate({ base, measurements: ms, pool: pool instanceof PointPool ? pool : new EngineRunner(pool), configs: new Set(["vanilla"]), free: ["cpu.lru_cache_disable"], maxEvals: 12 });
  const local = new PointPool(1);
  const expected = await fit(local);
  await local.close();
  const name = "calibrate-test";
  const a = worker(name);
  const b = worker(name);
  const engine = await QueueEngine.open({ url, name });
  try {
    const got = await fit(engine);
    t.is(got.profile.params.cpu.lru_cache_disable, expected.profile.params.cpu.lru_cache_disable);
    t.is(got.objective, expected.objective);
    t.is(got.evaluations, expected.evaluations);
  } finally {
    await engine.close();
    a.child.kill("SIGTERM");
    b.child.kill("SIGTERM");
    await Promise.all([a.exited, b.exited]);
  }
});

qtest("a process that exits without stopping its Redis and worker takes them with it", async (t) => {
  // A child that starts both, reports their pids and exits as a test runner's timeout makes it exit.
  const script = `
    import { startLocalRedis, startWorkerProcess } from ${JSON.stringify(join(ROOT, "packages/bench/src/sweep/local-redis.ts"))};
    const redis = await startLocalRedis();
    const w = startWorkerProcess(redis.url, ["--queue-name", "reap-test"]);
    await w.ready;
    console.log(JSON.stringify({ url: redis.url, worker: w.child.pid }));
    process.exit(0);
  `;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  await new Promise<void>((r) => child.once("exit", () => r()));
  const { url, worker } = JSON.parse(out.trim()) as { url: string; worker: number };
  const port = Number(new URL(url).port);
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const accepts = () => new Promise<boolean>((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => { s.destroy(); resolve(true); });
    s.once("error", () => resolve(false));
  });
  // SIGKILL is immediate; give the kernel a moment to tear the processes down.
  for (let i = 0; i < 50 && (alive(worker) || (await accepts())); i++) await new Promise((r) => setTimeout(r, 100));
  t.false(alive(worker), "the worker outlived its parent");
  t.false(await accepts(), "redis-server outlived its parent");
});
