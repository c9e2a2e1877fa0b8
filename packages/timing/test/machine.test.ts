import test from "ava";
import { createMachine, loadProfile, NODE_ALIGN_PAGES } from "../src/index.js";

test("nodes start on a 4 MiB boundary whatever size is asked, so 2 MiB folios are 2 MiB aligned physically", (t) => {
  const em = createMachine(loadProfile("zen3-ptdma-base"), { pagesPerNode: 10_241, dma: false });
  for (const n of em.m.mem.nodes) {
    t.is(n.startPfn % NODE_ALIGN_PAGES, 0, `node ${n.id}`);
    t.true(n.nrPages >= 10_241);
  }
});
