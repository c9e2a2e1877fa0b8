import test from "ava";
import { Mtcopy } from "@mmemu/mtcopy";
import { anon, corruptPages, movePagesRange, pagesOffNode, scenario } from "./scenario.js";

/** mtcopy on the zen3-ptdma machine: workers' copies share the profile's fabric, move_pages(2) drives them. */
for (const [name, order] of [["4K", 0], ["64K", 4], ["2M", 9]] as const) {
  test(`move_pages with CPU_MT_COPY, 8 threads: ${name} folios arrive intact and overlapping workers beat one`, (t) => {
    const time = (threads: number) => {
      const s = scenario();
      const m = s.em.m;
      if (order > 0) m.memory.anonThp[order] = "always";
      const mt = new Mtcopy(m, { fabric: s.em.fabric });
      t.is(mt.setThreads(threads), 0);
      t.is(mt.setOffloading(true), 0);
      const bytes = 4 << 20;
      const addr = anon(s, bytes);
      const copyNs: number[] = [];
      const off = m.core.trace.on("mtcopy_batch", (r) => copyNs.push(r.fields["ns"] as number));
      const { ret } = movePagesRange(s, addr, bytes, 1);
      off();
      t.is(ret, 0);
      t.is(corruptPages(s, addr, bytes), 0);
      t.is(pagesOffNode(s, addr, bytes, 1), 0);
      t.deepEqual(s.checker.checkQuiescent(), []);
      t.is(mt.stats.workItems, copyNs.length * threads);
      return copyNs.reduce((a, b) => a + b, 0);
    };
    const one = time(1);
    const eight = time(8);
    t.true(eight < one / 2, `copy time 1 thread ${one} ns, 8 threads ${eight} ns`);
  });
}
