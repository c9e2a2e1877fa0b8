/**
 * A point's identity: the SHA-256 of everything its result depends on — the resolved profile (after
 * `set` parameters and the engine choice), the point's workload, and the mmemu build that runs it
 * (package version plus a digest of the emulator's sources, so a changed model never reuses old
 * results). The same hash names the point's cache file and its job on a queue.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { BENCH_VERSION } from "../seed.js";

const REPO_ROOT = fileURLToPath(new URL("../../../../", import.meta.url));

/** Every file under each package's src/ (the code a point runs), sorted by path. */
function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name === "node_modules" || e.name.startsWith(".")) continue;
      const p = join(dir, e.name);
      if (!e.isDirectory()) continue;
      if (e.name === "src") collect(p);
      else if (depth < 2) walk(p, depth + 1);
    }
  };
  const collect = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) collect(p);
      else out.push(p);
    }
  };
  walk(join(REPO_ROOT, "packages"), 0);
  return out.sort();
}

let version: string | null = null;

/** "0.1.0+src.1a2b3c4d5e6f": the package version and a digest of the sources (computed once). */
export function mmemuVersion(): string {
  if (version === null) {
    const h = createHash("sha256");
    for (const f of sourceFiles()) h.update(relative(REPO_ROOT, f)).update("\0").update(readFileSync(f)).update("\0");
    version = `${BENCH_VERSION}+src.${h.digest("hex").slice(0, 12)}`;
  }
  return version;
}

/** JSON with object keys sorted at every level (the hashed form; undefined members left out). */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(",")}}`;
}

export function sha256(text: string | Buffer): string {
  return createHash("sha256").update(text).digest("hex");
}
