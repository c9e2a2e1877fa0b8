import test from "ava";
import { loadProfile } from "@mmemu/timing";
import { BUILTIN_COMPONENTS, BUILTIN_SCHEMA } from "@mmemu/components";
import {
  breakdownTotal, parseFtraceLine, parseTraceArgs, TraceSession, type KernelVersion, type TraceFormat,
} from "@mmemu/trace";
import { runPoint, type PointSpec } from "../src/index.js";

const profile = loadProfile("zen3-ptdma", BUILTIN_SCHEMA);
/** A known scenario: 64 4K folios moved by dcbm over 2 channels in one move_pages() call. */
const spec: PointSpec = { config: "dcbm", channels: 2, folioSize: "4K", totalBytes: 64 * 4096, batchPages: 512 };

function traced(format: TraceFormat, kernel: KernelVersion = "mainline", extra: Record<string, string> = {}) {
  const session = new TraceSession(parseTraceArgs({ trace: "/dev/null", traceFormat: format, ...extra })!);
  const r = runPoint(profile, spec, { seed: 1 }, BUILTIN_COMPONENTS, session);
  const records = session.recorder.records();
  return { r, text: session.render(kernel, { point: "test" }), records, session };
}

test("ftrace: trace-cmd report layout, events in order, timestamps are the virtual times, descriptors complete once", (t) => {
  const { r, text, records } = traced("ftrace");
  const lines = text.trimEnd().split("\n");
  t.regex(lines[0]!, /^cpus=\d+$/);
  const parsed = lines.slice(1).map((l) => {
    const p = parseFtraceLine(l);
    if (p === null) throw new Error(`unparsed line: ${l}`);
    return p;
  });
  t.is(parsed.length, records.length);
  // Every line's timestamp is its record's virtual time rounded to microseconds, in order.
  parsed.forEach((p, i) => t.is(p.us, Math.floor((records[i]!.ts + 500) / 1000)));
  for (let i = 1; i < parsed.length; i++) t.true(parsed[i]!.us >= parsed[i - 1]!.us, `line ${i + 1} goes back in time`);
  const names = parsed.map((p) => p.event);
  const first = (n: string) => names.indexOf(n);
  const last = (n: string) => names.lastIndexOf(n);
  t.true(first("sys_enter_move_pages") === 0);
  t.true(first("mm_migrate_pages_start") > 0);
  t.true(first("set_migration_pte") > first("mm_migrate_pages_start"));
  t.true(first("tlb_flush") > last("set_migration_pte"), "the batched flush after every migration entry of the batch");
  t.true(first("mmemu_dmae_submit") > first("tlb_flush"), "the copy after the flush");
  t.true(first("remove_migration_pte") > last("mmemu_dmae_complete"), "remap after every descriptor completed");
  t.true(last("mm_migrate_pages") > last("remove_migration_pte"));
  t.is(names[names.length - 1], "sys_exit_move_pages");
  t.is(names.filter((n) => n === "set_migration_pte").length, 64);
  t.is(names.filter((n) => n === "remove_migration_pte").length, 64);
  // The exit line's timestamp is the virtual time at which the call returned.
  const exit = records[records.length - 1]!;
  t.is(parsed[parsed.length - 1]!.us, Math.floor((exit.ts + 500) / 1000));
  t.true(exit.ts > records[0]!.ts && exit.ts - records[0]!.ts <= r.virtualNs);
  const mp = parsed.find((p) => p.event === "mm_migrate_pages")!;
  t.is(mp.text, "nr_succeeded=64 nr_failed=0 nr_thp_succeeded=0 nr_thp_failed=0 nr_thp_split=0 nr_split=0 mode=MIGRATE_SYNC reason=syscall_or_cpuset");
  // Every submitted descriptor is completed exactly once; the hardware fetched and finished each.
  const ids = (ev: string) => parsed.filter((p) => p.event === ev).map((p) => /chan=(\S+) cookie=(\d+)/.exec(p.text)!.slice(1).join("#"));
  const submitted = ids("mmemu_dmae_submit");
  const completed = ids("mmemu_dmae_complete");
  t.true(submitted.length > 0);
  t.is(new Set(submitted).size, submitted.length);
  t.deepEqual([...completed].sort(), [...submitted].sort());
  t.is(names.filter((n) => n === "mmemu_ptdma_desc_fetch").length, submitted.length);
  t.is(names.filter((n) => n === "mmemu_ptdma_desc_complete").length, submitted.length);
  // IRQ handlers pair up on the CPU the MSI targets, in hard-IRQ context.
  const entries = parsed.filter((p) => p.event === "irq_handler_entry");
  t.is(entries.length, parsed.filter((p) => p.event === "irq_handler_exit").length);
  t.true(entries.every((p) => p.flags === "d.h1." && p.comm === "<idle>" && p.pid === 0));
  // Kernel events print the kernel's flags: page-table lock held for migration entries.
  t.true(parsed.filter((p) => p.event === "set_migration_pte").every((p) => p.flags === "...1."));
});

