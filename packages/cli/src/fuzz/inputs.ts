/**
 * Fuzzing the emulator's own inputs: scenario files (generated cases with random fields replaced,
 * removed or the text cut short), command lines of `mmemu run` (such a file with fuzzed options), and
 * the option parsers every command uses. Syscall arguments are fuzzed by the system campaign's wild calls. The property: a bad input is refused with a ScenarioError / UsageError naming it (exit code 2),
 * a good one runs; nothing else ever escapes (no stack trace), and each input finishes within
 * INPUT_TIME_LIMIT_MS (no hang).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { intOption, outputPath, UsageError } from "@mmemu/bench";
import { runCommand, type RunCommandOptions } from "../commands/run.js";
import { parseFaultOptions, parseLimitOptions, parseScenario, prepareScenarioDevices, runScenario, ScenarioError } from "@mmemu/scenario";
import { caseArb, caseScenario } from "./campaign.js";

/** Wall time one input may take before it counts as a hang. */
export const INPUT_TIME_LIMIT_MS = 20_000;

/** Limits a fuzzed scenario runs under (replacing its own): every run ends in well under a second. */
const RUN_LIMITS = { steps: 500, virtualNs: 3600e9, threadAccesses: 20_000, arrayEntries: 1 << 14, machineMemory: 128 << 20, repeatDepth: 3 };

export interface InputStats {
  scenarios: number;
  /** Command lines of `mmemu run` tried (a fuzzed file with fuzzed options). */
  commandLines: number;
  refused: number;
  ran: number;
  parserValues: number;
  /** Inputs that threw something other than the refusal they should give, or ran too long. */
  violations: string[];
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function paths(v: Json, at: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

function mutate(root: Json, path: Array<string | number>, replacement: Json | undefined): Json {
  if (path.length === 0) return replacement ?? null;
  const copy = JSON.parse(JSON.stringify(root)) as Json;
  let cur = copy as Record<string | number, Json>;
  for (const p of path.slice(0, -1)) cur = cur[p] as Record<string | number, Json>;
  const last = path.at(-1)!;
  if (replacement === undefined) {
    if (Array.isArray(cur)) cur.splice(last as number, 1);
    else delete cur[last];
  } else cur[last] = replacement;
  return copy;
}

const nasty = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
  fc.constantFrom<Json>(-1, 0, 1e9, 1e15, 2 ** 53, -(2 ** 31), 1.5, "", "0x", "NaN", "1e400", "$x", "KERNEL*KERNEL", "((((", "\u0000", "4096GiB", "99999999p", "r0+0xffffffffffffffff"),
  fc.string({ maxLength: 12 }) as fc.Arbitrary<Json>,
);

/** One mutated scenario text: a generated case with some fields replaced or removed, maybe cut short. */
export function scenarioTextArb(): fc.Arbitrary<{ text: string; yaml: boolean }> {
  return fc.tuple(caseArb(), fc.array(fc.tuple(fc.nat(), fc.option(nasty, { nil: undefined })), { maxLength: 3 }), fc.option(fc.nat(), { nil: null }), fc.boolean())
    .map(([c, muts, cut, yaml]) => {
      let obj = caseScenario(c) as Json;
      for (const [pick, rep] of muts) {
        const ps = paths(obj);
        obj = mutate(obj, ps[pick % ps.length]!, rep);
      }
      let text = JSON.stringify(obj, null, yaml ? 1 : 0);
      if (cut !== null && cut % 4 === 0) text = text.slice(0, cut % (text.length + 1));
      // JSON is YAML too; as .yaml it goes through the YAML parser instead.
      return { text, yaml };
    });
}

/** Run one input; a synchronous `f` is checked synchronously (nothing is awaited then). */
async function timed(stats: InputStats, what: string, f: () => void | Promise<void>): Promise<void> {
  const t0 = performance.now();
  try {
    const r = f();
    if (r instanceof Promise) await r;
  } catch (e) {
    stats.violations.push(`${what}: threw ${(e as Error).name}: ${(e as Error).message.split("\n")[0]}`);
  }
  const ms = performance.now() - t0;
  if (ms > INPUT_TIME_LIMIT_MS) stats.violations.push(`${what}: took ${ms.toFixed(0)} ms (over ${INPUT_TIME_LIMIT_MS} ms: a hang)`);
}

/** Parse and (if valid) run one scenario text; record what happened. */
export async function fuzzScenarioText(input: { text: string; yaml: boolean }, stats: InputStats): Promise<void> {
  stats.scenarios++;
  const file = input.yaml ? "fuzz.yaml" : "fuzz.json";
  await timed(stats, `scenario ${JSON.stringify(input.text.slice(0, 120))}`, async () => {
    let s;
    try {
      s = parseScenario(input.text, file, input.yaml, RUN_LIMITS);
    } catch (e) {
      if (!(e instanceof ScenarioError)) throw e;
      if (e.problems.length === 0 || !e.message.startsWith(file)) throw new Error(`a refusal that names nothing: ${e.message}`);
      stats.refused++;
      return;
    }
    let devices;
    try {
      devices = await prepareScenarioDevices(s);
    } catch (e) {
      // The profile, migrator, engines or module parameters named cannot be loaded: refused by field or option.
      const msg = (e as Error).message;
      if (!/^(machine\.|--migrator|--engine|profile )/.test(msg)) throw new Error(`a refusal of the devices that names nothing: ${msg}`);
      stats.refused++;
      return;
    }
    const r = runScenario(s, { devices, keepSteps: 0, limits: RUN_LIMITS });
    // A machine that cannot be built for a reason that names its field (a sysfs write or module
    // parameter the driver refuses, as the kernel would) is a refusal: mmemu run exits 2 naming it.
    if (r.machineError === true && /^machine: cannot build the machine: machine\.[a-z_.]+/.test(r.error ?? "")) {
      stats.refused++;
      return;
    }
    stats.ran++;
    // A step that throws is the emulator failing on input it accepted (a limit reached is fine).
    if (r.error !== undefined && r.limitReached === undefined) throw new Error(`accepted, then the run stopped: ${r.error}`);
  });
}

/** Values for the option parsers: numbers, paths and knob lists, good and bad. */
const optionValue = fc.oneof(fc.string({ maxLength: 16 }), fc.constantFrom("", " ", "abc", "-1", "0", "1", "1.5", "1e3", "0x10", "150", "99999999999999999999", "/", "/etc/hostname/x", "/dev/null", "a\u0000b", ".", "dir/", "steps=5", "steps=", "=5", "migrate_extra_ref:probability=2", "ptdma.hang:times=-1,target=3", "x:y=z"));

/** Every parser either returns a valid value or throws an error that names its option. */
export function fuzzOptionValue(v: string, stats: InputStats): void {
  stats.parserValues++;
  const expectNamed = (option: string, f: () => unknown) => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof Error) || !e.message.includes(option)) throw new Error(`${option} ${JSON.stringify(v)}: the error does not name the option: ${(e as Error).message}`);
    }
  };
  void timed(stats, `option value ${JSON.stringify(v)}`, () => {
    expectNamed("--max-evals", () => {
      const n = intOption("--max-evals", v, 1, 100_000);
      if (!(Number.isInteger(n) && n >= 1 && n <= 100_000)) throw new Error(`--max-evals accepted ${JSON.stringify(v)} as ${n}`);
    });
    expectNamed("--json", () => {
      try {
        outputPath("--json", v, "file");
      } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        throw e;
      }
    });
    expectNamed("--limit", () => parseLimitOptions([v]));
    expectNamed("--fault", () => parseFaultOptions([v]));
  });
}

