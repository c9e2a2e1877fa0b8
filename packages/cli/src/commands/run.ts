/**
 * `mmemu run <scenario...>`: run scenario files and report each step — a table per scenario, or with
 * --json one JSON record per step (and one summary record per scenario, with the phase breakdown and
 * the counters, and one for the whole run when several files are given). Records stream as steps
 * finish; nothing grows with the number of steps. `--trace FILE` records the run (docs/tracing.md),
 * `--stats` prints where virtual time went, /proc/vmstat's migration lines and the offload core's and
 * migrator's counters. Exit status: 0 when every expectation held, 1 when some did not (or a step
 * threw), 2 when a file could not be read or is not a valid scenario (every file is checked and
 * reported; nothing is run then), an option is bad, or a limit was reached.
 */
import { basename, extname, resolve } from "node:path";
import { Option, type Command } from "commander";
import Table from "cli-table3";
import cliProgress from "cli-progress";
import { errnoName } from "@mmemu/kernel";
import { EXIT, outputPath } from "@mmemu/bench";
import { formatVmstat, vmstatCounters, type Machine } from "@mmemu/mm-core";
import { migrateOffloadOf } from "@mmemu/offload-api";
import {
  breakdownTotal, formatBreakdown, parseTraceArgs, phaseBreakdown, phaseSnapshot, TraceSession, TRACE_FORMATS,
  type KernelVersion, type PhaseBreakdown, type TraceArgs, type TraceOutputOptions,
} from "@mmemu/trace";
import {
  loadScenarioFile, parseFaultOptions, parseLimitOptions, prepareScenarioDevices, runScenario, ScenarioError,
  type LimitOverrides, type RunResult, type Scenario, type ScenarioDevices, type StepRecord,
} from "@mmemu/scenario";
import { componentOptions, offloadCounters, type ComponentFlags } from "@mmemu/bench";
import { isPluginPath } from "@mmemu/components";

/** A --migrator/--engine value: a built-in's name, or a plug-in file relative to the working directory. */
function pluginSpec(x: string): string {
  return isPluginPath(x) ? resolve(x) : x;
}

/** Rows of a scenario's table in text mode; later steps are counted (and listed if they fail). */
export const TABLE_ROWS = 500;
/** Mismatch lines listed per scenario in text mode; the others are counted. */
export const MISMATCH_LINES = 200;

export interface RunCommandOptions extends ComponentFlags, TraceArgs {
  readonly json?: boolean;
  readonly kernel?: string;
  /** `--limit name=value` (repeatable): raise a scenario limit. */
  readonly limit?: readonly string[];
  /** `--fault point[:knob=value,...]` (repeatable): arm a fault point before the first step. */
  readonly fault?: readonly string[];
  /** Set machine.strictOffload in every scenario. */
  readonly strictOffload?: boolean;
  readonly stats?: boolean;
  readonly quiet?: boolean;
}

/** What a run leaves behind besides its steps: phases, counters, component statistics. */
export interface RunCounters {
  readonly phases: PhaseBreakdown;
  readonly vmstat: Record<string, number>;
  readonly stats: Record<string, Record<string, number>>;
}

/** Where output goes (the real process streams, or buffers in tests). */
export interface Output {
  out(text: string): void;
  err(text: string): void;
}

const STD: Output = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

export function registerRunCommand(program: Command): void {
  componentOptions(program
    .command("run"))
    .description("run scenario files (JSON or YAML) and check their expected results")
    .argument("<scenario...>", "scenario files")
    .option("--json", "one JSON record per step instead of tables")
    .option("--trace <file>", "record the run to FILE (- for standard output; with several scenarios, one file each named FILE.<scenario>)")
    .addOption(new Option("--trace-format <format>", "ftrace (trace-cmd report), tracefs (the kernel's trace file) or perfetto (JSON for ui.perfetto.dev)").choices([...TRACE_FORMATS]))
    .option("--trace-events <list>", "comma-separated event names or classes (syscalls, migrate, thp, tlb, irq, dmaengine, dma, device, offload, mmemu); -name excludes")
    .option("--trace-window <start:end>", "keep events between these virtual times in microseconds (either end may be empty)")
    .option("--trace-buffer <events>", "ring buffer size in events: older events are overwritten (default 1000000)")
    .option("--stats", "after each scenario: where virtual time went, /proc/vmstat's migration lines, offload and migrator counters")
    .option("--quiet", "no progress bar on stderr")
    .option("--kernel <version>", "override the scenario's kernel version (6.1, 6.12, mainline)")
    .option("--fault <point[:knob=value,...]>", "arm a fault point before the first step (repeatable), e.g. --fault migrate_extra_ref:probability=0.1,times=5", (v: string, prev: string[] = []) => [...prev, v])
    .option("--limit <name=value>", "raise a scenario limit (repeatable), e.g. --limit steps=5000000 (docs/scenarios.md, Limits)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--strict-offload", "fail a scenario when a batch the migrator should have copied fell back to the CPU copy (sets machine.strictOffload)")
    .action(async (files: string[], opts: RunCommandOptions) => {
      process.exitCode = await runCommand(files, opts, STD);
    });
}

