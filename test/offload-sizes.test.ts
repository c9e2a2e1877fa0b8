import test from "ava";
import { MR, PAGE_SIZE, lastMigrateStats } from "@mmemu/mm-core";
import { Dcbm } from "@mmemu/dcbm";
import { corruptPages, foliosOf, migrateRange, movePagesRange, pagesOffNode, anon, scenario } from "./scenario.js";

/**
 * Issue 4's end-to-end check: folios of every size move with 1, 4 and 16 PTDMA channels through
 * move_pages(2) and through migrate_pages(MR_SYSCALL) directly, with dcbm copying every batch, the
 * data verified page by page, the folio sizes kept, and dcbm's counters exact.
 */
const SIZES = [
  { name: "4K", order: 0 },
  { name: "16K", order: 2 },
  { name: "64K", order: 4 },
  { name: "256K", order: 6 },
  { name: "1M", order: 8 },
  { name: "2M PMD THP", order: 9 },
];
const BYTES = 4 << 20;

for (const via of ["move_pages", "migrate_pages"] as const) for (const size of SIZES) {
  for (const channels of [1, 4, 16]) {
    test(`${via}: ${size.name} folios, ${channels} channel${channels > 1 ? "s" : ""}: 4 MiB move through dcbm intact`, (t) => {
      const s = scenario();
      const m = s.em.m;
      if (size.order > 0) m.memory.anonThp[size.order] = "always";
      const dcbm = new Dcbm(m, s.em.dmaengine!);
      t.is(dcbm.setNrDmaChan(channels), 0);
      t.is(dcbm.setOffloading(true), 0);
      const addr = anon(s, BYTES);
      const before = foliosOf(s, addr, BYTES);
      t.is(before.length, BYTES / (PAGE_SIZE << size.order), "the range is made of folios of this size");
      for (const f of before) t.is(m.folios.order[f], size.order);
      const batches: number[] = [];
      const off = m.core.trace.on("dcbm_batch_begin", (r) => batches.push(r.fields["nr_chan"] as number));
      const t0 = m.sim.now;
      if (via === "move_pages") {
        const { ret, status } = movePagesRange(s, addr, BYTES, 1);
        t.is(ret, 0);
        t.deepEqual([...new Set(status)], [1], "every entry's status is the target node");
      } else {
        t.is(migrateRange(s, addr, BYTES, 1, undefined, MR.SYSCALL), 0);
      }
      off();
      t.true(m.sim.now > t0, "the copy took virtual time");
      t.is(corruptPages(s, addr, BYTES), 0, "every page's contents arrived");
      t.is(pagesOffNode(s, addr, BYTES, 1), 0, "every page is on node 1");
      const after = foliosOf(s, addr, BYTES);
      t.is(after.length, before.length);
      for (const f of after) t.is(m.folios.order[f], size.order, "folio size kept");
      t.is(dcbm.foliosMigrated, before.length, "folios_migrated counts every folio");
      t.is(dcbm.foliosFailures, 0);
      t.is(lastMigrateStats(m)!.nr_succeeded, BYTES / PAGE_SIZE);
      // Each batch uses min(nr_dma_chan, folios in the batch) channels; a batch holds 512 base pages.
      const perBatch = Math.min(512 >> size.order, before.length);
      t.deepEqual([...new Set(batches)], [Math.min(channels, perBatch)]);
      t.is(s.checker.movesVerified, before.length, "the checker compared every destination with its source");
      t.deepEqual(s.checker.checkQuiescent(), []);
    });
  }
}
