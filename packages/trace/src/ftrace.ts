/**
 * ftrace text, byte for byte as `trace-cmd report` (3.4, default options) or the kernel's
 * /sys/kernel/tracing/trace (nop tracer, default options) print it: per line the task, pid, CPU,
 * latency flags, the timestamp in seconds and microseconds (ns rounded as ns2usecs does), the event
 * name and its text (spec sections 1.1-1.5). Lines are in timestamp order; equal timestamps keep the
 * order the events were logged in, as a per-CPU merge does.
 */
import type { TraceRecord } from "@mmemu/kernel";
import { eventFlags, eventText, type FtraceFlavor, type KernelVersion } from "./events.js";

export interface FtraceOptions {
  readonly flavor: FtraceFlavor;
  readonly kernel: KernelVersion;
  /** Online CPUs of the machine (`cpus=N`, `#P:N`). */
  readonly nrCpus: number;
  /** Records logged in total, including overwritten ones (entries-written). @default records.length */
  readonly written?: number;
  /** Overwritten records by CPU (trace-cmd's EVENTS DROPPED lines). */
  readonly lostByCpu?: ReadonlyMap<number, number>;
}

/** `%5lu.%06lu` of ns rounded to microseconds. */
export function ftraceTimestamp(ns: number): string {
  const us = Math.floor((ns + 500) / 1000);
  return `${String(Math.floor(us / 1_000_000)).padStart(5)}.${String(us % 1_000_000).padStart(6, "0")}`;
}

/** The task column: pid 0 is the idle task whatever it is called (devices print their own name). */
function comm(r: TraceRecord): string {
  return r.pid === 0 && r.ctx !== 3 ? "<idle>" : r.comm;
}

/** One event line, without the newline. */
export function ftraceLine(r: TraceRecord, o: Pick<FtraceOptions, "flavor" | "kernel">): string {
  const cpu = String(r.cpu).padStart(3, "0");
  const flags = eventFlags(r, o.kernel);
  const text = eventText(r, o.kernel, o.flavor);
  if (o.flavor === "trace-cmd") {
    return `${comm(r).padStart(16)}-${String(r.pid).padEnd(5)} [${cpu}] ${flags} ${ftraceTimestamp(r.ts)}: ${text}`;
  }
  return `${comm(r).padStart(16)}-${String(r.pid).padEnd(7)} [${cpu}] ${flags} ${ftraceTimestamp(r.ts)}: ${text}`;
}

/** The records in reading order: by timestamp, ties in logging order. */
export function readingOrder(records: readonly TraceRecord[]): TraceRecord[] {
  const idx = records.map((_, i) => i);
  idx.sort((a, b) => records[a]!.ts - records[b]!.ts || a - b);
  return idx.map((i) => records[i]!);
}

const TRACEFS_HEADER = [
  "#",
  "#                                _-----=> irqs-off/BH-disabled",
  "#                               / _----=> need-resched",
  "#                              | / _---=> hardirq/softirq",
  "#                              || / _--=> preempt-depth",
  "#                              ||| / _-=> migrate-disable",
  "#                              |||| /     delay",
  "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION",
  "#              | |         |   |||||     |         |",
];

/** The whole text, ending with a newline. */
export function formatFtrace(records: readonly TraceRecord[], o: FtraceOptions): string {
  const lines: string[] = [];
  const sorted = readingOrder(records);
  if (o.flavor === "trace-cmd") {
    lines.push(`cpus=${o.nrCpus}`);
    const pending = new Map(o.lostByCpu ?? []);
    for (const r of sorted) {
      const lost = pending.get(r.cpu);
      if (lost !== undefined) {
        lines.push(`CPU:${r.cpu} [${lost} EVENTS DROPPED]`);
        pending.delete(r.cpu);
      }
      lines.push(ftraceLine(r, o));
    }
  } else {
    lines.push("# tracer: nop", "#", `# entries-in-buffer/entries-written: ${records.length}/${o.written ?? records.length}   #P:${o.nrCpus}`);
    lines.push(...TRACEFS_HEADER);
    for (const r of sorted) lines.push(ftraceLine(r, o));
  }
  return `${lines.join("\n")}\n`;
}

/** A parsed event line (either flavour): what a grep/awk user or a test reads back. */
export interface ParsedFtraceLine {
  readonly comm: string;
  readonly pid: number;
  readonly cpu: number;
  readonly flags: string;
  /** Microseconds since boot. */
  readonly us: number;
  readonly event: string;
  readonly text: string;
}

const LINE_RE = /^\s*(.{1,16}?)-(\d+)\s+\[(\d{3})\] (.{5})\s+(\d+)\.(\d{6}): (.*)$/;

/**
 * Parse one event line back. Kernel syscall lines (`sys_move_pages(...)`, `sys_move_pages -> 0x0`)
 * come back with the event name `sys_enter_move_pages` / `sys_exit_move_pages`. Returns null for
 * header, `cpus=` and EVENTS DROPPED lines.
 */
export function parseFtraceLine(line: string): ParsedFtraceLine | null {
  const m = LINE_RE.exec(line);
  if (m === null) return null;
  const [, c, pid, cpu, flags, s, us, rest] = m as unknown as [string, string, string, string, string, string, string, string];
  let event: string;
  let text: string;
  const sysEnter = /^sys_(\w+)\((.*)\)$/.exec(rest);
  const sysExit = /^sys_(\w+) -> (.*)$/.exec(rest);
  if (sysEnter !== null) [event, text] = [`sys_enter_${sysEnter[1]}`, sysEnter[2]!];
  else if (sysExit !== null) [event, text] = [`sys_exit_${sysExit[1]}`, sysExit[2]!];
  else {
    const e = /^(\S+?):\s+(.*)$/.exec(rest);
    if (e === null) return null;
    [event, text] = [e[1]!, e[2]!];
  }
  return { comm: c.trim(), pid: Number(pid), cpu: Number(cpu), flags, us: Number(s) * 1_000_000 + Number(us), event, text };
}
