/**
 * `mmemu run <scenario...>`: run scenario files and report each step — a table per scenario, or with
 * --json one JSON record per step (and one summary record per scenario). Exit status: 0 when every
 * expectation held, 1 when some did not (or a step threw), 2 when a file could not be read or is not a
 * valid scenario (nothing is run then).
 */
import type { Command } from "commander";
import Table from "cli-table3";
import { errnoName } from "@mmemu/kernel";
import {
  loadScenarioFile, prepareScenarioDevices, runScenario, ScenarioError, type RunResult, type Scenario, type ScenarioDevices, type StepRecord,
} from "@mmemu/scenario";
import { componentOptions, type ComponentFlags } from "@mmemu/bench";
import { resolve } from "node:path";

export interface RunCommandOptions extends ComponentFlags {
  readonly json?: boolean;
  readonly trace?: boolean;
  readonly kernel?: string;
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
    .action(async (files: string[], opts: RunCommandOptions) => {
      process.exitCode = await runCommand(files, opts, STD);
    });
}

/** Run the files; returns the exit status. */
export async function runCommand(files: readonly string[], opts: RunCommandOptions, io: Output = STD): Promise<number> {
  // Load everything first (plug-ins included): an invalid file stops the command before anything runs.
  const loaded: Array<{ file: string; scenario: Scenario; devices: ScenarioDevices | null }> = [];
  let invalid = false;
  for (const file of files) {
    try {
      const scenario = loadScenarioFile(file);
      if (opts.kernel !== undefined) {
        if (!["6.1", "6.12", "mainline"].includes(opts.kernel)) {
          io.err(`mmemu: --kernel ${opts.kernel}: expected one of 6.1, 6.12, mainline\n`);
          return 2;
        }
        scenario.kernel = opts.kernel as Scenario["kernel"];
      }
      // --migrator/--engine replace the scenario's (paths relative to where the command runs).
      const rel = (x: string) => (x.includes("/") || /\.(c|m)?(t|j)s$/.test(x) ? resolve(x) : x);
      const mc = scenario.machine as { migrator?: string; engines?: string[]; profile?: string };
      if (opts.migrator !== undefined) mc.migrator = rel(opts.migrator);
      if (opts.engine !== undefined) mc.engines = opts.engine.map(rel);
      if ((opts.migrator !== undefined || opts.engine !== undefined) && mc.profile === undefined) {
        throw new Error("--migrator/--engine need a scenario with machine.profile (devices come from a hardware profile)");
      }
      loaded.push({ file, scenario, devices: await prepareScenarioDevices(scenario) });
    } catch (e) {
      invalid = true;
      if (e instanceof ScenarioError) io.err(`mmemu: ${e.file}: invalid scenario\n${e.problems.map((p) => `  ${p}\n`).join("")}`);
      else io.err(`mmemu: ${file}: ${(e as Error).message}\n`);
    }
  }
  if (invalid) return 2;
  let failed = false;
  for (const { file, scenario, devices } of loaded) {
    const traceOut = opts.json ? io.err : io.out;
    let result: RunResult;
    try {
      result = runScenario(scenario, {
        devices,
      ...(opts.json ? { onStep: (rec: StepRecord) => io.out(`${JSON.stringify(jsonRecord(file, scenario, rec))}\n`) } : {}),
      ...(opts.trace ? { onTrace: (line: string) => traceOut(`${line}\n`) } : {}),
      });
    } catch (e) {
      // The machine could not be built (a migrator's sysfs write refused, a probe that threw).
      io.err(`mmemu: ${file}: ${(e as Error).message}\n`);
      return 2;
    }
    if (opts.json) io.out(`${JSON.stringify(summaryRecord(file, result))}\n`);
    else io.out(renderTable(file, scenario, result));
    if (!result.ok) failed = true;
  }
  return failed ? 1 : 0;
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
    scenario: res.name, file, summary: true, kernel: res.kernel, ok: res.ok, steps: res.steps.length, failed: res.failed,
    ...(res.error !== undefined ? { error: res.error } : {}), virtualNs: res.virtualNs, wallMs: round(res.wallMs),
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

/** A table with one row per step, then the mismatches. */
export function renderTable(file: string, scenario: Scenario, res: RunResult): string {
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
  for (const rec of res.steps) for (const mm of rec.mismatches) text += `  step ${rec.index} (${rec.op}): ${mm}\n`;
  if (res.error !== undefined) text += `  stopped: ${res.error}\n`;
  text += `${res.ok ? "PASS" : "FAIL"}: ${res.steps.length} steps, ${res.failed} failed, ${(res.virtualNs / 1000).toFixed(1)} µs virtual, ${res.wallMs.toFixed(0)} ms\n`;
  return text;
}
