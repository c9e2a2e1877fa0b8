import test from "ava";
import { Fabric } from "@mmemu/platform";
import { InvariantChecker, Machine, MIGRATE_SYNC, PAGE_SIZE } from "@mmemu/mm-core";
import { DmaEngine, DmaengineDebug } from "@mmemu/dmaengine";
import { migrateOffloadInit, migrateOffloadOf } from "@mmemu/offload-api";
import { Dcbm } from "@mmemu/dcbm";
import { intact, mapAnon, migrateRange, onNode } from "@mmemu/test-support";
import { createAe4dmaEngines } from "@mmemu/ae4dma";
import { moveThroughAe4 } from "./ae4dma-move-pages.js";

/** dcbm over AE4DMA: one function's 16 queues are 16 private channels for dma_request_chan_by_mask(). */
function machine() {
  const pages = 1 << 13;
  const m = new Machine({ nodes: [{ id: 0, pages, cpus: 4 }, { id: 1, pages, cpus: 4 }] });
  migrateOffloadInit(m);
  const dma = new DmaEngine({ core: m.core, mem: m.mem });
  const fabric = new Fabric(m.core, { nodes: [{ id: 0, socket: 0 }, { id: 1, socket: 1 }] });
  const ae4 = createAe4dmaEngines({ core: m.core, engine: dma, fabric, nodes: [0] });
  const mm = m.createMm();
  m.current = m.createTask(mm, 0);
  return { m, mm, dma, ae4 };
}

function dcbmOn(m: Machine, dma: DmaEngine, channels: number): Dcbm {
  const d = new Dcbm(m, dma);
  if (d.setNrDmaChan(channels) !== 0 || d.setOffloading(true) !== 0) throw new Error("dcbm did not load");
  return d;
}

test("dcbm over AE4DMA moves folios through move_pages-style migration with data intact and no driver rule broken", (t) => {
  const { m, mm, dma, ae4 } = machine();
  const checker = new InvariantChecker(m);
  new DmaengineDebug(dma, checker);
  const dcbm = dcbmOn(m, dma, 16);
  const c = { m, mm };
  const addr = mapAnon(c, 2048 * PAGE_SIZE);
  t.is(migrateRange(c, addr, 2048 * PAGE_SIZE, 1, MIGRATE_SYNC), 0);
  t.true(onNode(c, addr, 2048 * PAGE_SIZE, 1));
  t.true(intact(c, addr, 2048 * PAGE_SIZE));
  t.is(dcbm.foliosMigrated, 2048);
  t.deepEqual(migrateOffloadOf(m)!.stats.fallbackFolios, {});
  t.deepEqual(checker.violations, []);
  t.true(ae4[0]!.hw.stats.maxQueued > 1);
  t.deepEqual(checker.checkQuiescent(), []);
});

test("move_pages with dcbm on AE4DMA (8 MiB here; test/ae4dma-1g.ts runs 1 GiB): every page moved and intact", (t) => {
  const r = moveThroughAe4(8 << 20);
  t.is(r.rc, 0);
  t.is(r.notMoved, 0);
  t.is(r.corrupted, 0);
  t.is(r.descriptors, 2048, "one descriptor per 4 KiB folio, all on AE4DMA");
  t.deepEqual(r.fallback, {});
});