test("the phase breakdown adds up to the point's virtual time exactly, and the phases are the ones a dcbm run has", (t) => {
  const r = runPoint(profile, spec, { seed: 1 });
  t.is(breakdownTotal(r.phases), r.virtualNs);
  for (const p of ["syscall", "isolation", "unmap", "TLB flush", "DMA submit", "DMA wait", "move/remap"]) t.true(r.phases[p]! > 0, p);
  t.is(r.phases["CPU copy"], 0, "dcbm copies with DMA only");
  const v = runPoint(profile, { config: "vanilla", channels: null, folioSize: "4K", totalBytes: 64 * 4096 }, { seed: 1 });
  t.is(breakdownTotal(v.phases), v.virtualNs);
  t.true(v.phases["CPU copy"]! > 0);
  t.is(v.phases["DMA wait"], 0);
  t.is(r.vmstat.pgmigrate_success, 64);
  t.is(r.vmstat.numa_hit + r.vmstat.numa_miss, r.vmstat.numa_local + r.vmstat.numa_other);
  t.is(r.stats.DCBM!.folios_migrated, 64, "the migrator's sysfs view");
  t.is(r.stats.migrate_offload!.foliosOffered, 64);
  t.is(r.stats.ptdma0!.descriptors + r.stats.ptdma1!.descriptors, r.stats.dmaengine!.completed, "every descriptor the engines ran was completed");
});

test("tracing does not change the run, and the files are byte-identical on a rerun", (t) => {
  const plain = runPoint(profile, spec, { seed: 1 });
  for (const f of ["ftrace", "tracefs", "perfetto"] as const) {
    const a = traced(f);
    const b = traced(f);
    t.is(a.r.virtualNs, plain.virtualNs, `${f}: traced run took as long as the untraced one`);
    t.is(a.text, b.text, `${f} differs between two runs`);
  }
});

test("perfetto: CPU and DMA channel tracks, nested slices, one flow per descriptor, counters, phases that add up", (t) => {
  const { r, text } = traced("perfetto");
  const doc = JSON.parse(text) as { traceEvents: Array<Record<string, any>>; metadata: Record<string, unknown> };
  const ev = doc.traceEvents;
  const threads = new Map(ev.filter((e) => e.ph === "M" && e.name === "thread_name").map((e) => [e.tid as number, e.args.name as string]));
  t.is(threads.get(1000), "CPU 0");
  t.is(threads.get(3000), "CPU 0 phases");
  const procs = ev.filter((e) => e.ph === "M" && e.name === "process_name").map((e) => e.args.name as string);
  t.true(procs.includes("CPUs") && procs.includes("mm counters") && procs.includes("ptdma0") && procs.includes("ptdma1"));
  const x = (name: string) => ev.filter((e) => e.ph === "X" && e.name === name);
  const call = x("move_pages");
  const mp = x("migrate_pages");
  t.is(call.length, 1);
  t.is(mp.length, 1);
  // Perfetto times are µs with ns precision: compare them as whole ns, as a float sum of two may round up.
  const ns = (v: number) => Math.round(v * 1000);
  t.true(ns(mp[0]!.ts) >= ns(call[0]!.ts) && ns(mp[0]!.ts + mp[0]!.dur) <= ns(call[0]!.ts + call[0]!.dur), "migrate_pages nests in the syscall");
  const desc = x("descriptor");
  t.true(desc.length > 0);
  t.true(desc.every((d) => d.tid >= 10000 && d.args.len > 0));
  // Descriptors on one channel never overlap (the queue runs one at a time).
  for (const tid of new Set(desc.map((d) => d.tid))) {
    const on = desc.filter((d) => d.tid === tid).sort((a, b) => a.ts - b.ts);
    for (let i = 1; i < on.length; i++) t.true(ns(on[i]!.ts) >= ns(on[i - 1]!.ts + on[i - 1]!.dur));
  }
  // One flow per descriptor: submit (s) -> descriptor (t) -> completion (f).
  const flows = new Map<number, string[]>();
  for (const e of ev) if (e.ph === "s" || e.ph === "t" || e.ph === "f") flows.set(e.id, [...(flows.get(e.id) ?? []), e.ph]);
  t.is(flows.size, desc.length);
  for (const phs of flows.values()) t.deepEqual(phs, ["s", "t", "f"]);
  const inflight = ev.filter((e) => e.ph === "C" && e.name === "DMA descriptors in flight").map((e) => e.args.value as number);
  t.is(Math.max(...inflight), desc.length, "dcbm submits every descriptor of the batch before issuing, so all are in flight at once");
  t.is(inflight[inflight.length - 1], 0);
  t.true(ev.some((e) => e.ph === "C" && e.name === "ptdma0 bytes/s" && e.args.value > 0));
  // The phase slices cover the migration calls: their durations add up to the virtual time.
  const phaseNs = ev.filter((e) => e.cat === "phase").reduce((s, e) => s + Math.round(e.dur * 1000), 0);
  t.is(phaseNs, r.virtualNs);
});

