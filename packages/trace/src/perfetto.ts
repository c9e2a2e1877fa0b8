/**
 * A timeline the Perfetto UI (and chrome://tracing) opens: the Chrome Trace Event JSON format, as
 * shared/specs/tracing.md section 3 recommends over protobuf (diff-able, testable, and the ring buffer
 * bounds its size). Layout (spec 3.4):
 *
 *   pid 1 "CPUs"        tid 1000+cpu "CPU n": slices for syscalls, migrate_pages, batches, the offload
 *                        copy, the DMA batch and IRQ handlers; instants for every other CPU event
 *                       tid 3000+cpu "CPU n phases": where the CPU's virtual time went (Phase)
 *   pid 100+d "<dev>"   tid 10000+100d "<channel>": one slice per hardware descriptor, fetch to completion
 *   pid 2 "mm counters" counters: DMA descriptors in flight, each device's bytes/s, pages migrated,
 *                       TLB shootdown IPIs
 *
 * Flows (v1, one id per descriptor): dmaengine_submit on the CPU -> the descriptor on its channel ->
 * the completion on the CPU that handled it. Timestamps are microseconds with ns precision.
 */
import { PHASE_NAMES, TRACE_CTX_DEVICE, type TraceRecord } from "@mmemu/kernel";
import { printedName } from "./events.js";
import { readingOrder } from "./ftrace.js";
import type { PhaseSlice } from "./recorder.js";

export interface PerfettoOptions {
  /** Put into the file's metadata (kernel version, scenario or point). */
  readonly metadata?: Readonly<Record<string, string | number>>;
  readonly phases?: readonly PhaseSlice[];
}

/** Begin/end tracepoint pairs that become CPU slices, and the slice name. */
const PAIRS: ReadonlyArray<readonly [string, string, (r: TraceRecord) => string]> = [
  ["sys_enter_", "sys_exit_", (r) => r.name.slice("sys_enter_".length)],
  ["mm_migrate_pages_start", "mm_migrate_pages", () => "migrate_pages"],
  ["mm_migrate_pages_batch_start", "mm_migrate_pages_batch_end", () => "migrate_pages_batch"],
  ["migrate_offload_copy_start", "migrate_offload_copy_end", (r) => `offload copy (${String(r.fields.migrator)})`],
  ["dcbm_batch_begin", "dcbm_batch_end", () => "dcbm DMA batch"],
  ["irq_handler_entry", "irq_handler_exit", (r) => `irq ${String(r.fields.irq)} ${String(r.fields.name)}`],
];

function pairOf(name: string): { begin: boolean; key: string } | null {
  for (const [b, e] of PAIRS) {
    if (b.endsWith("_") ? name.startsWith(b) : name === b) return { begin: true, key: b.endsWith("_") ? name.slice(b.length) : b };
    if (e.endsWith("_") ? name.startsWith(e) : name === e) return { begin: false, key: b.endsWith("_") ? name.slice(e.length) : b };
  }
  return null;
}

/** Microseconds with ns precision, as a JSON number. */
function us(ns: number): number {
  return ns / 1000;
}

interface Open {
  readonly key: string;
  readonly name: string;
  readonly ts: number;
  readonly args: Record<string, unknown>;
}

