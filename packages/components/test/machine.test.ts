import test from "ava";
import { deriveProfile, loadProfile, profileToFile, resolveProfile, withParams } from "@mmemu/timing";
import type { SdxiEngine } from "@mmemu/sdxi";
import type { PtdmaEngine } from "@mmemu/ptdma";
import { BUILTIN_SCHEMA as schema, createMachine, NODE_ALIGN_PAGES } from "../src/index.js";

const load = (name: string) => loadProfile(name, schema);

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
  t.is(em.engines.get("ptdma")!.length, 0);
  t.deepEqual((em.engines.get("sdxi") as SdxiEngine[]).map((e) => e.fn.dev.numaNode), [0, 0, 1, 1]);
  t.deepEqual(em.dmaengine!.devices.map((d) => d.channels.length), [4, 4, 4, 4]);
  t.is((em.engines.get("sdxi") as SdxiEngine[])[0]!.fn.dev.maxSegSize, base.iommu.max_seg_size);
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

test("engine module parameters reach the drivers a probe creates; an unknown one or a wrong value is refused by name", (t) => {
  const em = createMachine(load("example-sdxi"), { pagesPerNode: 4096, modparams: { sdxi: { completionOrder: "outOfOrderWithoutFence" }, ptdma: { errorsVisibleToClient: true } } });
  t.true((em.engines.get("sdxi") as SdxiEngine[]).every((e) => e.dma.switches.completionOrder === "outOfOrderWithoutFence"));
  t.true((em.engines.get("ptdma") as PtdmaEngine[]).every((e) => e.pt.switches.errorsVisibleToClient));
  const plain = createMachine(load("zen3-ptdma"), { pagesPerNode: 4096 });
  t.false((plain.engines.get("ptdma") as PtdmaEngine[])[0]!.pt.switches.errorsVisibleToClient, "the merged driver by default");
  t.throws(() => createMachine(load("zen3-ptdma"), { pagesPerNode: 4096, modparams: { ptdma: { errorVisible: true } } }), { message: /^modparams\.ptdma\.errorVisible: ptdma has no module parameter "errorVisible" \(it has errorsVisibleToClient, / });
  t.throws(() => createMachine(load("zen3-ptdma"), { pagesPerNode: 4096, modparams: { ptdma: { callbackContext: "softirq" } } }), { message: /callbackContext: expected one of "hardirq", "tasklet", "workqueue", got "softirq"/ });
});

test("one CPU copy path: the machine's CPU copies run through the fabric at cpu.cpu_copy_bw, crossing the link and competing with DMA traffic on it", (t) => {
  const p = withParams(load("zen3-ptdma-base"), { "cpu.cpu_copy_bw": 12, "fabric.xsocket_link_bw": 12 });
  const em = createMachine(p, { pagesPerNode: 4096, dma: false });
  const sim = em.m.core.sim;
  const MiB = 1 << 20;
  let t0 = sim.now;
  em.timing.cpuCopy(0, 1, MiB);
  t.is(sim.now - t0, Math.floor(MiB / 12), "alone: the per-thread rate (charged as a block, fixed point)");
  const link = () => em.fabric.stats().find((s) => s.name === "xgmi0->1")!;
  t.is(link().bytes, MiB, "the copy crossed the socket link");
  // A DMA-like transfer holding the link halves the copy's share.
  em.fabric.startTransfer(64 * MiB, 0, 1, -1, -1, () => {});
  t0 = sim.now;
  em.timing.cpuCopy(0, 1, MiB);
  t.is(sim.now - t0, Math.ceil(MiB / 6));
  // A copy within a socket does not touch the link.
  t0 = sim.now;
  em.timing.cpuCopy(0, 0, MiB);
  t.is(sim.now - t0, Math.ceil(MiB / 12));
  t.is(link().bytes, 2 * MiB, "the same-socket copy did not cross the link");
});

test("a memory-only node with its own bandwidth and latency: CPU copies to it slow with its latency and share its bandwidth", (t) => {
  const p = deriveProfile(load("zen3-ptdma-base"), (d) => {
    d.topology.nodes = [...d.topology.nodes, { id: 2, socket: 0, cpus: 0, mem_gib: 256, mem_bw: 30, mem_latency: 400 }];
  });
  const em = createMachine(p, { pagesPerNode: 4096, dma: false });
  t.deepEqual(em.m.mem.nodes.map((n) => n.cpus.length), [32, 32, 0]);
  t.is(em.fabric.cpuCopyRate(0, 1), p.params.cpu!.cpu_copy_bw);
  t.is(em.fabric.cpuCopyRate(0, 2), p.params.cpu!.cpu_copy_bw * p.params.fabric!.copy_ref_latency! / 400);
  t.is(em.fabric.stats().find((s) => s.name === "mem2")!.capacity, 30);
  t.throws(() => deriveProfile(p, (d) => { d.topology.nodes = d.topology.nodes.map((n) => ({ ...n, cpus: 0 })); }), { message: /no node has CPUs/ });
});
