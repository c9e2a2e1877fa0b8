/**
 * `mmemu run <scenario...>`: run scenario files and report each step — a table per scenario, or with
 * --json one JSON record per step (and one summary record per scenario, and one for the whole run when
 * several files are given). Records stream as steps finish; nothing grows with the number of steps.
 * Exit status: 0 when every expectation held, 1 when some did not (or a step threw or reached a limit),
 * 2 when a file could not be read or is not a valid scenario (every file is checked and reported;
 * nothing is run then) or an option is bad.
 */
import type { Command } from "commander";
import Table from "cli-table3";
import { errnoName } from "@mmemu/kernel";
import { EXIT } from "@mmemu/bench";
import {
  loadScenarioFile, parseFaultOptions, parseLimitOptions, prepareScenarioDevices, runScenario, ScenarioError,
  type LimitOverrides, type RunResult, type Scenario, type ScenarioDevices, type StepRecord,
} from "@mmemu/scenario";
import { componentOptions, type ComponentFlags } from "@mmemu/bench";
import { isPluginPath } from "@mmemu/components";
import { resolve } from "node:path";

/** A --migrator/--engine value: a built-in's name, or a plug-in file relative to the working directory. */
function pluginSpec(x: string): string {
  return isPluginPath(x) ? resolve(x) : x;
}

/** Rows of a scenario's table in text mode; later steps are counted (and listed if they fail). */
export const TABLE_ROWS = 500;
/** Mismatch lines listed per scenario in text mode; the others are counted. */
export const MISMATCH_LINES = 200;

export interface RunCommandOptions extends ComponentFlags {
  readonly json?: boolean;
  readonly trace?: boolean;
  readonly kernel?: string;
  /** `--limit name=value` (repeatable): raise a scenario limit. */
  readonly limit?: readonly string[];
  /** `--fault point[:knob=value,...]` (repeatable): arm a fault point before the first step. */
  readonly fault?: readonly string[];
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
    .option("--trace", "print tracepoints as they fire (to stderr with --json)")
    .option("--kernel <version>", "override the scenario's kernel version (6.1, 6.12, mainline)")
    .option("--fault <point[:knob=value,...]>", "arm a fault point before the first step (repeatable), e.g. --fault migrate_extra_ref:probability=0.1,times=5", (v: string, prev: string[] = []) => [...prev, v])
    .option("--limit <name=value>", "raise a scenario limit (repeatable), e.g. --limit steps=5000000 (docs/scenarios.md, Limits)", (v: string, prev: string[] = []) => [...prev, v])
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
  try {
    limits = parseLimitOptions(opts.limit);
    faults = parseFaultOptions(opts.fault);
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
    const traceOut = opts.json ? io.err : io.out;
    const shown: string[] = [];
    let hidden = 0;
    const onStep = opts.json
      ? (rec: StepRecord) => io.out(`${JSON.stringify(jsonRecord(file, scenario, rec))}\n`)
      : (rec: StepRecord) => {
        for (const mm of rec.mismatches) {
          if (shown.length < MISMATCH_LINES) shown.push(`  step ${rec.index} (${rec.op}): ${mm}\n`);
          else hidden++;
        }
      };
    const result: RunResult = runScenario(scenario, {
      devices, onStep, keepSteps: opts.json ? 0 : TABLE_ROWS, limits, faults,
      ...(opts.trace ? { onTrace: (line: string) => traceOut(`${line}\n`) } : {}),
    });
    if (result.machineError === true) {
      // The machine could not be built (a module parameter or sysfs write refused, a probe that threw): nothing ran.
      io.err(`mmemu: ${file}: ${result.error}\n`);
      return EXIT.USAGE;
    }
    if (opts.json) io.out(`${JSON.stringify(summaryRecord(file, result))}\n`);
    else io.out(renderTable(file, scenario, result, shown, hidden));
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

function summaryRecord(file: string, res: RunResult): Record<string, unknown> {
  return {
    scenario: res.name, file, summary: true, kernel: res.kernel, ok: res.ok, steps: res.stepsRun, failed: res.failed,
    ...(res.error !== undefined ? { error: res.error } : {}), ...(res.limitReached !== undefined ? { limitReached: res.limitReached } : {}), virtualNs: res.virtualNs, wallMs: round(res.wallMs),
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
  text += `${res.ok ? "PASS" : "FAIL"}: ${res.stepsRun} steps, ${res.failed} failed, ${(res.virtualNs / 1000).toFixed(1)} µs virtual, ${res.wallMs.toFixed(0)} ms\n`;
  return text;
}
