/**
 * A throw-away Redis and `mmemu worker` processes on this machine: the queue tests and `bench speed`
 * (queue points/s) use them. The server listens on the loopback interface only, on a free port, keeps
 * nothing on disk, and is stopped by `stop()`.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The bench commands' own entry (the same worker command `mmemu worker` is). */
const BENCH_MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));

/**
 * Children still running: killed when this process exits, however it exits through node (a test
 * runner's timeout ends the process with process.exit), so no server or worker outlives it.
 */
const live = new Set<ChildProcess>();
let reaperInstalled = false;

function track(child: ChildProcess): void {
  live.add(child);
  child.once("exit", () => live.delete(child));
  if (!reaperInstalled) {
    reaperInstalled = true;
    process.once("exit", () => {
      for (const c of live) c.kill("SIGKILL");
    });
  }
}

/** Whether `redis-server` can be started here. */
export function haveRedisServer(): boolean {
  return spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface LocalRedis {
  readonly url: string;
  stop(): Promise<void>;
}

/** Start redis-server on 127.0.0.1 on a free port; resolves when it accepts connections. */
export async function startLocalRedis(): Promise<LocalRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "mmemu-redis-"));
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], { stdio: ["ignore", "pipe", "pipe"] });
  track(child);
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += d;
      if (out.includes("Ready to accept connections")) resolve();
    });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`redis-server exited (${code}): ${out.trim().split("\n").pop()}`)));
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A `mmemu worker` child process (node itself, so signals reach the worker); `log` collects its stderr. */
export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly log: () => string;
  /** Resolves when the worker is connected and taking points. */
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
}

export function startWorkerProcess(url: string, args: readonly string[] = []): WorkerProcess {
  const child = spawn(process.execPath, ["--import", "tsx", BENCH_MAIN, "worker", "--queue", url, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  track(child);
  let log = "";
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr!.on("data", (d) => {
      log += d;
      if (/^worker \d+: mmemu /m.test(log)) resolve();
    });
    void exited.then(() => reject(new Error(`mmemu worker exited: ${log.trim()}`)));
  });
  ready.catch(() => {});
  return { child, log: () => log, ready, exited };
}
