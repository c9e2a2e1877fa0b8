/**
 * The scenario runner: builds the machine and processes a scenario describes, executes its steps in
 * order (expanding repeats), checks each step's result against what the scenario expects and produces
 * one record per step. Syscalls go through @mmemu/move-pages with their arrays in the caller's emulated
 * memory; memory operations go through mm-core as the process itself would do them.
 */
import type { FaultConfig } from "@mmemu/kernel";
import type { Machine } from "@mmemu/mm-core";
import { MIGRATE_OFFLOAD_DESIGN_FALLBACKS, migrateOffloadOf } from "@mmemu/offload-api";
import { foreignFrames, throwIfOops } from "@mmemu/components";
import type { OpDef, Outcome } from "./op.js";
import { OPS } from "./ops/index.js";
import { resolveLimits, type LimitOverrides } from "./check.js";
import { evalAddrNumber } from "./expr.js";
import { LimitError, type ScenarioLimits } from "./limits.js";
import type { Scenario, ScenarioStep } from "./schema.js";
import type { ScenarioDevices } from "./devices.js";
import { World } from "./world.js";
import { ConcurrentCall, joinCall } from "./concurrent.js";
import { checkField } from "./expect.js";

/** What one executed step did. */
export interface StepRecord {
  /** "3" for steps[3]; "5.1.0" for steps[5], iteration 1, inner step 0. */
  readonly index: string;
  readonly op: string;
  readonly name?: string;
  /** The call in a short readable form. */
  readonly call: string;
  /** What happened (op-specific): ret/errno/status for syscalls, addresses, inspection results. */
  readonly result: Record<string, unknown>;
  readonly ok: boolean;
  /** Each way the result differs from the expectation. */
  readonly mismatches: readonly string[];
  /** Virtual time the step took, ns. */
  readonly virtualNs: number;
  /** Host time the step took, ms. */
  readonly wallMs: number;
}

export interface RunResult {
  readonly name: string;
  readonly kernel: string;
  readonly ok: boolean;
  /** The first RunOptions.keepSteps records (every record went to onStep as it finished). */
  readonly steps: readonly StepRecord[];
  /** Steps executed. */
  readonly stepsRun: number;
  /** Steps whose result did not match. */
  readonly failed: number;
  /** A step that threw or reached a limit, or a machine that could not be built (the run stopped there). */
  readonly error?: string;
  /** The limit that stopped the run, when one did (an input problem: mmemu run exits 2). */
  readonly limitReached?: keyof ScenarioLimits;
  /** A run option (RunOptions.faults) the machine could not take: nothing ran (mmemu run exits 2). */
  readonly badOption?: boolean;
  /** The machine could not be built (a module parameter, a sysfs write, a probe that threw): nothing ran (mmemu run exits 2). */
  readonly machineError?: boolean;
  readonly virtualNs: number;
  readonly wallMs: number;
  /** Folios the CPU copied although their batch went to the migrator, by cause ({} without one). */
  readonly fallback: Readonly<Record<string, number>>;
  /** With machine.strictOffload: why the run failed for a batch that fell back. */
  readonly strictOffload?: string;
}

/** Records a run keeps in RunResult.steps unless told otherwise; the rest only stream to onStep. */
export const KEEP_STEPS_DEFAULT = 10_000;

export interface RunOptions {
  /** Called with each record as soon as its step finishes. */
  readonly onStep?: (rec: StepRecord) => void;
  /**
   * Called with the scenario's machine before the first step (attach trace probes, note counters);
   * a function it returns is called after the last step, even when a step threw.
   */
  readonly attach?: (m: Machine) => (() => void) | void;
  /** Called right before each move_pages/migrate_pages call (benchmarks collect garbage here). */
  readonly beforeSyscall?: () => void;
  /** The profile and components of a scenario with `machine.profile` (prepareScenarioDevices). */
  readonly devices?: ScenarioDevices | null;
  /** Records to keep in RunResult.steps (0 when streaming them, so memory stays flat). @default KEEP_STEPS_DEFAULT */
  readonly keepSteps?: number;
  /** Limits above the scenario's own (mmemu run --limit). */
  readonly limits?: LimitOverrides;
  /** Fault points armed before the first step (mmemu run --fault). */
  readonly faults?: ReadonlyArray<{ readonly point: string; readonly config: FaultConfig }>;
}