/** The JSON text, one event per line, ending with a newline. Deterministic for the same input. */
export function formatPerfetto(records: readonly TraceRecord[], o: PerfettoOptions): string {
  const ev: Array<Record<string, unknown>> = [];
  const sorted = readingOrder(records);
  // Tracks only for the CPUs that logged something (a 64-CPU machine would otherwise show 60 empty ones).
  const cpus = new Set<number>();
  const phaseCpus = new Set<number>();
  const cpuTid = (c: number) => 1000 + c;
  // Devices in order of first appearance.
  const devices = new Map<string, { pid: number; tid: number; chan: string | null; open: { ts: number; args: Record<string, unknown>; flow: number } | null; queue: number[] }>();
  const device = (name: string) => {
    let d = devices.get(name);
    if (d === undefined) {
      const i = devices.size;
      d = { pid: 100 + i, tid: 10000 + 100 * i, chan: null, open: null, queue: [] };
      devices.set(name, d);
    }
    return d;
  };
  const stacks = new Map<number, Open[]>();
  const flows = new Map<string, number>();
  let nextFlow = 1;
  let inFlight = 0;
  let migrated = 0;
  let ipis = 0;
  const counter = (ts: number, name: string, args: Record<string, number>) => ev.push({ ph: "C", name, pid: 2, tid: 2, ts: us(ts), args });
  const close = (cpu: number, o2: Open, end: number) => {
    ev.push({ ph: "X", name: o2.name, cat: "cpu", pid: 1, tid: cpuTid(cpu), ts: us(o2.ts), dur: us(end - o2.ts), args: o2.args });
  };
  let lastTs = 0;
  for (const r of sorted) {
    lastTs = r.ts;
    const f = r.fields as Record<string, unknown>;
    if (r.ctx === TRACE_CTX_DEVICE) {
      const d = device(r.comm);
      if (r.name === "ptdma_desc_fetch" || r.name === "ae4dma_desc_fetch") {
        d.open = { ts: r.ts, args: { ...f }, flow: d.queue.shift() ?? 0 };
        if (d.open.flow > 0) ev.push({ ph: "t", name: "descriptor", cat: "dma", id: d.open.flow, pid: d.pid, tid: d.tid, ts: us(r.ts) });
      } else if ((r.name === "ptdma_desc_complete" || r.name === "ae4dma_desc_complete") && d.open !== null) {
        const dur = r.ts - d.open.ts;
        ev.push({ ph: "X", name: "descriptor", cat: "dma", pid: d.pid, tid: d.tid, ts: us(d.open.ts), dur: us(dur), args: { ...d.open.args, ...f } });
        const bytes = Number(f.len ?? d.open.args.len ?? 0);
        counter(d.open.ts, `${r.comm} bytes/s`, { value: dur > 0 ? Math.round((bytes * 1e9) / dur) : 0 });
        counter(r.ts, `${r.comm} bytes/s`, { value: 0 });
        d.open = null;
      } else {
        ev.push({ ph: "i", s: "t", name: printedName(r.name), cat: "dma", pid: d.pid, tid: d.tid, ts: us(r.ts), args: f });
      }
      continue;
    }
    cpus.add(r.cpu);
    const p = pairOf(r.name);
    let stack = stacks.get(r.cpu);
    if (stack === undefined) stacks.set(r.cpu, (stack = []));
    if (p !== null && p.begin) {
      const def = PAIRS.find(([b]) => (b.endsWith("_") ? r.name.startsWith(b) : r.name === b))!;
      stack.push({ key: p.key, name: def[2](r), ts: r.ts, args: { ...f } });
      continue;
    }
    if (p !== null) {
      // Close inner slices left open (their end fell out of the buffer), then this one.
      const at = stack.map((s) => s.key).lastIndexOf(p.key);
      if (at >= 0) {
        while (stack.length > at + 1) close(r.cpu, stack.pop()!, r.ts);
        const o2 = stack.pop()!;
        close(r.cpu, { ...o2, args: { ...o2.args, ...f } }, r.ts);
      }
      if (r.name === "mm_migrate_pages") {
        migrated += Number(f.nr_succeeded ?? 0);
        counter(r.ts, "pages migrated", { value: migrated });
      }
      continue;
    }
    ev.push({ ph: "i", s: "t", name: printedName(r.name), cat: "cpu", pid: 1, tid: cpuTid(r.cpu), ts: us(r.ts), args: f });
    if (r.name === "dmae_submit") {
      const id = nextFlow++;
      flows.set(`${String(f.chan)}:${String(f.cookie)}`, id);
      ev.push({ ph: "s", name: "descriptor", cat: "dma", id, pid: 1, tid: cpuTid(r.cpu), ts: us(r.ts) });
      counter(r.ts, "DMA descriptors in flight", { value: ++inFlight });
    } else if (r.name === "ptdma_start_desc" || r.name === "ae4dma_start_desc") {
      const d = device(String(f.dev));
      d.chan = String(f.chan);
      d.queue.push(flows.get(`${String(f.chan)}:${String(f.cookie)}`) ?? 0);
    } else if (r.name === "dmae_complete") {
      const key = `${String(f.chan)}:${String(f.cookie)}`;
      const id = flows.get(key);
      if (id !== undefined) {
        ev.push({ ph: "f", bp: "e", name: "descriptor", cat: "dma", id, pid: 1, tid: cpuTid(r.cpu), ts: us(r.ts) });
        flows.delete(key);
        counter(r.ts, "DMA descriptors in flight", { value: Math.max(0, --inFlight) });
      }
    } else if (r.name === "tlb_flush" && f.reason === "TLB_REMOTE_SEND_IPI") {
      ipis += Number(f.cpus ?? 0);
      counter(r.ts, "TLB shootdown IPIs", { value: ipis });
    }
  }
  for (const [cpu, stack] of stacks) while (stack.length > 0) close(cpu, stack.pop()!, lastTs);
  for (const s of o.phases ?? []) {
    cpus.add(s.cpu);
    phaseCpus.add(s.cpu);
    ev.push({ ph: "X", name: PHASE_NAMES[s.phase] ?? `phase ${s.phase}`, cat: "phase", pid: 1, tid: 3000 + s.cpu, ts: us(s.start), dur: us(s.end - s.start) });
  }
  const meta: Array<Record<string, unknown>> = [
    { ph: "M", name: "process_name", pid: 1, tid: 1, args: { name: "CPUs" } },
    { ph: "M", name: "process_sort_index", pid: 1, tid: 1, args: { sort_index: 0 } },
    { ph: "M", name: "process_name", pid: 2, tid: 2, args: { name: "mm counters" } },
    { ph: "M", name: "process_sort_index", pid: 2, tid: 2, args: { sort_index: 1 } },
  ];
  for (const c of [...cpus].sort((a, b) => a - b)) {
    meta.push({ ph: "M", name: "thread_name", pid: 1, tid: cpuTid(c), args: { name: `CPU ${c}` } });
    meta.push({ ph: "M", name: "thread_sort_index", pid: 1, tid: cpuTid(c), args: { sort_index: 2 * c } });
    if (!phaseCpus.has(c)) continue;
    meta.push({ ph: "M", name: "thread_name", pid: 1, tid: 3000 + c, args: { name: `CPU ${c} phases` } });
    meta.push({ ph: "M", name: "thread_sort_index", pid: 1, tid: 3000 + c, args: { sort_index: 2 * c + 1 } });
  }
  for (const [name, d] of devices) {
    meta.push({ ph: "M", name: "process_name", pid: d.pid, tid: d.tid, args: { name } });
    meta.push({ ph: "M", name: "process_sort_index", pid: d.pid, tid: d.tid, args: { sort_index: d.pid } });
    meta.push({ ph: "M", name: "thread_name", pid: d.pid, tid: d.tid, args: { name: d.chan ?? `${name} queue` } });
  }
  const body = [...meta, ...ev].map((e) => JSON.stringify(e)).join(",\n");
  const md = JSON.stringify({ generator: "mmemu", ...(o.metadata ?? {}) });
  return `{"displayTimeUnit":"ns","metadata":${md},"traceEvents":[\n${body}\n]}\n`;
}
