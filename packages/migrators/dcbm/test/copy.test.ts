import test from "ava";
import { Cost } from "@mmemu/kernel";
import { MR, PAGE_SIZE } from "@mmemu/mm-core";
import { DMA_MEMCPY, DMA_PREP_INTERRUPT, dmaCapMaskOf, isErrPtr } from "@mmemu/dmaengine";
import { anon, intact, migrateRange, onNode, rig } from "./rig.js";

/** The dmaengine trace of one migration: prep flags per channel, callbacks, requests, terminates, releases. */
function traced(r: ReturnType<typeof rig>, fn: () => void) {
  const rec = r.m.core.trace.record(["dmae_prep", "dmae_callback", "dmae_request", "dmae_release", "dmae_terminate", "dmae_issue", "dcbm_batch_begin"]);
  fn();
  rec.stop();
  const preps = new Map<string, number[]>();
  for (const x of rec.records) if (x.name === "dmae_prep") {
    const c = x.fields["chan"] as string;
    if (!preps.has(c)) preps.set(c, []);
    preps.get(c)!.push(x.fields["flags"] as number);
  }
  const count = (name: string) => rec.records.filter((x) => x.name === name).length;
  return { preps, count, records: rec.records };
}

test("a batch of 10 folios over 4 channels: contiguous runs of 2,3,2,3 and a callback on each channel's last descriptor", (t) => {
  const r = rig({ channels: 4 });
  const addr = anon(r, 10 * PAGE_SIZE);
  const tr = traced(r, () => t.is(migrateRange(r, addr, 10 * PAGE_SIZE, 1), 0));
  t.deepEqual([...tr.preps.values()].map((f) => f.length), [2, 3, 2, 3]);
  for (const flags of tr.preps.values()) {
    t.deepEqual(flags.map((f) => (f & DMA_PREP_INTERRUPT) !== 0), flags.map((_, i) => i === flags.length - 1), "interrupt on the last only");
  }
  t.is(tr.count("dmae_callback"), 4);
  t.is(tr.count("dmae_request"), 4);
  t.is(tr.count("dmae_issue"), 4);
  t.is(tr.count("dmae_terminate"), 4, "terminate_sync on every mapped channel, also after success");
  t.is(tr.count("dmae_release"), 4);
  t.is(r.dcbm.foliosMigrated, 10);
  t.is(r.dcbm.foliosFailures, 0);
  t.true(intact(r, addr, 10 * PAGE_SIZE));
  t.true(onNode(r, addr, 10 * PAGE_SIZE, 1));
  t.deepEqual(r.checker.checkQuiescent(), []);
});

test("the split is contiguous in list order: channel i gets floor(n(i+1)/c) - floor(ni/c) pairs", (t) => {
  for (const [n, c] of [[7, 3], [16, 16], [33, 16], [5, 4]] as const) {
    const r = rig({ channels: c, pages: 1 << 12 });
    const addr = anon(r, n * PAGE_SIZE);
    const tr = traced(r, () => t.is(migrateRange(r, addr, n * PAGE_SIZE, 1), 0));
    const want = Array.from({ length: c }, (_, i) => Math.floor((n * (i + 1)) / c) - Math.floor((n * i) / c));
    t.deepEqual([...tr.preps.values()].map((f) => f.length), want, `${n} folios / ${c} channels`);
    t.true(intact(r, addr, n * PAGE_SIZE));
  }
});

test("per-descriptor callbacks (callbackOnLastOnly=false): every descriptor interrupts and calls back", (t) => {
  const r = rig({ channels: 2, dcbm: { callbackOnLastOnly: false } });
  const addr = anon(r, 6 * PAGE_SIZE);
  const tr = traced(r, () => t.is(migrateRange(r, addr, 6 * PAGE_SIZE, 1), 0));
  t.is(tr.count("dmae_callback"), 6);
  for (const flags of tr.preps.values()) t.true(flags.every((f) => (f & DMA_PREP_INTERRUPT) !== 0));
  t.true(intact(r, addr, 6 * PAGE_SIZE));
});

test("channels requested per batch: min(nr_dma_chan, folios, 16)", (t) => {
  const r = rig({ channels: 16 });
  const addr = anon(r, 3 * PAGE_SIZE);
  const tr = traced(r, () => t.is(migrateRange(r, addr, 3 * PAGE_SIZE, 1), 0));
  t.is(tr.count("dmae_request"), 3, "3 folios need at most 3 channels");
  t.is(tr.records.find((x) => x.name === "dcbm_batch_begin")!.fields["nr_chan"], 3);
});