/** Run a validated scenario. */
export function runScenario(s: Scenario, opts: RunOptions = {}): RunResult {
  const t0 = performance.now();
  const limits = resolveLimits(s, opts.limits);
  const keep = opts.keepSteps ?? KEEP_STEPS_DEFAULT;
  const records: StepRecord[] = [];
  const count = { run: 0, failed: 0 };
  let error: string | undefined;
  let limitReached: keyof ScenarioLimits | undefined;
  let badOption = false;
  let machineError = false;
  let stopAttach: (() => void) | null = null;
  let w: World | null = null;
  const emit = (rec: StepRecord) => {
    count.run++;
    if (!rec.ok) count.failed++;
    if (records.length < keep) records.push(rec);
    opts.onStep?.(rec);
    if (w !== null) throwIfOops(w.m, w.pluginFiles, w.dmaengine);
  };
  try {
    w = buildWorld(s, opts.devices ?? null, limits);
    w.beforeSyscall = opts.beforeSyscall;
    if (opts.attach) stopAttach = opts.attach(w.m) ?? null;
    for (const f of opts.faults ?? []) {
      try {
        w.m.core.faults.arm(f.point, f.config);
      } catch (e) {
        throw new StopRun(`--fault ${f.point}: ${(e as Error).message}`, undefined, true);
      }
    }
    runSteps(w, s.steps, "", {}, emit, count);
  } catch (e) {
    error = e instanceof StopRun ? e.message : `${(e as Error).name}: ${(e as Error).message}`;
    if (e instanceof StopRun && e.limit !== undefined) limitReached = e.limit;
    if (e instanceof StopRun && e.badOption) badOption = true;
    if (e instanceof StopRun && e.machine) machineError = true;
  } finally {
    if (w !== null) for (const a of w.activities.values()) a.stop();
    stopAttach?.();
  }
  const fallback = w === null ? {} : { ...migrateOffloadOf(w.m)?.stats.fallbackFolios };
  const strict = s.machine.strictOffload ? strictOffloadFailure(fallback) : undefined;
  return {
    name: s.name, kernel: s.kernel, ok: count.failed === 0 && error === undefined && strict === undefined, steps: records, stepsRun: count.run,
    failed: count.failed, ...(error !== undefined ? { error } : {}), ...(limitReached !== undefined ? { limitReached } : {}), ...(badOption ? { badOption } : {}), ...(machineError ? { machineError } : {}),
    virtualNs: w?.m.sim.now ?? 0, wallMs: performance.now() - t0, fallback,
    ...(strict !== undefined ? { strictOffload: strict } : {}),
  };
}

/** The machine and processes, or a StopRun naming the machine field the emulator refused. */
function buildWorld(s: Scenario, devices: ScenarioDevices | null, limits: ScenarioLimits): World {
  try {
    return new World(s, devices, limits);
  } catch (e) {
    throw new StopRun(`machine: cannot build the machine: ${(e as Error).message}`, undefined, false, true);
  }
}

class StopRun extends Error {
  constructor(message: string, readonly limit?: keyof ScenarioLimits, readonly badOption = false, readonly machine = false) {
    super(message);
  }
}

function limitStop(index: string, op: string, e: LimitError): StopRun {
  return new StopRun(`steps ${index} (${op}): ${e.message}`, e.limit);
}

/** The strict-offload verdict: folios that fell back for a cause other than the core's by-design exclusions. */
function strictOffloadFailure(fallback: Readonly<Record<string, number>>): string | undefined {
  const bad = Object.entries(fallback).filter(([cause]) => !MIGRATE_OFFLOAD_DESIGN_FALLBACKS.includes(cause));
  if (bad.length === 0) return undefined;
  const n = bad.reduce((a, [, v]) => a + v, 0);
  return `machine.strictOffload: ${n} folio(s) of offloaded batches fell back to the CPU copy (${bad.map(([c, v]) => `${c} ${v}`).join(", ")})`;
}