/** A campaign over the emulator's inputs; returns the stats (violations listed). */
export async function inputCampaign(runs: number, seed: number): Promise<InputStats> {
  const stats: InputStats = { scenarios: 0, commandLines: 0, refused: 0, ran: 0, parserValues: 0, violations: [] };
  await fc.assert(fc.asyncProperty(scenarioTextArb(), async (input) => void await fuzzScenarioText(input, stats)), { numRuns: runs, seed, endOnFailure: true });
  fc.assert(fc.property(optionValue, (v) => void fuzzOptionValue(v, stats)), { numRuns: runs, seed, endOnFailure: true });
  await fc.assert(fc.asyncProperty(scenarioTextArb(), runOptionsArb, async (input, opts) => void await fuzzRunCommand(input, opts, stats)), { numRuns: Math.ceil(runs / 4), seed, endOnFailure: true });
  return stats;
}

/** Options of `mmemu run`, good and bad. */
export const runOptionsArb: fc.Arbitrary<RunCommandOptions> = fc.record({
  json: fc.boolean(),
  kernel: fc.option(fc.oneof(fc.constantFrom("6.1", "6.12", "mainline", "5.4", ""), fc.string({ maxLength: 6 })), { nil: undefined }),
  limit: fc.option(fc.array(fc.oneof(fc.constantFrom("steps=100", "virtualNs=1", "stepz=1", "steps=", "steps=-1", "arrayEntries=99999999999"), fc.string({ maxLength: 10 })), { maxLength: 2 }), { nil: undefined }),
  fault: fc.option(fc.array(fc.oneof(fc.constantFrom("migrate_extra_ref", "folio_trylock:probability=0.5", "ptdma.hang:target=99", "no_such_point", "x:probability=2", ":"), fc.string({ maxLength: 10 })), { maxLength: 2 }), { nil: undefined }),
}, { requiredKeys: ["json"] });

let fuzzDir: string | null = null;

/**
 * `mmemu run FILE [options]` on a fuzzed scenario text: the exit code is 0, 1 or 2, nothing prints a
 * stack trace, and a 2 comes with a message naming the file or the option.
 */
export async function fuzzRunCommand(input: { text: string; yaml: boolean }, opts: RunCommandOptions, stats: InputStats): Promise<void> {
  stats.commandLines++;
  fuzzDir ??= mkdtempSync(join(tmpdir(), "mmemu-fuzz-run-"));
  const file = join(fuzzDir, input.yaml ? "case.yaml" : "case.json");
  writeFileSync(file, input.text);
  await timed(stats, `mmemu run ${JSON.stringify(opts)} on ${JSON.stringify(input.text.slice(0, 80))}`, async () => {
    let err = "";
    const code = await runCommand([file], { ...opts, limit: [...(opts.limit ?? []), "steps=500", "threadAccesses=20000"] }, { out: () => {}, err: (t) => void (err += t) });
    if (code !== 0 && code !== 1 && code !== 2) throw new Error(`exit code ${code}`);
    if (/\n\s+at .+:\d+:\d+/.test(err)) throw new Error(`a stack trace: ${err.slice(0, 200)}`);
    if (code === 2 && !err.includes(file) && !/--(kernel|limit|fault)/.test(err)) throw new Error(`exit 2 without naming the file or option: ${err.slice(0, 200)}`);
  });
}
