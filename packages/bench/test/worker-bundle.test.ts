import test from "ava";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { BUILTIN_COMPONENTS, loadComponents } from "@mmemu/components";
import { loadProfile, profileToFile } from "@mmemu/timing";
import { PointPool, runPoint, type PointSpec } from "../src/index.js";
import { workerBundle } from "../src/worker-bundle.js";

test("the worker bundle is rebuilt exactly when an input changes, and each module keeps its own import.meta.url", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "mmemu-bundle-"));
  const cache = join(dir, "cache");
  const dep = join(dir, "dep.ts");
  const entry = join(dir, "entry.ts");
  writeFileSync(dep, 'export const VALUE: number = 1;\nexport const DEP_URL: string = import.meta.url;\n');
  writeFileSync(entry, 'export { VALUE, DEP_URL } from "./dep.ts";\nexport const ENTRY_URL: string = import.meta.url;\n');
  const first = await workerBundle(entry, cache);
  t.true(first.built);
  const m1 = await import(first.url);
  t.is(m1.VALUE, 1);
  t.is(m1.DEP_URL, pathToFileURL(dep).href);
  t.is(m1.ENTRY_URL, pathToFileURL(entry).href);

  const again = await workerBundle(entry, cache);
  t.deepEqual(again, { url: first.url, built: false }, "unchanged inputs reuse the bundle");

  writeFileSync(dep, 'export const VALUE: number = 2;\nexport const DEP_URL: string = import.meta.url;\n');
  const changed = await workerBundle(entry, cache);
  t.true(changed.built, "an edited input rebuilds");
  t.not(changed.url, first.url);
  t.is((await import(changed.url)).VALUE, 2);
  // The previous bundle stays while a process that just started may still be loading it.
  t.is(readdirSync(cache).filter((f) => f.endsWith(".mjs")).length, 2);
});

test("a bad source is refused by the build (the pool then falls back to the sources)", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "mmemu-bundle-"));
  const entry = join(dir, "entry.ts");
  writeFileSync(entry, 'import { X } from "./missing.ts";\nexport default X;\n');
  await t.throwsAsync(workerBundle(entry, join(dir, "cache")), { message: /missing\.ts/ });
});

test("a pool runs built-in points in the bundle with the sources' results, and plug-in points in workers that load the sources", async (t) => {
  const profile = loadProfile("zen3-ptdma", BUILTIN_COMPONENTS.schema);
  const spec: PointSpec = { config: "dcbm", channels: 4, folioSize: "64K", totalBytes: 16 << 20, batchPages: 512 };
  const plugin = new URL("../../../examples/plugins/bigbatch.ts", import.meta.url).pathname;
  const withPlugin = await loadComponents({ migrator: plugin });
  const pool = new PointPool(1);
  try {
    t.true(await pool.runsBundle());
    const opts = { seed: 7 };
    const [bundled, fromPlugin] = await Promise.all([
      pool.run({ profile: profileToFile(profile), spec, opts, components: {} }),
      pool.run({ profile: profileToFile(loadProfile("zen3-ptdma", withPlugin.schema)), spec, opts, components: withPlugin.selection }),
    ]);
    const local = runPoint(profile, spec, opts);
    // Everything but the host's wall time and memory.
    const { wallMs: _w, peakRssMB: _r, ...same } = bundled;
    const { wallMs: _l, ...expected } = local;
    t.deepEqual(same, expected);
    const localPlugin = runPoint(loadProfile("zen3-ptdma", withPlugin.schema), spec, opts, withPlugin);
    t.is(fromPlugin.virtualNs, localPlugin.virtualNs);
    t.not(fromPlugin.virtualNs, local.virtualNs, "the plug-in migrator ran, not dcbm");
    const forPlugin = new PointPool(1, withPlugin);
    t.false(await forPlugin.runsBundle(), "a pool made for a plug-in loads the sources");
    await forPlugin.close();
  } finally {
    await pool.close();
  }
});