function runSteps(w: World, steps: readonly ScenarioStep[], prefix: string, vars: Record<string, number>, emit: (r: StepRecord) => void, count: { run: number }): void {
  steps.forEach((st, i) => {
    const index = `${prefix}${i}`;
    if (st.op === "repeat") {
      for (let it = 0; it < st.times; it++) {
        const v: Record<string, number> = { ...vars, i: it };
        for (const [name, values] of Object.entries(st.vars)) {
          const x = values[it % values.length]!;
          v[name] = typeof x === "number" ? x : evalAddrNumber(x, { labels: w.labels, vars: v });
        }
        runSteps(w, st.steps, `${index}.${it}.`, v, emit, count);
      }
      return;
    }
    if (count.run >= w.limits.steps) {
      throw limitStop(index, st.op, new LimitError("steps", `${count.run} steps have run, the most a run may execute`));
    }
    const t0 = performance.now();
    const v0 = w.m.sim.now;
    const violations0 = w.checker?.violations.length ?? 0;
    let out: Outcome;
    try {
      out = execStep(w, st, { labels: w.labels, vars });
    } catch (e) {
      // A plug-in's exception keeps its own stack frames (the run stops; the machine is not reused).
      const frames = foreignFrames(e);
      const msg = `${(e as Error).name}: ${(e as Error).message}${frames.length > 0 ? `\n${frames.join("\n")}` : ""}`;
      emit({ index, op: st.op, ...(st.name ? { name: st.name } : {}), call: st.op, result: {}, ok: false, mismatches: [`the step threw ${msg}`], virtualNs: w.m.sim.now - v0, wallMs: performance.now() - t0 });
      throw new StopRun(`steps ${index} (${st.op}) threw ${msg}`);
    } finally {
      w.releaseArgs();
    }
    const mismatches = [...out.mismatches];
    if (w.checker !== null) for (const v of w.checker.violations.slice(violations0)) mismatches.push(`invariant violated: ${v}`);
    emit({
      index, op: st.op, ...(st.name ? { name: st.name } : {}), call: out.call, result: out.result,
      ok: mismatches.length === 0, mismatches, virtualNs: w.m.sim.now - v0, wallMs: performance.now() - t0,
    });
    // Run-time limits, checked after each step: the step that crossed one is named.
    if (w.threadBudget.exhausted) {
      throw limitStop(index, st.op, new LimitError("threadAccesses", `the reader/writer threads made ${w.limits.threadAccesses} accesses and were stopped`));
    }
    if (w.m.sim.now > w.limits.virtualNs) {
      throw limitStop(index, st.op, new LimitError("virtualNs", `the virtual clock passed ${w.limits.virtualNs} ns (now ${w.m.sim.now} ns)`));
    }
  });
}

/** Execute one step through its operation's handler (start and join: concurrent.ts). */
function execStep(w: World, st: Exclude<ScenarioStep, { op: "repeat" }>, scope: { labels: Map<string, bigint>; vars: Record<string, number> }): Outcome {
  if (st.op === "start") {
    // The scope is copied: the call runs later, after the repeat variables may have moved on.
    const call = new ConcurrentCall(w, st.task, st.call, { labels: scope.labels, vars: { ...scope.vars } }, st.delayNs);
    w.calls.set(st.task, call);
    return { call: `start ${st.task}: ${st.call.op} in ${call.timing().thread} at +${st.delayNs} ns`, result: { startNs: call.startNs }, mismatches: [] };
  }
  if (st.op === "join") {
    const call = w.calls.get(st.task)!;
    w.calls.delete(st.task);
    const out = joinCall(w, call);
    const t = call.timing();
    const e = st.expect ?? {};
    const mismatches = [...out.mismatches, ...checkField("mmapLockWaits", t.mmapLockWaits, e.mmapLockWaits), ...checkField("migrationWaits", t.migrationWaits, e.migrationWaits)];
    return { call: `join ${st.task}: ${out.call}`, result: { ...out.result, task: t }, mismatches };
  }
  return (OPS[st.op] as OpDef).run(w, st, scope);
}
