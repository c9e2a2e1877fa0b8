/**
 * 1 GiB of 4 KiB pages through move_pages(2) with dcbm on AE4DMA (16 channels), data checked page by
 * page. Prints the outcome and the virtual-time throughput.
 *
 *   npx tsx test/ae4dma-1g.ts [MiB] [batch pages]
 */
import { moveThroughAe4 } from "./ae4dma-move-pages.js";

const mib = Number(process.argv[2] ?? 1024);
const batch = Number(process.argv[3] ?? 512);
if (!Number.isInteger(mib) || mib < 1 || mib > 1024 || !Number.isInteger(batch) || batch < 1 || batch > 262144) {
  throw new RangeError(`usage: ae4dma-1g.ts [MiB 1..1024] [batch pages 1..262144], got ${process.argv.slice(2).join(" ")}`);
}
const w0 = performance.now();
const r = moveThroughAe4(mib * 2 ** 20, batch);
const wall = performance.now() - w0;
console.log(`${mib} MiB in ${r.folios} folios, batch ${batch} pages: move_pages returned ${r.rc}; ${r.notMoved} not on node 1; ${r.corrupted} corrupted`);
console.log(`${r.descriptors} AE4DMA descriptors; CPU fallbacks ${JSON.stringify(r.fallback)}; ${(r.folios * 4096 / r.virtualNs).toFixed(2)} GB/s virtual (${(r.virtualNs / 1e6).toFixed(2)} ms); ${(wall / 1000).toFixed(1)} s wall`);
if (r.rc !== 0 || r.notMoved > 0 || r.corrupted > 0) process.exitCode = 1;
