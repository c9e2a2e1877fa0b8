import test from "ava";
import { KernelCore } from "@mmemu/kernel";
import { Fabric, FABRIC_PARAMS } from "@mmemu/platform";

function twoSockets(params = {}) {
  const core = new KernelCore();
  const fabric = new Fabric(core, { nodes: [{ id: 0, socket: 0 }, { id: 1, socket: 1 }], params });
  return { core, fabric };
}

/** Start a transfer and record its finish time. */
function timed(core: KernelCore, ends: number[], i: number) {
  return (_: unknown) => { ends[i] = core.sim.now; };
}

test("two transfers on one server each get half of it", (t) => {
  const { core, fabric } = twoSockets({ node_mem_bw: 1000 });
  const eng = fabric.addServer("eng", 10); // 10 B/ns
  const ends: number[] = [];
  fabric.startTransfer(10_000, 0, 0, eng, -1, timed(core, ends, 0));
  fabric.startTransfer(10_000, 0, 0, eng, -1, timed(core, ends, 1));
  core.sim.run();
  // 20 000 bytes through 10 B/ns: both end at 2000 ns (alone, one would end at 1000 ns).
  t.deepEqual(ends, [2000, 2000]);
});

test("a transfer is limited by its tightest server", (t) => {
  const { core, fabric } = twoSockets({ xsocket_link_bw: 5, node_mem_bw: 1000 });
  const eng = fabric.addServer("eng", 14);
  const ends: number[] = [];
  fabric.startTransfer(5000, 0, 1, eng, -1, timed(core, ends, 0)); // crosses the 5 GB/s link
  core.sim.run();
  t.is(ends[0], 1000);
});

test("max-min fairness: a flow bottlenecked elsewhere leaves the rest to the other", (t) => {
  const { core, fabric } = twoSockets({ xsocket_link_bw: 2, node_mem_bw: 1000 });
  const eng = fabric.addServer("eng", 10);
  const ends: number[] = [];
  const a = fabric.startTransfer(2000, 0, 1, eng, -1, timed(core, ends, 0)); // link-limited: 2 B/ns
  const b = fabric.startTransfer(8000, 0, 0, eng, -1, timed(core, ends, 1)); // gets 10 - 2 = 8 B/ns
  t.is(fabric.rateOf(a), 2);
  t.is(fabric.rateOf(b), 8);
  core.sim.run();
  t.deepEqual(ends, [1000, 1000]);
});

test("rates are recomputed when a flow leaves", (t) => {
  const { core, fabric } = twoSockets({ node_mem_bw: 1000 });
  const eng = fabric.addServer("eng", 10);
  const ends: number[] = [];
  fabric.startTransfer(5000, 0, 0, eng, -1, timed(core, ends, 0));
  fabric.startTransfer(15_000, 0, 0, eng, -1, timed(core, ends, 1));
  core.sim.run();
  // Both at 5 B/ns until 1000 ns (first done), then the second alone at 10 B/ns for 10 000 bytes.
  t.deepEqual(ends, [1000, 2000]);
});

test("a same-node copy crosses its memory controller twice", (t) => {
  const { core, fabric } = twoSockets({ node_mem_bw: 10 });
  const ends: number[] = [];
  fabric.startTransfer(5000, 0, 0, -1, -1, timed(core, ends, 0));
  core.sim.run();
  t.is(ends[0], 1000);
});

test("cancel stops a flow, reports bytes moved, and speeds up the others", (t) => {
  const { core, fabric } = twoSockets({ node_mem_bw: 1000 });
  const eng = fabric.addServer("eng", 10);
  const ends: number[] = [];
  const a = fabric.startTransfer(10_000, 0, 0, eng, -1, timed(core, ends, 0));
  fabric.startTransfer(10_000, 0, 0, eng, -1, timed(core, ends, 1));
  core.sim.run(500);
  t.is(fabric.cancel(a), 2500);
  t.is(fabric.cancel(a), -1, "a stale token is refused");
  core.sim.run();
  t.is(ends.length, 2);
  t.false(0 in ends);
  t.is(ends[1], 500 + 7500 / 10);
});

