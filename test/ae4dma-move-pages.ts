/**
 * dcbm over AE4DMA through move_pages(2): a process with `bytes` of anonymous 4 KiB pages on node 0,
 * each page filled with its own pattern, moves them to node 1 in one call (the bench harness's
 * workload, on a profile whose PTDMA and SDXI functions are removed and one AE4DMA function with 16
 * queues per node probed instead); dcbm uses 16 channels. Returns the outcome and the data check.
 */
import { BUILTIN_SCHEMA } from "@mmemu/components";
import { deriveProfile, loadProfile } from "@mmemu/timing";
import { movePages, preparePoint, readStatus } from "@mmemu/bench";
import { patternDigest } from "@mmemu/mm-core";
import { migrateOffloadOf } from "@mmemu/offload-api";
import { createAe4dmaEngines } from "@mmemu/ae4dma";

export interface Ae4MoveResult {
  readonly folios: number;
  readonly rc: number;
  /** Pages whose status is not node 1. */
  readonly notMoved: number;
  /** Pages whose contents differ from their pattern after the move. */
  readonly corrupted: number;
  readonly virtualNs: number;
  readonly descriptors: number;
  readonly fallback: Readonly<Record<string, number>>;
}

const pattern = (i: number) => (Math.imul(i + 1, 2654435761) ^ 0x5a5a5a5a) >>> 0 || 1;

export function moveThroughAe4(bytes: number, batchPages = 512): Ae4MoveResult {
  const base = loadProfile("zen3-ptdma-base", BUILTIN_SCHEMA);
  const profile = deriveProfile(base, (d) => {
    d.topology.ptdma = [];
    d.topology.sdxi = [];
  });
  const pp = preparePoint(profile, { config: "dcbm", channels: 16, folioSize: "4K", totalBytes: bytes, batchPages });
  const { m, em } = pp;
  const ae4 = createAe4dmaEngines({ core: m.core, engine: em.dmaengine!, fabric: em.fabric, nodes: [0, 1] });
  for (let i = 0; i < pp.nrFolios; i++) m.mem.fillPages(m.memory.translate(pp.mm, pp.addr + i * 4096), 1, pattern(i));
  const t0 = m.sim.now;
  const rc = movePages(pp, 0, pp.nrFolios);
  const virtualNs = m.sim.now - t0;
  const status = readStatus(pp, 0, pp.nrFolios);
  let notMoved = 0;
  let corrupted = 0;
  for (let i = 0; i < pp.nrFolios; i++) {
    if (status[i] !== 1) notMoved++;
    const pfn = m.memory.translate(pp.mm, pp.addr + i * 4096);
    if (pfn < 0 || m.mem.digest(pfn) !== patternDigest(pattern(i))) corrupted++;
  }
  const descriptors = ae4.reduce((a, e) => a + e.hw.stats.descriptors, 0);
  return { folios: pp.nrFolios, rc, notMoved, corrupted, virtualNs, descriptors, fallback: { ...migrateOffloadOf(m)!.stats.fallbackFolios } };
}
