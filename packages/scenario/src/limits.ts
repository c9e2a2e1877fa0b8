/**
 * The limits that keep a scenario from exhausting the machine it runs on. Each is a named, documented
 * default (docs/scenarios.md, "Limits") that a scenario raises explicitly in its `limits` section, or a
 * run with `mmemu run --limit name=value`. Validation checks what can be known before running (machine
 * size, array lengths, repeat nesting and expanded step count, thread periods, the virtual time slept);
 * the runner enforces the rest while running (steps executed, virtual time, thread accesses) and stops
 * with an error naming the step and the limit.
 */
import { z } from "zod";

export interface ScenarioLimits {
  /** Total memory of the machine's nodes, bytes. Each 4 KiB frame costs the host ~40 bytes. */
  readonly machineMemory: number;
  /** Entries of one argument array or page walk: a move_pages list/range/fill, inspect or spawn pages. */
  readonly arrayEntries: number;
  /** Nesting depth of repeat steps. */
  readonly repeatDepth: number;
  /** Steps executed, after expanding repeats (checked before the run and while it runs). */
  readonly steps: number;
  /** Smallest period of a reader/writer thread (spawn.everyNs), ns. */
  readonly threadPeriodNs: number;
  /** Virtual time the run may take, ns (the sleeps are checked before the run, the clock while it runs). */
  readonly virtualNs: number;
  /** Accesses all reader/writer threads together may make in a run (each is a host event). */
  readonly threadAccesses: number;
}

/** The defaults: generous for every shipped example and benchmark, small enough to fail in seconds. */
export const DEFAULT_LIMITS: ScenarioLimits = {
  machineMemory: 16 * 2 ** 30,
  arrayEntries: 1 << 22,
  repeatDepth: 4,
  steps: 1_000_000,
  threadPeriodNs: 10,
  virtualNs: 60e9,
  threadAccesses: 10_000_000,
};

/** Hard ceilings no setting can pass (the emulator's own representation). */
export const LIMIT_CEILINGS: ScenarioLimits = {
  // 2^31 page frames of 4 KiB (pfns are int32).
  machineMemory: 2 ** 31 * 4096 - 4096,
  arrayEntries: 2 ** 28,
  repeatDepth: 64,
  steps: 2 ** 40,
  threadPeriodNs: 1,
  virtualNs: Number.MAX_SAFE_INTEGER,
  threadAccesses: 2 ** 40,
};

export const LIMIT_NAMES = Object.keys(DEFAULT_LIMITS) as ReadonlyArray<keyof ScenarioLimits>;

const limit = (doc: string) => z.number().int().positive().optional().describe(doc);

/** The `limits` section of a scenario (bytes for machineMemory; sizes like "64GiB" accepted there). */
export const LimitsSchema = z.object({
  machineMemory: z.union([z.number().int().positive(), z.string()]).optional().describe(`total node memory, bytes or a size (default ${DEFAULT_LIMITS.machineMemory / 2 ** 30} GiB)`),
  arrayEntries: limit(`entries of one argument array or page walk (default ${DEFAULT_LIMITS.arrayEntries})`),
  repeatDepth: limit(`nesting depth of repeat steps (default ${DEFAULT_LIMITS.repeatDepth})`),
  steps: limit(`steps executed after expanding repeats (default ${DEFAULT_LIMITS.steps})`),
  threadPeriodNs: limit(`smallest spawn.everyNs (default ${DEFAULT_LIMITS.threadPeriodNs})`),
  virtualNs: limit(`virtual time the run may take, ns (default ${DEFAULT_LIMITS.virtualNs})`),
  threadAccesses: limit(`accesses of all reader/writer threads together (default ${DEFAULT_LIMITS.threadAccesses})`),
}).strict().default({}).describe("raise the limits that protect the host (docs/scenarios.md, Limits)");

/** A limit reached while running: the runner stops and reports the step. */
export class LimitError extends Error {
  constructor(readonly limit: keyof ScenarioLimits, message: string) {
    super(`${message} (limit ${limit}; raise it with "limits": {"${limit}": ...} in the scenario or --limit ${limit}=N)`);
    this.name = "LimitError";
  }
}

/**
 * Parse `--limit name=value` options into overrides; throws an Error naming the option on a bad one.
 */
export function parseLimitOptions(values: readonly string[] | undefined): Partial<Record<keyof ScenarioLimits, number>> {
  const out: Partial<Record<keyof ScenarioLimits, number>> = {};
  for (const v of values ?? []) {
    const m = /^([A-Za-z]+)=(\d+)$/.exec(v.trim());
    if (m === null) throw new Error(`--limit "${v}": expected name=whole number, e.g. --limit steps=5000000 (names: ${LIMIT_NAMES.join(", ")})`);
    const name = m[1] as keyof ScenarioLimits;
    if (!LIMIT_NAMES.includes(name)) throw new Error(`--limit "${v}": no limit "${m[1]}" (names: ${LIMIT_NAMES.join(", ")})`);
    const n = Number(m[2]);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--limit "${v}": expected a whole number from 1`);
    out[name] = n;
  }
  return out;
}

/**
 * Parse `--fault point[:knob=value,...]` options (knobs: probability, interval, times, space, target);
 * throws an Error naming the option on a bad one. Whether the point exists is known once the machine is built.
 */
export function parseFaultOptions(values: readonly string[] | undefined): Array<{ point: string; config: Record<string, number> }> {
  const out: Array<{ point: string; config: Record<string, number> }> = [];
  for (const v of values ?? []) {
    const m = /^([a-z_][a-z0-9_.]*)(?::(.*))?$/.exec(v.trim());
    if (m === null) throw new Error(`--fault "${v}": expected point[:knob=value,...], e.g. --fault migrate_extra_ref:probability=0.1,times=5`);
    const config: Record<string, number> = {};
    for (const kv of (m[2] ?? "").split(",").filter((x) => x !== "")) {
      const km = /^(probability|interval|times|space|target)=(-?[0-9.]+)$/.exec(kv.trim());
      const n = km === null ? NaN : Number(km[2]);
      if (km === null || !Number.isFinite(n)) throw new Error(`--fault "${v}": bad knob "${kv}" (probability=0..1, interval=N, times=N|-1, space=N, target=N)`);
      config[km[1]!] = n;
    }
    out.push({ point: m[1]!, config });
  }
  return out;
}
