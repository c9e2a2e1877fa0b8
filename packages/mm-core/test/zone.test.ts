/**
 * Zones, watermarks and reserves against the kernel's formulas (mm/page_alloc.c, mm/khugepaged.c) and
 * the worked examples of spec mm-policy-and-limits.md §1.2-1.7.
 */
import test from "ava";
import {
  calculateMinFreeKbytes, Machine, recommendedMinFreeKbytes, totalreservePages, Watermarks, Zone,
  WMARK_HIGH, WMARK_LOW, WMARK_MIN, WMARK_PROMO, ZONE_DMA, ZONE_DMA32, ZONE_MOVABLE, ZONE_NORMAL,
} from "../src/index.js";

const GiB = 1 << 18; // pages

function normalZones(...sizes: number[]): Zone[] {
  let pfn = 0;
  return sizes.map((n, i) => {
    const z = new Zone(i, ZONE_NORMAL, pfn, pfn + n, i);
    pfn += n;
    return z;
  });
}

function wmarks(z: Zone): number[] {
  return [z.mark(WMARK_MIN), z.mark(WMARK_LOW), z.mark(WMARK_HIGH), z.mark(WMARK_PROMO)];
}

test("min_free_kbytes = int_sqrt(lowmem_kbytes * 16): the table in calculate_min_free_kbytes()'s comment", (t) => {
  // The comment prints 11584k for 8 GiB; int_sqrt(8388608 * 16) is 11585.
  for (const [gib, kb] of [[1, 4096], [2, 5792], [4, 8192], [8, 11585], [16, 16384]] as const) {
    t.is(calculateMinFreeKbytes(normalZones(gib * GiB)), kb, `${gib} GiB`);
  }
  t.is(calculateMinFreeKbytes(normalZones(256)), 128, "clamped below at 128 kB");
  t.is(calculateMinFreeKbytes(normalZones(2 ** 30)), 262144, "clamped above at 262144 kB");
});

test("§1.7 (a): one 2 GiB zone gets MIN 1448, LOW 1972, HIGH 2496, PROMO 3020 pages", (t) => {
  const zones = normalZones(2 * GiB);
  const w = new Watermarks(zones, [[null, null, zones[0]!, null]]);
  w.init({ khugepaged: false });
  t.is(w.minFreeKbytes, 5792);
  t.deepEqual(wmarks(zones[0]!), [1448, 1972, 2496, 3020]);
  t.is(totalreservePages(zones), 2496);
});

test("§1.7 (b): two 2 GiB nodes share 8192 kB: MIN 1024 each, and the scale factor sets the gap (524)", (t) => {
  const zones = normalZones(2 * GiB, 2 * GiB);
  const w = new Watermarks(zones, [[null, null, zones[0]!, null], [null, null, zones[1]!, null]]);
  w.init({ khugepaged: false });
  t.is(w.minFreeKbytes, 8192);
  for (const z of zones) t.deepEqual(wmarks(z), [1024, 1548, 2072, 2596]);
  w.setWatermarkScaleFactor(1);
  t.deepEqual(wmarks(zones[0]!), [1024, 1280, 1536, 1792], "gap = MIN/4 once the scale factor is small");
  t.throws(() => w.setWatermarkScaleFactor(3001), { message: /watermark_scale_factor: an integer in \[1, 3000\], got 3001/ });
  t.throws(() => w.setMinFreeKbytes(-1), { message: /min_free_kbytes: a non-negative integer/ });
});

test("a user-written min_free_kbytes is kept over a smaller computed value when khugepaged stops", (t) => {
  const zones = normalZones(GiB);
  const w = new Watermarks(zones, [[null, null, zones[0]!, null]]);
  w.init({ khugepaged: false });
  w.setMinFreeKbytes(65536);
  w.khugepagedChanged(true);
  w.khugepagedChanged(false);
  t.is(w.minFreeKbytes, 65536);
});

