import test from "ava";
import { KernelCore, TRACE_CTX_DEVICE, TRACE_CTX_IRQ_IDLE, TRACE_CTX_TASK, type TraceRecord } from "@mmemu/kernel";
import {
  eventClass, eventSelector, formatFtrace, formatPerfetto, ftraceTimestamp, hexUlong, parseFtraceLine, parseTraceArgs,
  phaseBreakdown, phaseSnapshot, breakdownTotal, TraceRecorder,
} from "../src/index.js";

test("timestamps round to microseconds as ns2usecs does, and %lx prints negatives as 64-bit values", (t) => {
  t.is(ftraceTimestamp(0), "    0.000000");
  t.is(ftraceTimestamp(1499), "    0.000001");
  t.is(ftraceTimestamp(1500), "    0.000002");
  t.is(ftraceTimestamp(105_000_100_400), "  105.000100");
  t.is(hexUlong(0x7f3a5c000000), "7f3a5c000000");
  t.is(hexUlong(-22), "ffffffffffffffea");
});

test("event selection by class, name, glob and exclusion; bad entries are errors naming them", (t) => {
  const tlbAndIrq = eventSelector(["tlb", "irq"]);
  t.true(tlbAndIrq("tlb_flush"));
  t.true(tlbAndIrq("irq_handler_entry"));
  t.false(tlbAndIrq("set_migration_pte"));
  const notPte = eventSelector(["*", "-set_migration_pte", "-device"]);
  t.false(notPte("set_migration_pte"));
  t.false(notPte("ptdma_desc_fetch"));
  t.false(notPte("ae4dma_desc_complete"), "AE4DMA's engine events are device events too");
  t.is(eventClass("ae4dma_doorbell"), "device");
  t.true(notPte("remove_migration_pte"));
  t.true(eventSelector(["mmemu_dmae_*"])("dmae_submit"), "printed names and globs");
  t.is(eventClass("dcbm_fallback"), "offload");
  t.is(eventClass("sys_enter_move_pages"), "syscalls");
  t.throws(() => eventSelector(["tlb", ""]), { message: /--trace-events: empty entry/ });
  t.throws(() => parseTraceArgs({ trace: "x", traceWindow: "a:b" }), { message: /--trace-window: "a:b" is not START:END/ });
  t.deepEqual(parseTraceArgs({ trace: "x", traceWindow: ":2.5" })!.windowNs, [0, 2500]);
});

