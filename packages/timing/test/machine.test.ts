import test from "ava";
import { createMachine, deriveProfile, NODE_ALIGN_PAGES, profileToFile, resolveProfile, withParams } from "../src/index.js";
import { load, schema } from "./schema.js";

test("nodes start on a 4 MiB boundary whatever size is asked, so 2 MiB folios are 2 MiB aligned physically", (t) => {
  const em = createMachine(load("zen3-ptdma-base"), { pagesPerNode: 10_241, dma: false });
  for (const n of em.m.mem.nodes) {
    t.is(n.startPfn % NODE_ALIGN_PAGES, 0, `node ${n.id}`);
    t.true(n.nrPages >= 10_241);
  }
});

test("a profile with SDXI functions probes them after the PTDMA engines, with its contexts per function and its SDXI timing", (t) => {
  const base = load("example-sdxi");
  const em = createMachine(base, { pagesPerNode: 4096 });
  t.is(em.ptdma.length, 0);
  t.deepEqual(em.sdxi.map((e) => e.fn.dev.numaNode), [0, 0, 1, 1]);
  t.deepEqual(em.dmaengine!.devices.map((d) => d.channels.length), [4, 4, 4, 4]);
  t.is(em.sdxi[0]!.fn.dev.maxSegSize, base.iommu.max_seg_size);
  // Both kinds on one machine: PTDMA first.
  const both = deriveProfile(load("zen3-ptdma"), (d) => {
    d.topology.sdxi = [{ node: 1 }];
  });
  const em2 = createMachine(both, { pagesPerNode: 4096 });
  t.is(em2.dmaengine!.devices.length, 17);
  t.is(em2.dmaengine!.devices[16]!.dev.name, "sdxi0");
  // The file form keeps the SDXI placement and only the SDXI parameters that differ from the defaults.
  const v = withParams(base, { "sdxi.chan_bw": 30 });
  const file = profileToFile(v);
  t.deepEqual(file.topology.sdxi, [{ node: 0 }, { node: 0 }, { node: 1 }, { node: 1 }]);
  t.deepEqual(file.sdxi, { chan_bw: 30 });
  t.is(resolveProfile(file, schema).params.sdxi.chan_bw, 30);
  t.is(profileToFile(load("zen3-ptdma")).topology.sdxi, undefined, "PTDMA-only files do not grow an sdxi key");
  t.throws(() => deriveProfile(base, (d) => { d.topology.sdxi = [{ node: 7 }]; }), { message: /topology\.sdxi\.0\.node: node 7 is not in topology\.nodes/ });
  t.throws(() => withParams(base, { "sdxi.chan_bw": 0 }), { message: /sdxi\.chan_bw/ });
});
