/**
 * One traced run: the command-line trace options, validated, a recorder attached to a machine, and
 * the file written (atomically) in the chosen format when the run ends.
 */
import type { Sim, TraceBus } from "@mmemu/kernel";
import { writeFileAtomic } from "./atomic-write.js";
import { KERNEL_VERSIONS, type KernelVersion } from "./events.js";
import { formatFtrace } from "./ftrace.js";
import { formatPerfetto } from "./perfetto.js";
import { DEFAULT_TRACE_CAPACITY, eventSelector, TraceRecorder } from "./recorder.js";

/** ftrace = `trace-cmd report` text; tracefs = the kernel's trace file; perfetto = Chrome JSON for ui.perfetto.dev. */
export const TRACE_FORMATS = ["ftrace", "tracefs", "perfetto"] as const;
export type TraceFormat = (typeof TRACE_FORMATS)[number];

export interface TraceOutputOptions {
  readonly file: string;
  readonly format: TraceFormat;
  readonly events: readonly string[];
  readonly windowNs: readonly [number, number];
  readonly capacity: number;
}

/** The raw option values as commander hands them over. */
export interface TraceArgs {
  readonly trace?: string;
  readonly traceFormat?: string;
  readonly traceEvents?: string;
  readonly traceWindow?: string;
  readonly traceBuffer?: string;
}

/** Validate the trace options; null when --trace is absent (the others then must be absent too). */
export function parseTraceArgs(a: TraceArgs): TraceOutputOptions | null {
  if (a.trace === undefined) {
    for (const [k, v] of [["--trace-format", a.traceFormat], ["--trace-events", a.traceEvents], ["--trace-window", a.traceWindow], ["--trace-buffer", a.traceBuffer]] as const) {
      if (v !== undefined) throw new Error(`${k} needs --trace FILE`);
    }
    return null;
  }
  if (a.trace.trim() === "") throw new Error("--trace: empty file name");
  const format = (a.traceFormat ?? "ftrace") as TraceFormat;
  if (!TRACE_FORMATS.includes(format)) throw new Error(`--trace-format: "${a.traceFormat}" is not one of ${TRACE_FORMATS.join(", ")}`);
  const events = a.traceEvents === undefined ? ["*"] : a.traceEvents.split(",");
  eventSelector(events); // throws naming the bad entry
  let windowNs: [number, number] = [0, Infinity];
  if (a.traceWindow !== undefined) {
    const m = /^\s*(\d+(?:\.\d+)?)?\s*:\s*(\d+(?:\.\d+)?)?\s*$/.exec(a.traceWindow);
    if (m === null || (m[1] === undefined && m[2] === undefined)) throw new Error(`--trace-window: "${a.traceWindow}" is not START:END in microseconds of virtual time (either may be empty)`);
    windowNs = [m[1] === undefined ? 0 : Math.round(Number(m[1]) * 1000), m[2] === undefined ? Infinity : Math.round(Number(m[2]) * 1000)];
    if (!(windowNs[1] > windowNs[0])) throw new Error(`--trace-window: end ${m[2]} is not after start ${m[1] ?? 0}`);
  }
  let capacity = DEFAULT_TRACE_CAPACITY;
  if (a.traceBuffer !== undefined) {
    if (!/^\d+$/.test(a.traceBuffer) || Number(a.traceBuffer) < 1 || Number(a.traceBuffer) > 50_000_000) {
      throw new Error(`--trace-buffer: "${a.traceBuffer}" is not a whole number of events from 1 to 50000000`);
    }
    capacity = Number(a.traceBuffer);
  }
  return { file: a.trace, format, events, windowNs, capacity };
}

/** What a session needs of a machine (an mm-core Machine fits). */
export interface TracedMachine {
  readonly core: { readonly trace: TraceBus; readonly sim: Sim };
  readonly nrCpus: number;
  readonly current: { readonly cpu: number };
}

export class TraceSession {
  readonly recorder: TraceRecorder;
  private machine: TracedMachine | null = null;

  constructor(readonly opts: TraceOutputOptions) {
    this.recorder = new TraceRecorder({ events: opts.events, windowNs: opts.windowNs, capacity: opts.capacity });
  }

  /** Start recording a machine (one per session). */
  attach(m: TracedMachine): void {
    if (this.machine !== null) throw new Error("trace: a session records one machine");
    this.machine = m;
    this.recorder.attach(m.core.trace, m.core.sim, () => m.current.cpu);
  }

  /** Stop recording and render the file's text. */
  render(kernel: KernelVersion, metadata: Readonly<Record<string, string | number>> = {}): string {
    if (this.machine === null) throw new Error("trace: nothing was recorded (no machine attached)");
    if (!KERNEL_VERSIONS.includes(kernel)) throw new Error(`trace: unknown kernel version ${kernel}`);
    this.recorder.detach();
    const r = this.recorder;
    const records = r.records();
    const nrCpus = this.machine.nrCpus;
    if (this.opts.format === "perfetto") return formatPerfetto(records, { phases: r.phaseSlices(), metadata: { kernel, ...metadata } });
    return formatFtrace(records, { flavor: this.opts.format === "ftrace" ? "trace-cmd" : "tracefs", kernel, nrCpus, written: r.written, lostByCpu: r.lostByCpu });
  }

  /** Stop recording and write the file; returns a one-line summary. */
  write(kernel: KernelVersion, metadata: Readonly<Record<string, string | number>> = {}): string {
    const text = this.render(kernel, metadata);
    writeFileAtomic(this.opts.file, text);
    const r = this.recorder;
    return `wrote ${this.opts.file} (${this.opts.format}, ${r.written - r.lost} events${r.lost > 0 ? `, ${r.lost} older ones overwritten (--trace-buffer ${r.capacity})` : ""})`;
  }
}