/** Run the files; returns the exit status. */
export async function runCommand(files: readonly string[], opts: RunCommandOptions, io: Output = STD): Promise<number> {
  if (opts.kernel !== undefined && !["6.1", "6.12", "mainline"].includes(opts.kernel)) {
    io.err(`mmemu: --kernel ${opts.kernel}: expected one of 6.1, 6.12, mainline\n`);
    return EXIT.USAGE;
  }
  let limits: LimitOverrides;
  let faults: ReturnType<typeof parseFaultOptions>;
  let trace: TraceOutputOptions | null;
  try {
    limits = parseLimitOptions(opts.limit);
    faults = parseFaultOptions(opts.fault);
    trace = parseTraceArgs(opts);
    // The trace file is checked before anything runs (it is written atomically after the run).
    if (trace !== null && trace.file !== "-") outputPath("--trace", trace.file, "file");
  } catch (e) {
    io.err(`mmemu: ${(e as Error).message}\n`);
    return EXIT.USAGE;
  }
  // Load everything first (plug-ins included): an invalid file stops the command before anything runs; every one is reported.
  const loaded: Array<{ file: string; scenario: Scenario; devices: ScenarioDevices | null }> = [];
  let invalid = 0;
  for (const file of files) {
    try {
      const scenario = loadScenarioFile(file, limits);
      if (opts.kernel !== undefined) scenario.kernel = opts.kernel as Scenario["kernel"];
      if (opts.strictOffload === true) scenario.machine.strictOffload = true;
      // --migrator/--engine replace the scenario's (paths relative to where the command runs).
      const mc = scenario.machine as { migrator?: string; engines?: string[]; profile?: string };
      if (opts.migrator !== undefined) mc.migrator = pluginSpec(opts.migrator);
      if (opts.engine !== undefined) mc.engines = opts.engine.map(pluginSpec);
      if ((opts.migrator !== undefined || opts.engine !== undefined) && mc.profile === undefined) {
        throw new Error("--migrator/--engine need a scenario with machine.profile (devices come from a hardware profile)");
      }
      loaded.push({ file, scenario, devices: await prepareScenarioDevices(scenario) });
    } catch (e) {
      invalid++;
      if (e instanceof ScenarioError) io.err(`mmemu: ${e.file}: invalid scenario\n${e.problems.map((p) => `  ${p}\n`).join("")}`);
      else io.err(`mmemu: ${file}: ${(e as Error).message}\n`);
    }
  }
  if (invalid > 0) {
    if (files.length > 1) io.err(`mmemu: ${files.length} files: ${invalid} invalid, ${files.length - invalid} valid; nothing was run\n`);
    return EXIT.USAGE;
  }
  let failed = 0;
  let limited = 0;
  for (const { file, scenario, devices } of loaded) {
    const shown: string[] = [];
    let hidden = 0;
    const session = trace === null ? null : new TraceSession({ ...trace, file: traceFileFor(trace.file, file, loaded.length) });
    let counters: RunCounters | null = null;
    const bar = io === STD && opts.quiet !== true && !opts.json && process.stderr.isTTY
      ? new cliProgress.SingleBar({ format: `${basename(file)} {bar} {value}/{total} steps {duration}s`, stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic)
      : null;
    bar?.start(scenario.steps.length, 0);
    let steps = 0;
    const onStep = opts.json
      ? (rec: StepRecord) => {
        bar?.update(++steps);
        io.out(`${JSON.stringify(jsonRecord(file, scenario, rec))}\n`);
      }
      : (rec: StepRecord) => {
        bar?.update(++steps);
        for (const mm of rec.mismatches) {
          if (shown.length < MISMATCH_LINES) shown.push(`  step ${rec.index} (${rec.op}): ${mm}\n`);
          else hidden++;
        }
      };
    const result: RunResult = runScenario(scenario, {
      devices, onStep, keepSteps: opts.json ? 0 : TABLE_ROWS, limits, faults,
      attach: (m) => {
        session?.attach(m);
        const p0 = phaseSnapshot(m.sim);
        return () => {
          counters = collectCounters(m, p0);
        };
      },
    });
    bar?.stop();
    if (result.machineError === true) {
      // The machine could not be built (a module parameter or sysfs write refused, a probe that threw): nothing ran.
      io.err(`mmemu: ${file}: ${result.error}\n`);
      return EXIT.USAGE;
    }
    if (session !== null) {
      const meta = { scenario: scenario.name, file };
      if (session.opts.file === "-") (opts.json ? io.err : io.out)(session.render(result.kernel as KernelVersion, meta));
      else io.err(`${session.write(result.kernel as KernelVersion, meta)}\n`);
    }
    if (opts.json) io.out(`${JSON.stringify(summaryRecord(file, result, counters))}\n`);
    else {
      io.out(renderTable(file, scenario, result, shown, hidden));
      if (opts.stats && counters !== null) io.out(formatCounters(counters));
    }
    if (!result.ok) failed++;
    if (result.limitReached !== undefined || result.badOption === true) {
      // An input problem found while running: also one line on stderr naming the file.
      limited++;
      io.err(`mmemu: ${file}: ${result.error}\n`);
    }
  }
  if (loaded.length > 1) {
    const line = { summary: "run", files: loaded.length, passed: loaded.length - failed, failed };
    if (opts.json) io.out(`${JSON.stringify(line)}\n`);
    else io.out(`\n${loaded.length} scenario files: ${line.passed} passed, ${failed} failed\n`);
  }
  // A limit reached while running, or an option the machine cannot take, is an input problem.
  return limited > 0 ? EXIT.USAGE : failed > 0 ? EXIT.CHECK_FAILED : EXIT.OK;
}

/** The trace file of one of several scenarios: FILE.<scenario base name>, before FILE's extension. */
function traceFileFor(file: string, scenarioFile: string, n: number): string {
  if (n === 1 || file === "-") return file;
  const ext = extname(file);
  const tag = basename(scenarioFile).replace(/\.(ya?ml|json)$/, "");
  return `${file.slice(0, file.length - ext.length)}.${tag}${ext}`;
}

/** Phases since the snapshot, /proc/vmstat's migration lines, and the offload core's and migrator's counters. */
export function collectCounters(m: Machine, phases0: Float64Array): RunCounters {
  const stats: Record<string, Record<string, number>> = {};
  const off = migrateOffloadOf(m);
  if (off !== null) {
    stats.migrate_offload = offloadCounters(off.stats);
    const mig = off.active as unknown as { name: string; stats?: Record<string, number> } | null;
    if (mig !== null && mig.stats !== undefined && typeof mig.stats === "object") stats[mig.name] = { ...mig.stats };
  }
  return { phases: phaseBreakdown(phases0, phaseSnapshot(m.sim)), vmstat: Object.fromEntries(vmstatCounters(m)), stats };
}

/** --stats text: the breakdown, the vmstat lines, then each component's counters. */
export function formatCounters(c: RunCounters): string {
  let s = formatBreakdown(c.phases);
  s += `/proc/vmstat (migration lines):\n${formatVmstat(Object.entries(c.vmstat)).replace(/^/gm, "  ").trimEnd()}\n`;
  for (const [name, st] of Object.entries(c.stats)) s += `${name}: ${Object.entries(st).map(([k, v]) => `${k}=${v}`).join(" ")}\n`;
  return s;
}

/** The --json record of one step. */
export function jsonRecord(file: string, scenario: Scenario, rec: StepRecord): Record<string, unknown> {
  const r = rec.result;
  return {
    scenario: scenario.name, file, step: rec.index, op: rec.op, ...(rec.name ? { name: rec.name } : {}), call: rec.call,
    ...("ret" in r ? { ret: r.ret, errno: r.errno, errnoName: r.errno ? errnoName(r.errno as number) : null } : {}),
    ...("status" in r ? { status: r.status } : {}),
    ...("statusSummary" in r ? { statusSummary: r.statusSummary } : {}),
    result: r, ok: rec.ok, mismatches: rec.mismatches, virtualNs: rec.virtualNs, wallMs: round(rec.wallMs),
  };
}

function summaryRecord(file: string, res: RunResult, c: RunCounters | null): Record<string, unknown> {
  return {
    scenario: res.name, file, summary: true, kernel: res.kernel, ok: res.ok, steps: res.stepsRun, failed: res.failed,
    ...(res.error !== undefined ? { error: res.error } : {}), ...(res.limitReached !== undefined ? { limitReached: res.limitReached } : {}), virtualNs: res.virtualNs, wallMs: round(res.wallMs),
    fallback: res.fallback, ...(res.strictOffload !== undefined ? { strictOffload: res.strictOffload } : {}),
    ...(c !== null ? { phasesNs: c.phases, phasesTotalNs: breakdownTotal(c.phases), vmstat: c.vmstat, stats: c.stats } : {}),
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** "0", "-1 EFAULT (14)", plus the status array (shortened) for syscalls; the salient result otherwise. */
function resultText(rec: StepRecord): string {
  const r = rec.result;
  const parts: string[] = [];
  if ("ret" in r) parts.push(r.errno ? `-1 ${errnoName(r.errno as number)} (${r.errno})` : "addr" in r ? String(r.addr) : `ret ${String(r.ret)}`);
  if (Array.isArray(r.status)) {
    const st = r.status as unknown[];
    parts.push(`status [${st.slice(0, 12).map(statusText).join(", ")}${st.length > 12 ? `, ... (${st.length})` : ""}]`);
  }
  if (r.statusSummary) parts.push(`status ${Object.entries(r.statusSummary as Record<string, number>).map(([k, v]) => `${v}× ${k}`).join(", ")}`);
  if (Array.isArray(r.pages)) {
    const pages = r.pages as Array<Record<string, unknown>>;
    parts.push(pages.slice(0, 4).map((p) => (p.present ? `node ${p.node}${p.order ? ` order ${p.order}` : ""}${p.zeroPage ? " zero page" : ""}` : p.swapped ? "swapped" : "not present")).join("; ") + (pages.length > 4 ? "; ..." : ""));
  }
  for (const k of ["accesses", "migrationWaits", "merged", "fault", "pid", "tid", "freeBytes"]) if (k in r) parts.push(`${k} ${String(r[k])}`);
  if ("pgmigrate_success" in r) parts.push(`pgmigrate_success ${String(r.pgmigrate_success)}, fail ${String(r.pgmigrate_fail)}`);
  return parts.join("\n");
}

function statusText(v: unknown): string {
  if (typeof v === "number" && v < 0 && v >= -133) return `-${errnoName(v)}`;
  return String(v);
}

/**
 * A table with one row per step (the first TABLE_ROWS), then the mismatches: `mismatches` when the
 * caller collected them as the steps streamed (with `hidden` more), otherwise those of the kept records.
 */
export function renderTable(file: string, scenario: Scenario, res: RunResult, mismatches?: readonly string[], hidden = 0): string {
  const table = new Table({
    head: ["#", "step", "result", "check"],
    colWidths: [9, 58, 44, 7],
    wordWrap: true,
    style: { head: [], border: [] },
  });
  for (const rec of res.steps) {
    const title = rec.name ? `${rec.name}\n${rec.call}` : rec.call;
    table.push([rec.index, title, resultText(rec), rec.ok ? "ok" : "FAIL"]);
  }
  let text = `\n${scenario.name} (${file}, kernel ${res.kernel})\n${table.toString()}\n`;
  if (res.stepsRun > res.steps.length) text += `  ... ${res.stepsRun - res.steps.length} more steps not shown (--json lists every step)\n`;
  const lines = mismatches ?? res.steps.flatMap((rec) => rec.mismatches.map((mm) => `  step ${rec.index} (${rec.op}): ${mm}\n`));
  text += lines.join("");
  if (hidden > 0) text += `  ... and ${hidden} more mismatches\n`;
  if (res.error !== undefined) text += `  stopped: ${res.error}\n`;
  const fb = Object.entries(res.fallback);
  if (fb.length > 0) text += `  CPU fallbacks: ${fb.map(([cause, n]) => `${cause} ${n}`).join(", ")} folio(s)\n`;
  if (res.strictOffload !== undefined) text += `  ${res.strictOffload}\n`;
  text += `${res.ok ? "PASS" : "FAIL"}: ${res.stepsRun} steps, ${res.failed} failed, ${(res.virtualNs / 1000).toFixed(1)} µs virtual, ${res.wallMs.toFixed(0)} ms\n`;
  return text;
}