test("a CPU copy is capped at the CPU copy rate, shares memory bandwidth, and slows with a slow memory tier's latency", (t) => {
  const core = new KernelCore();
  const fabric = new Fabric(core, {
    nodes: [{ id: 0, socket: 0 }, { id: 1, socket: 1 }, { id: 2, socket: 0, memBw: 20, memLatency: 400 }],
    params: { node_mem_bw: 1000, xsocket_link_bw: 1000, copy_ref_latency: 200 }, cpuCopyBw: 4,
  });
  t.is(fabric.cpuCopyWait(0, 1, 4000), 1000);
  // 400 ns against the 200 ns the rate was measured at: half the rate (Little's law).
  t.is(fabric.cpuCopyRate(0, 2), 2);
  t.is(fabric.cpuCopyWait(0, 2, 4000), 2000);
  // Twenty copies into the tier at once want 20 x 2 GB/s and share its 20 GB/s.
  const ends: number[] = [];
  const start = core.sim.now;
  for (let i = 0; i < 20; i++) fabric.cpuCopy(0, 2, 4000, timed(core, ends, i));
  core.sim.run();
  t.true(ends.every((e) => e === ends[0]), "equal shares");
  t.is(ends[0]! - start, 4000, "20 copies x 4000 B through the tier's 20 GB/s");
  // Without the CPU copy rate, CPU copies are refused (no silent default).
  const bare = new Fabric(new KernelCore(), { nodes: [{ id: 0, socket: 0 }] });
  t.throws(() => bare.cpuCopyWait(0, 0, 10), { message: /CPU copies need the CPU copy bandwidth/ });
  t.throws(() => new Fabric(new KernelCore(), { nodes: [{ id: 0, socket: 0, memBw: -2 }] }), { message: /node 0 memBw must be a finite number of GB\/s > 0, got -2/ });
});

test("bad parameters and inputs give clear errors", (t) => {
  const core = new KernelCore();
  t.throws(() => new Fabric(core, { nodes: [{ id: 0, socket: 0 }], params: { node_mem_bw: -1 } }), { message: /node_mem_bw: -1 GB\/s is outside/ });
  t.throws(() => new Fabric(core, { nodes: [{ id: 0, socket: 0 }], params: { bogus: 1 } as never }), { message: /bogus: unknown parameter/ });
  const f = new Fabric(core, { nodes: [{ id: 0, socket: 0 }] });
  t.throws(() => f.startTransfer(-5, 0, 0, -1, -1, () => {}), { message: /transfer size/ });
  t.throws(() => f.startTransfer(5, 0, 7, -1, -1, () => {}), { message: /node 7 was not declared/ });
  t.throws(() => f.addServer("x", 0), { message: /capacity/ });
  t.true(Object.values(FABRIC_PARAMS).every((p) => p.doc.length > 0 && p.source.length > 0));
});

test("many flows on a shared link converge to equal shares (full recompute path)", (t) => {
  const { core, fabric } = twoSockets({ xsocket_link_bw: 64, node_mem_bw: 1000 });
  const ends: number[] = [];
  for (let i = 0; i < 16; i++) {
    const e = fabric.addServer(`e${i}`, 14);
    fabric.startTransfer(4096 * 16, 0, 1, e, -1, timed(core, ends, i));
  }
  core.sim.run();
  // 16 × 64 KiB through 64 B/ns: everyone ends together at 16384 ns.
  t.true(ends.every((x) => x === 16384));
  t.true(fabric.fullRecomputes > 0);
});

test("arrivals and departures on one bottleneck (level mode) give exact processor-sharing times", (t) => {
  const { core, fabric } = twoSockets({ xsocket_link_bw: 9, node_mem_bw: 1000 });
  const ends: number[] = [];
  const engs = [0, 1, 2].map((i) => fabric.addServer(`e${i}`, 14));
  fabric.startTransfer(9000, 0, 1, engs[0]!, -1, timed(core, ends, 0));
  core.sim.schedule(500, () => fabric.startTransfer(9000, 0, 1, engs[1]!, -1, timed(core, ends, 1)));
  core.sim.schedule(1000, () => fabric.startTransfer(9000, 0, 1, engs[2]!, -1, timed(core, ends, 2)));
  core.sim.run();
  t.deepEqual(ends, [1750, 2750, 3000]);
});

test("a flow capped below the fair share leaves the rest to the others, then they speed up", (t) => {
  const { core, fabric } = twoSockets({ xsocket_link_bw: 10, node_mem_bw: 1000 });
  const ends: number[] = [];
  const a = fabric.addServer("a", 14);
  const b = fabric.addServer("b", 14);
  const c = fabric.addServer("c", 2);
  fabric.startTransfer(10_000, 0, 1, a, -1, timed(core, ends, 0));
  fabric.startTransfer(10_000, 0, 1, b, -1, timed(core, ends, 1));
  fabric.startTransfer(2000, 0, 1, c, -1, timed(core, ends, 2));
  core.sim.run();
  // C runs at its cap of 2 and ends at 1000; A and B share the other 8 (4 each), then 5 each.
  t.deepEqual(ends, [2200, 2200, 1000]);
});