test("requests stop at the first failure: with 2 of 16 engines free, the batch runs on 2", (t) => {
  const r = rig({ channels: 8 });
  const held = [];
  for (let i = 0; i < 14; i++) {
    const c = r.dma.dmaRequestChanByMask(dmaCapMaskOf(DMA_MEMCPY), "other-client");
    if (isErrPtr(c)) throw new Error("setup");
    held.push(c);
  }
  const addr = anon(r, 12 * PAGE_SIZE);
  const tr = traced(r, () => t.is(migrateRange(r, addr, 12 * PAGE_SIZE, 1), 0));
  t.is(tr.count("dmae_request"), 3, "two successes and the failed third request");
  t.deepEqual([...tr.preps.values()].map((f) => f.length), [6, 6]);
  t.is(r.dcbm.foliosMigrated, 12);
  t.true(intact(r, addr, 12 * PAGE_SIZE));
  for (const p of r.pts) t.is(p.dma.chan.clientCount, held.includes(p.dma.chan) ? 1 : 0, "dcbm released its channels");
});

test("large folios: one descriptor per folio of folio_size bytes", (t) => {
  const r = rig({ channels: 2 });
  r.m.memory.anonThp[4] = "always";
  const addr = anon(r, 4 * 64 * 1024);
  const rec = r.m.core.trace.record(["dmae_prep"]);
  t.is(migrateRange(r, addr, 4 * 64 * 1024, 1), 0);
  rec.stop();
  t.deepEqual(rec.records.map((x) => x.fields["len"]), [65536, 65536, 65536, 65536]);
  t.is(r.dcbm.foliosMigrated, 4);
  t.true(intact(r, addr, 4 * 64 * 1024));
  t.deepEqual(r.checker.checkQuiescent(), []);
});

test("virtual time passes while the engines copy; 4 channels finish a batch sooner than 1", (t) => {
  const time = (channels: number) => {
    const r = rig({ channels });
    const addr = anon(r, 64 * PAGE_SIZE);
    const t0 = r.m.sim.now;
    t.is(migrateRange(r, addr, 64 * PAGE_SIZE, 1), 0);
    return r.m.sim.now - t0;
  };
  const one = time(1);
  const four = time(4);
  t.true(one > 0);
  t.true(four < one / 2, `1 channel ${one} ns, 4 channels ${four} ns`);
});

test("dcbm charges the completion wait itself and leaves prep/submit/map costs to dmaengine (no double charge)", (t) => {
  const r = rig({ channels: 2 });
  const units = new Float64Array(64);
  r.m.core.cost = { charge: (k, n) => { units[k]! += n; } };
  const addr = anon(r, 8 * PAGE_SIZE);
  t.is(migrateRange(r, addr, 8 * PAGE_SIZE, 1), 0);
  t.is(units[Cost.COMPLETION_WAIT], 2);
  t.is(units[Cost.DMA_PREP], 8);
  t.is(units[Cost.DMA_SUBMIT], 8);
  t.is(units[Cost.DMA_CHAN_REQUEST], 2);
  t.is(units[Cost.DMA_CHAN_RELEASE], 2);
  t.is(units[Cost.DMA_SG_ENTRY], 16, "one entry per folio per side");
  t.is(units[Cost.CPU_COPY_PAGE], 0, "nothing copied on the CPU");
  t.is(units[Cost.OFFLOAD_CALL], 1);
});

test("V6: a successful batch marks every destination FOLIO_CONTENT_COPIED, so the move phase copies nothing", (t) => {
  const r = rig({ channels: 2, series: "v6" });
  const units = new Float64Array(64);
  r.m.core.cost = { charge: (k, n) => { units[k]! += n; } };
  let marked = 0;
  const off = r.m.core.trace.on("migrate_offload_copy_end", (x) => { marked = x.fields["marked"] as number; });
  const addr = anon(r, 8 * PAGE_SIZE);
  t.is(migrateRange(r, addr, 8 * PAGE_SIZE, 1), 0);
  off();
  t.is(marked, 8);
  t.is(units[Cost.CPU_COPY_PAGE], 0);
  t.true(intact(r, addr, 8 * PAGE_SIZE));
});

test("an ineligible reason never reaches dcbm", (t) => {
  const r = rig({ channels: 2 });
  const addr = anon(r, 8 * PAGE_SIZE);
  t.is(migrateRange(r, addr, 8 * PAGE_SIZE, 1, MR.MEMORY_HOTPLUG), 0);
  t.is(r.dcbm.stats.batches, 0);
  t.true(intact(r, addr, 8 * PAGE_SIZE));
});