test("khugepaged raises min_free_kbytes to 2 + 3*3 pageblocks per zone up to ZONE_NORMAL, at most 5% of lowmem", (t) => {
  const m = new Machine({ nodes: [{ id: 0, pages: 4 * GiB, cpus: 1 }, { id: 1, pages: 4 * GiB, cpus: 1 }] });
  // DMA + DMA32 on node 0, Normal on node 1: 3 zones * 11 * 512 pages = 16896 pages = 67584 kB.
  t.is(recommendedMinFreeKbytes(m.alloc.zones), 67584);
  t.is(m.watermarks.minFreeKbytes, 11585, "THP off: the computed boot value");
  m.memory.anonThp[9] = "madvise";
  m.watermarks.khugepagedChanged(true);
  t.is(m.watermarks.minFreeKbytes, 67584);
  const small = new Machine({ nodes: [{ id: 0, pages: 16384, cpus: 1 }, { id: 1, pages: 16384, cpus: 1 }] });
  // nr_free_buffer_pages() counts managed pages above each zone's HIGH watermark.
  const high = small.alloc.zones.reduce((s, z) => s + z.mark(WMARK_HIGH), 0);
  t.is(recommendedMinFreeKbytes(small.alloc.zones), Math.floor((32768 - high) / 20) * 4, "capped at 5% of lowmem");
});

test("zones by address: node 0 holds DMA (16 MiB) and DMA32, other nodes Normal, movablecore the top of a node", (t) => {
  const m = new Machine({ nodes: [{ id: 0, pages: 16384, cpus: 1 }, { id: 1, pages: 16384, cpus: 1 }], movablePages: { 1: 4096 } });
  const names = (nid: number) => m.alloc.nodeZones[nid]!.filter((z) => z !== null).map((z) => `${z.name}:${z.managed}`);
  t.deepEqual(names(0), ["DMA:4096", "DMA32:12288"]);
  t.deepEqual(names(1), ["Normal:12288", "Movable:4096"]);
  t.throws(() => new Machine({ nodes: [{ id: 0, pages: 1024, cpus: 1 }], movablePages: { 0: 2048 } }), { message: /node 0 movable pages must be an integer in \[0, 1024\], got 2048/ });
});

test("lowmem_reserve: DMA keeps 1/256 of the zones above it from allocations that could use them", (t) => {
  const m = new Machine({ nodes: [{ id: 0, pages: 16384, cpus: 1 }, { id: 1, pages: 16384, cpus: 1 }] });
  const [dma, dma32] = [m.alloc.nodeZones[0]![ZONE_DMA]!, m.alloc.nodeZones[0]![ZONE_DMA32]!];
  t.deepEqual(Array.from(dma.lowmemReserve), [0, 48, 48, 48]);
  t.deepEqual(Array.from(dma32.lowmemReserve), [0, 0, 0, 0], "nothing above DMA32 on node 0");
  // Empty DMA32 to its MIN: user allocations on node 0 may then only use DMA down to MIN + 48.
  while (dma32.free > 0 && m.alloc.rmqueue(dma32, 0) >= 0);
  let got = 0;
  while (m.folioAlloc(0, 0, true) >= 0) got++;
  t.is(dma.free, dma.mark(WMARK_MIN) + 48, "stopped above MIN + lowmem_reserve[ZONE_MOVABLE]");
  t.true(got > 0);
  m.watermarks.setLowmemReserveRatio([0, 256, 32, 0]);
  t.deepEqual(Array.from(dma.lowmemReserve), [0, 0, 0, 0], "ratio 0 clears the reserve");
  t.is(m.folioAlloc(0, 0, true, ZONE_MOVABLE) >= 0, true, "now the reserve is free to take");
  t.throws(() => m.watermarks.setLowmemReserveRatio([1, 2, 3]), { message: /lowmem_reserve_ratio: 4 non-negative integers/ });
});

test("__GFP_THISNODE allocations stop at MIN; others spill to the next node below LOW first", (t) => {
  const m = new Machine({ nodes: [{ id: 0, pages: 16384, cpus: 1 }, { id: 1, pages: 16384, cpus: 1 }] });
  const z1 = m.alloc.nodeZones[1]![ZONE_NORMAL]!;
  while (z1.free > z1.mark(WMARK_LOW) && m.alloc.rmqueue(z1, 0) >= 0);
  t.is(m.mem.nodeOfPfn[m.folioAlloc(1, 0, false)], 0, "fast path: node 1 fails LOW, node 0 passes");
  let got = 0;
  while (m.folioAlloc(1, 0, true) >= 0) got++;
  t.is(got, z1.mark(WMARK_LOW) - z1.mark(WMARK_MIN), "slow path: from LOW down to MIN, then NULL");
  t.is(z1.free, z1.mark(WMARK_MIN));
  t.is(m.folioAlloc(1, 9, true), -1, "an order-9 target needs a free block above MIN too");
  void ZONE_MOVABLE;
});