test("the recorder is a ring: the newest records stay, the lost are counted per CPU, and detaching disables the tracepoints", (t) => {
  const core = new KernelCore();
  core.trace.currentTask = () => ({ cpu: 1, pid: 7, comm: "migtest" });
  const tp = core.trace.define<{ pages: number; reason: string; cpus: number }>("tlb_flush");
  const rec = new TraceRecorder({ capacity: 3 });
  rec.attach(core.trace, core.sim, () => 1);
  t.true(tp.enabled);
  for (let i = 0; i < 5; i++) {
    core.sim.advance(1000);
    tp.emit({ pages: -1, reason: "TLB_LOCAL_SHOOTDOWN", cpus: 1 });
  }
  rec.detach();
  t.false(tp.enabled);
  t.deepEqual(rec.records().map((r) => r.ts), [3000, 4000, 5000]);
  t.is(rec.written, 5);
  t.is(rec.lostByCpu.get(1), 2);
  const text = formatFtrace(rec.records(), { flavor: "trace-cmd", kernel: "6.12", nrCpus: 4, written: rec.written, lostByCpu: rec.lostByCpu });
  t.is(text, [
    "cpus=4",
    "CPU:1 [2 EVENTS DROPPED]",
    "         migtest-7     [001] d..2.     0.000003: tlb_flush:            pages=-1 reason=local shootdown (2)",
    "         migtest-7     [001] d..2.     0.000004: tlb_flush:            pages=-1 reason=local shootdown (2)",
    "         migtest-7     [001] d..2.     0.000005: tlb_flush:            pages=-1 reason=local shootdown (2)",
    "",
  ].join("\n"));
  const tracefs = formatFtrace(rec.records(), { flavor: "tracefs", kernel: "mainline", nrCpus: 4, written: rec.written });
  t.regex(tracefs, /^# entries-in-buffer\/entries-written: 3\/5   #P:4$/m);
  t.regex(tracefs, /^ {9}migtest-7 {7}\[001\] d\.\.2\. {5}0\.000003: tlb_flush: pages:-1 reason:local shootdown \(2\)$/m);
});

test("interrupt and device contexts: their CPU, comm and flags; parse back both flavours", (t) => {
  const core = new KernelCore();
  core.trace.currentTask = () => ({ cpu: 0, pid: 42, comm: "bench" });
  const irq = core.trace.define<{ irq: number; name: string }>("irq_handler_entry");
  const dev = core.trace.define<{ dev: string; head: number; len: number }>("ptdma_desc_fetch");
  const sys = core.trace.define<{ nr: number; args: Record<string, number> }>("sys_enter_move_pages");
  const rec = new TraceRecorder();
  rec.attach(core.trace, core.sim, () => 0);
  sys.emit({ nr: 279, args: { pid: 0, nr_pages: 512, flags: 2 } });
  let prev = core.trace.enterContext(3, TRACE_CTX_IRQ_IDLE);
  irq.emit({ irq: 40, name: "ptdma0" });
  core.trace.exitContext(prev);
  prev = core.trace.enterContext(3, TRACE_CTX_DEVICE, "ptdma0");
  dev.emit({ dev: "ptdma0", head: 0x40000000, len: 4096 });
  core.trace.exitContext(prev);
  rec.detach();
  const k61 = formatFtrace(rec.records(), { flavor: "tracefs", kernel: "6.1", nrCpus: 4 }).split("\n").slice(12, 15);
  t.deepEqual(k61.map((l) => parseFtraceLine(l)).map((p) => [p!.comm, p!.pid, p!.cpu, p!.flags, p!.event, p!.text]), [
    ["bench", 42, 0, "...1.", "sys_enter_move_pages", "pid: 0, nr_pages: 200, flags: 2"],
    ["<idle>", 0, 3, "d.h1.", "irq_handler_entry", "irq=40 name=ptdma0"],
    ["ptdma0", 0, 3, ".....", "mmemu_ptdma_desc_fetch", "dev=ptdma0 head=0x40000000 len=4096"],
  ]);
  const tc = formatFtrace(rec.records(), { flavor: "trace-cmd", kernel: "mainline", nrCpus: 4 }).split("\n");
  t.is(parseFtraceLine(tc[1]!)!.text, "pid: 0x00000000, nr_pages: 0x00000200, flags: 0x00000002");
  t.is(tc[1]!.slice(0, 28), "           bench-42    [000]");
});

test("phase accounting: every advanced ns lands in the current phase, so the parts add up to the clock", (t) => {
  const core = new KernelCore();
  const s0 = phaseSnapshot(core.sim);
  core.sim.phase = 3;
  core.sim.advance(100);
  core.sim.schedule(50, () => {});
  core.sim.phase = 7;
  core.sim.runUntil(() => core.sim.now >= 150);
  const b = phaseBreakdown(s0, phaseSnapshot(core.sim));
  t.is(b.unmap, 100);
  t.is(b["DMA wait"], 50);
  t.is(breakdownTotal(b), core.sim.now);
  // The timeline's phase slices come from the same probe.
  const rec = new TraceRecorder();
  rec.attach(core.trace, core.sim, () => 2);
  core.sim.phase = 1;
  core.sim.advance(10);
  core.sim.advance(5);
  rec.detach();
  t.deepEqual(rec.phaseSlices(), [{ cpu: 2, phase: 1, start: 150, end: 165 }]);
  const json = JSON.parse(formatPerfetto([], { phases: rec.phaseSlices() })) as { traceEvents: Array<Record<string, unknown>> };
  t.true(json.traceEvents.some((e) => e.ph === "X" && e.name === "syscall" && e.tid === 3002 && e.dur === 0.015));
});

test("perfetto: an AE4DMA queue's descriptors become slices on its own track, joined by a flow to dmaengine_submit", (t) => {
  const cpu = (name: string, ts: number, fields: Record<string, unknown>): TraceRecord => ({ name, ts, fields, cpu: 1, pid: 7, comm: "bench", ctx: TRACE_CTX_TASK });
  const devq = (name: string, ts: number, fields: Record<string, unknown>): TraceRecord => ({ name, ts, fields, cpu: 0, pid: 0, comm: "ae4dma0q2", ctx: TRACE_CTX_DEVICE });
  const records = [
    cpu("dmae_submit", 1000, { chan: "dma0chan2", cookie: 5 }),
    cpu("ae4dma_start_desc", 1100, { dev: "ae4dma0q2", chan: "dma0chan2", cookie: 5, len: 4096 }),
    cpu("ae4dma_doorbell", 1200, { dev: "ae4dma0", q: 2, wr_idx: 1, queued: 1 }),
    devq("ae4dma_desc_fetch", 1500, { dev: "ae4dma0", q: 2, slot: 0, len: 4096 }),
    devq("ae4dma_desc_complete", 3500, { dev: "ae4dma0", q: 2, slot: 0, len: 4096, error: 0 }),
    cpu("dmae_complete", 4000, { chan: "dma0chan2", cookie: 5 }),
  ];
  const doc = JSON.parse(formatPerfetto(records, {})) as { traceEvents: Array<Record<string, any>> };
  const ev = doc.traceEvents;
  const track = ev.find((e) => e.ph === "M" && e.name === "process_name" && e.args.name === "ae4dma0q2")!;
  t.truthy(track, "a process track named after the queue");
  t.is(ev.find((e) => e.ph === "M" && e.name === "thread_name" && e.pid === track.pid)!.args.name, "dma0chan2");
  const slice = ev.find((e) => e.ph === "X" && e.name === "descriptor")!;
  t.like(slice, { pid: track.pid, ts: 1.5, dur: 2 });
  t.is(slice.args.error, 0);
  const flow = ev.filter((e) => e.name === "descriptor" && ["s", "t", "f"].includes(e.ph)).map((e) => [e.ph, e.id]);
  t.deepEqual(flow, [["s", 1], ["t", 1], ["f", 1]]);
});
