/**
 * What every bench command shares on the command line: the trace options (one point of the command
 * traced in this process), `--json [file]`, `--breakdown`, and a progress bar on stderr that stays
 * silent when stderr is not a terminal or with --quiet.
 */
import { Command, Option } from "commander";
import cliProgress from "cli-progress";
import { PHASE_NAMES } from "@mmemu/kernel";
import { parseTraceArgs, TraceSession, TRACE_FORMATS, writeFileAtomic, type KernelVersion, type TraceArgs } from "@mmemu/trace";
import type { HardwareProfile } from "@mmemu/timing";
import type { Components } from "@mmemu/components";
import { runPoint, type PointResult, type PointSpec } from "../workload.js";
import { outputPath } from "../output.js";
import { gigabyteUnitOption } from "../measurements.js";

export interface TraceCliArgs extends TraceArgs {
  readonly tracePoint?: string;
  readonly traceKernel?: string;
}

/** `--gb UNIT` (calibrate, bench seed): what the measurements' GB is, parsed (a bad value refused by name). */
export function gigabyteOption(): Option {
  return new Option("--gb <unit>", "what the measurements' GB/s mean: GiB (2^30 bytes/s, the emulator's unit) or GB (10^9 bytes/s; shown converted to GiB/s) (default: the file's units.gb, else GiB)")
    .argParser(gigabyteUnitOption);
}

/** Add --trace FILE, --trace-format, --trace-events, --trace-window, --trace-buffer and --trace-point. */
export function addTraceOptions(cmd: Command): Command {
  return cmd
    .option("--trace <file>", "record one point's migration calls to FILE (see docs/tracing.md)")
    .addOption(new Option("--trace-format <format>", "ftrace (trace-cmd report), tracefs (the kernel's trace file) or perfetto (JSON for ui.perfetto.dev)").choices([...TRACE_FORMATS]))
    .option("--trace-events <list>", "comma-separated event names or classes (syscalls, migrate, thp, tlb, irq, dmaengine, dma, device, offload, mmemu); -name excludes")
    .option("--trace-window <start:end>", "keep events between these virtual times in microseconds (either end may be empty)")
    .option("--trace-buffer <events>", "ring buffer size in events: older events are overwritten (default 1000000)")
    .option("--trace-point <index>", "which of the command's points to trace, 0-based in the order the text output lists them (default 0)")
    .addOption(new Option("--trace-kernel <version>", "kernel whose trace output to reproduce").choices(["6.1", "6.12", "mainline"]).default("mainline"));
}

/** Add --quiet (no progress bar). */
export function addQuietOption(cmd: Command): Command {
  return cmd.option("--quiet", "no progress bar on stderr");
}

/** Validate the trace options before anything runs; null without --trace. */
export function checkTraceArgs(a: TraceCliArgs, nrPoints: number): { index: number } | null {
  const t = parseTraceArgs(a);
  if (t === null) {
    if (a.tracePoint !== undefined) throw new Error("--trace-point needs --trace FILE");
    return null;
  }
  const index = a.tracePoint === undefined ? 0 : Number(a.tracePoint);
  if (!/^\d+$/.test(a.tracePoint ?? "0") || index >= nrPoints) throw new Error(`--trace-point: "${a.tracePoint}" is not a point index from 0 to ${nrPoints - 1}`);
  // The file is checked now, not after the whole command has run.
  if (t.file !== "-") outputPath("--trace", t.file, "file");
  return { index };
}

/**
 * Run the selected point again in this process with tracing on and write the file. The point is
 * deterministic, so the traced run is the run the results came from; a mismatch in virtual time
 * would be an emulator bug and is reported as one.
 */
export function traceOnePoint(
  profile: HardwareProfile, components: Components, spec: PointSpec, label: string, seed: number, a: TraceCliArgs, expectNs?: number,
): string {
  const opts = parseTraceArgs(a)!;
  const session = new TraceSession(opts);
  const r = runPoint(profile, spec, { seed }, components, session);
  if (expectNs !== undefined && r.virtualNs !== expectNs) throw new Error(`trace: the traced run of ${label} took ${r.virtualNs} ns, the untraced one ${expectNs} ns (tracing must not change the run)`);
  return `${session.write((a.traceKernel ?? "mainline") as KernelVersion, { point: label, profile: profile.name, seed })} of ${label}`;
}

/**
 * A progress bar on stderr, or nothing when stderr is not a terminal or --quiet was given. `log`
 * prints a line above a running bar (on stderr then), or with console.log when there is none.
 */
export function progressBar(label: string, quiet = false): { update: (done: number, total: number) => void; stop: () => void; log: (line: string) => void } {
  if (quiet || !process.stderr.isTTY) return { update: () => {}, stop: () => {}, log: (l) => console.log(l) };
  const multi = new cliProgress.MultiBar({ format: `${label} {bar} {value}/{total} {duration}s`, stream: process.stderr, hideCursor: true, clearOnComplete: false }, cliProgress.Presets.shades_classic);
  let bar: cliProgress.SingleBar | null = null;
  return {
    update: (done, total) => {
      if (bar === null) bar = multi.create(total, 0);
      bar.setTotal(total);
      bar.update(done);
    },
    stop: () => {
      if (bar !== null) multi.stop();
      bar = null;
    },
    log: (line) => (bar !== null ? multi.log(`${line}\n`) : console.log(line)),
  };
}

/** `--json` without a file prints to stdout; with one, writes it (atomically). Returns a note for the text output, or null. */
export function emitJson(json: string | boolean | undefined, value: unknown): string | null {
  const text = `${JSON.stringify(value, null, 1)}\n`;
  if (json === true) {
    console.log(text.trimEnd());
    return null;
  }
  if (typeof json === "string") {
    writeFileAtomic(json, text);
    return `wrote ${json}`;
  }
  return null;
}

/** One row per point: total virtual µs and each phase's share, for --breakdown. */
export function formatBreakdownTable(rows: ReadonlyArray<{ label: string; r: PointResult }>): string {
  const phases = PHASE_NAMES.filter((p) => rows.some(({ r }) => (r.phases[p] ?? 0) > 0));
  const lw = Math.max(5, ...rows.map((x) => x.label.length));
  let s = `where virtual time went (% of each point's total)\n${"point".padEnd(lw)} ${"total us".padStart(12)}${phases.map((p) => p.padStart(Math.max(8, p.length + 1))).join("")}\n`;
  for (const { label, r } of rows) {
    s += `${label.padEnd(lw)} ${(r.virtualNs / 1000).toFixed(1).padStart(12)}`;
    s += phases.map((p) => ((100 * (r.phases[p] ?? 0)) / (r.virtualNs || 1)).toFixed(1).padStart(Math.max(8, p.length + 1))).join("");
    s += "\n";
  }
  return s;
}
