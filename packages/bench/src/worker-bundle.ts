/**
 * The pool's worker as one prebuilt ES module. A worker that loads the emulator's TypeScript through
 * tsx's hooks spends 1-1.5 s resolving and loading ~240 modules before its first point, every pool
 * start, both workers at once; a bundle of the same sources loads in a fraction of that. esbuild
 * builds it (the compiler tsx itself runs), cached on disk and rebuilt when any of its inputs changes:
 * the cache key is a hash of every input's contents, so an edited source, a checked-out branch or an
 * upgraded dependency gives a new bundle, never a stale one.
 *
 * Only points on built-in components run in it: a plug-in imports @mmemu/driver-kit as a source
 * module, whose classes would not be the bundle's copies (PointPool sends such tasks to a worker
 * that loads the sources).
 */
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, type Plugin } from "esbuild";

/** What {@link workerBundle} gives: the bundle's file URL, and whether this call (re)built it. */
export interface WorkerBundle {
  readonly url: string;
  readonly built: boolean;
}

/** The cache's index: the key of the current bundle and the inputs it was built from. */
interface BundleIndex {
  readonly key: string;
  readonly inputs: readonly string[];
}

const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** The default cache, beside the package's dependencies (ignored by git, gone with a clean install). */
export const WORKER_BUNDLE_CACHE = join(PACKAGE_DIR, "node_modules", ".cache", "mmemu-worker");
const WORKER_SOURCE = join(PACKAGE_DIR, "src", "worker.ts");
/** Bundles of other keys older than this are removed (a process still starting its workers may be loading one). */
const PRUNE_AFTER_MS = 10 * 60 * 1000;

/** Hash of the inputs' paths and contents; null when one of them is gone. */
function inputsKey(inputs: readonly string[]): string | null {
  const h = createHash("sha256");
  for (const f of inputs) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(f);
    } catch {
      return null;
    }
    h.update(f).update("\0").update(String(bytes.length)).update("\0").update(bytes);
  }
  return h.digest("hex").slice(0, 24);
}

function readIndex(file: string): BundleIndex | null {
  try {
    const j = JSON.parse(readFileSync(file, "utf8")) as BundleIndex;
    return typeof j.key === "string" && Array.isArray(j.inputs) && j.inputs.every((x) => typeof x === "string") ? j : null;
  } catch {
    return null;
  }
}

/** Write a file whole or not at all: concurrent processes may read the cache while one writes it. */
function writeAtomic(file: string, data: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

/**
 * Each module keeps its own `import.meta.url`: profiles, the package version and plug-in resolution are
 * found relative to the source file, as when the sources are loaded one by one.
 */
const keepMetaUrl: Plugin = {
  name: "keep-import-meta-url",
  setup(b) {
    b.onLoad({ filter: /\.[cm]?ts$/ }, (a) => {
      const src = readFileSync(a.path, "utf8");
      return { contents: src.replaceAll("import.meta.url", JSON.stringify(pathToFileURL(a.path).href)), loader: "ts" };
    });
  },
};

/**
 * The bundle of `entry` in `cacheDir`: the cached one when every input is unchanged, else a new build.
 * Throws when esbuild fails or the cache cannot be written (the pool then loads the sources).
 */
export async function workerBundle(entry: string = WORKER_SOURCE, cacheDir: string = WORKER_BUNDLE_CACHE): Promise<WorkerBundle> {
  const indexFile = join(cacheDir, "index.json");
  const index = readIndex(indexFile);
  if (index !== null && inputsKey(index.inputs) === index.key) {
    const file = join(cacheDir, `worker-${index.key}.mjs`);
    try {
      statSync(file);
      return { url: pathToFileURL(file).href, built: false };
    } catch {
      // The index outlived its bundle: build again.
    }
  }
  const r = await build({
    entryPoints: [entry],
    absWorkingDir: dirname(entry),
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    // Inlines the modules' primitive constants (PAGE_SIZE, ...) where they are used: a bundle
    // hoists every module into one scope as `var`s, which the JIT cannot fold as it folds imported consts.
    minifySyntax: true,
    // CommonJS dependencies inside an ES module still find require() for Node's built-ins.
    banner: { js: 'import { createRequire as __mmemuCreateRequire } from "node:module"; const require = __mmemuCreateRequire(import.meta.url);' },
    plugins: [keepMetaUrl],
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const inputs = Object.keys(r.metafile!.inputs).map((p) => resolve(dirname(entry), p)).sort();
  const key = inputsKey(inputs);
  if (key === null) throw new Error("an input of the worker bundle vanished while it was built");
  mkdirSync(cacheDir, { recursive: true });
  const name = `worker-${key}.mjs`;
  writeAtomic(join(cacheDir, name), r.outputFiles![0]!.text);
  writeAtomic(indexFile, JSON.stringify({ key, inputs } satisfies BundleIndex));
  // Ages are taken against the new bundle's own mtime: no wall clock read.
  const now = statSync(join(cacheDir, name)).mtimeMs;
  for (const f of readdirSync(cacheDir)) {
    if (f === name || !/^worker-[0-9a-f]+\.mjs$/.test(f)) continue;
    try {
      if (now - statSync(join(cacheDir, f)).mtimeMs > PRUNE_AFTER_MS) unlinkSync(join(cacheDir, f));
    } catch {
      // Another process pruned it first.
    }
  }
  return { url: pathToFileURL(join(cacheDir, name)).href, built: true };
}