test("the ring buffer keeps the newest events and says how many were overwritten", (t) => {
  const full = traced("ftrace");
  const cmd = traced("ftrace", "mainline", { traceBuffer: "50" });
  t.is(cmd.records.length, 50);
  t.is(cmd.session.recorder.written, full.records.length);
  t.deepEqual(cmd.records.map((r) => r.ts), full.records.slice(-50).map((r) => r.ts));
  t.regex(cmd.text, /^CPU:\d+ \[\d+ EVENTS DROPPED\]$/m);
  const fs = traced("tracefs", "mainline", { traceBuffer: "50" });
  t.regex(fs.text, new RegExp(`^# entries-in-buffer/entries-written: 50/${full.records.length}   #P:\\d+$`, "m"));
});

test("filters by class and name, and the time window", (t) => {
  const full = traced("ftrace");
  const tlb = traced("ftrace", "mainline", { traceEvents: "tlb,syscalls" });
  t.deepEqual([...new Set(tlb.records.map((r) => r.name))].sort(), ["sys_enter_move_pages", "sys_exit_move_pages", "tlb_flush"]);
  const noPte = traced("ftrace", "mainline", { traceEvents: "*,-set_migration_pte,-mmemu" });
  t.false(noPte.records.some((r) => r.name === "set_migration_pte" || r.name === "mm_migrate_pages_batch_start"));
  t.true(noPte.records.some((r) => r.name === "remove_migration_pte"));
  const a = full.records[10]!.ts;
  const b = full.records[40]!.ts;
  const win = traced("ftrace", "mainline", { traceWindow: `${a / 1000}:${b / 1000}` });
  t.true(win.records.length > 0 && win.records.every((r) => r.ts >= a && r.ts < b));
});

test("the text follows the kernel version: 6.1, 6.12 and 7.2 (mainline) tracefs lines, trace-cmd's tlb plugin", (t) => {
  const line = (text: string, re: RegExp) => text.split("\n").find((l) => re.test(l)) ?? "";
  const k61 = traced("tracefs", "6.1").text;
  const k612 = traced("tracefs", "6.12").text;
  const k72 = traced("tracefs", "mainline").text;
  t.regex(line(k61, /mm_migrate_pages: /), /nr_thp_split=0 mode=MIGRATE_SYNC/, "6.1 has no nr_split");
  t.regex(line(k612, /mm_migrate_pages: /), /nr_thp_split=0 nr_split=0 mode=/);
  t.regex(line(k61, /sys_move_pages\(/), /\.\.\.1\. +\d+\.\d{6}: sys_move_pages\(pid: 0, nr_pages: 40, pages: [0-9a-f]+, .*flags: 2\)$/);
  t.regex(line(k72, /sys_move_pages\(/), /\.{5} +\d+\.\d{6}: sys_move_pages\(pid: 0, nr_pages: 0x40, pages: 0x[0-9a-f]+, .*flags: 2\)$/);
  t.regex(line(k72, /sys_move_pages ->/), /sys_move_pages -> 0x0$/);
  t.regex(line(k61, /remote ipi send/), /tlb_flush: pages:-1 reason:remote ipi send \(4\)$/);
  t.regex(line(k72, /IPI send/), /tlb_flush: pages:-1 reason:remote IPI send \(4\)$/);
  t.regex(line(k72, /local shootdown/), /^ +bench-\d+ +\[000\] d\.\.2\. /);
  const tc = traced("ftrace", "6.12").text;
  t.regex(line(tc, /\(4\)$/), /tlb_flush: {12}pages=-1 reason= \(4\)$/);
  t.regex(line(tc, /sys_enter_move_pages/), /sys_enter_move_pages: pid: 0x00000000, nr_pages: 0x00000040, /);
  t.regex(k72, /^# tracer: nop\n#\n# entries-in-buffer\/entries-written: (\d+)\/\1   #P:\d+\n#\n# {32}_-----=> irqs-off\/BH-disabled\n/);
});
