/**
 * `mmemu fuzz --runs N --seed S [--inputs N] [--out DIR]`: property-based campaigns (src/fuzz) over whole
 * emulated systems with correct drivers, and over the emulator's own inputs. Prints runs, migrations,
 * pages verified, faults injected by kind and violations; a violation is shrunk to a minimal case and
 * written to DIR as a scenario file that reproduces it (`mmemu run FILE`). Exit code 1 when anything
 * was violated, 2 on a bad option, 0 otherwise.
 */
import { join } from "node:path";
import type { Command } from "commander";
import fc from "fast-check";
import { EXIT, intOption, outputPath, writeFileAtomic } from "@mmemu/bench";
import { caseArb, caseScenario, emptyStats, runCase, type CampaignStats, type FuzzCase } from "../fuzz/campaign.js";
import { inputCampaign, type InputStats } from "../fuzz/inputs.js";

export interface FuzzOptions {
  readonly runs: string;
  readonly seed: string;
  readonly inputs?: string;
  readonly out: string;
}

export interface FuzzReport {
  readonly stats: CampaignStats;
  readonly inputs: InputStats | null;
  /** The scenario file written for a violation, or null. */
  readonly reproducer: string | null;
  readonly violations: readonly string[];
  readonly wallMs: number;
}

/** Run the campaigns; `log` gets progress and the report lines. */
export async function runFuzz(o: { runs: number; seed: number; inputs: number; out: string }, log: (line: string) => void = () => {}): Promise<FuzzReport> {
  const t0 = performance.now();
  const stats = emptyStats();
  let failing: FuzzCase | null = null;
  const every = Math.max(1, Math.floor(o.runs / 10));
  const res = await fc.check(fc.asyncProperty(caseArb(), async (c) => {
    const v = await runCase(c, stats);
    if (stats.runs % every === 0) log(`  ${stats.runs} runs, ${stats.migrations} migrations, ${stats.violations} violations, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    return v.length === 0;
  }), { numRuns: o.runs, seed: o.seed });
  let reproducer: string | null = null;
  let violations: string[] = [];
  if (res.failed && res.counterexample !== null) {
    failing = res.counterexample[0];
    // The shrunk case, run once more for its messages, and written out as a scenario that reproduces it.
    violations = await runCase(failing, emptyStats());
    reproducer = join(o.out, `fuzz-seed${o.seed}-run${res.numRuns}.json`);
    writeFileAtomic(reproducer, JSON.stringify(caseScenario(failing), null, 1) + "\n");
  }
  const inputs = o.inputs > 0 ? await inputCampaign(o.inputs, o.seed) : null;
  return { stats, inputs, reproducer, violations: [...violations, ...(inputs?.violations ?? [])], wallMs: performance.now() - t0 };
}

export function formatFuzzReport(r: FuzzReport, o: { runs: number; seed: number }): string {
  const s = r.stats;
  const kinds = Object.entries(s.faultsInjected).sort().map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  const lines = [
    `fuzz: seed ${o.seed}, ${o.runs} runs requested, ${(r.wallMs / 1000).toFixed(1)} s`,
    `  runs ${s.runs} (including shrinking), migrations ${s.migrations}, pages verified ${s.pagesVerified}`,
    `  faults injected: ${kinds}`,
    `  concurrent calls: ${Object.entries(s.concurrentCalls).sort().map(([k, v]) => `${k} ${v}`).join(", ") || "none"}; ${s.concurrentOverlapped} during the action they raced, ${s.concurrentLockWaits} mmap_lock waits, ${s.concurrentMigrationWaits} migration-entry waits`,
    `  violations: ${s.violations}${r.reproducer !== null ? ` (minimal case: ${r.reproducer}; reproduce with: pnpm mmemu run ${r.reproducer})` : ""}`,
  ];
  if (r.inputs !== null) {
    const i = r.inputs;
    lines.push(`  inputs: ${i.scenarios} scenario texts (${i.refused} refused with a named error, ${i.ran} ran), ${i.commandLines} mmemu run command lines, ${i.parserValues} option values; violations ${i.violations.length} (stack traces, unnamed errors or hangs)`);
  }
  for (const v of r.violations.slice(0, 20)) lines.push(`  ! ${v}`);
  return lines.join("\n");
}

export function registerFuzzCommand(program: Command): void {
  program
    .command("fuzz")
    .description("property-based campaigns: generated machines, workloads, migrations and faults with correct drivers (data integrity, invariants), and the emulator's own inputs")
    .option("--runs <n>", "generated systems to run", "200")
    .option("--seed <n>", "fast-check seed (the same seed gives the same cases)", "1")
    .option("--inputs <n>", "fuzzed scenario texts and option values (default: runs / 2)")
    .option("--out <dir>", "where a minimal failing case is written as a scenario file", "fuzz-failures")
    .action(async (opts: FuzzOptions) => {
      const runs = intOption("--runs", opts.runs, 1, 10_000_000);
      const seed = intOption("--seed", opts.seed, 0, 2 ** 31 - 1);
      const inputs = opts.inputs === undefined ? Math.ceil(runs / 2) : intOption("--inputs", opts.inputs, 0, 10_000_000);
      const out = outputPath("--out", opts.out, "dir");
      const report = await runFuzz({ runs, seed, inputs, out }, (l) => process.stderr.write(`${l}\n`));
      process.stdout.write(`${formatFuzzReport(report, { runs, seed })}\n`);
      process.exitCode = report.violations.length > 0 || report.stats.violations > 0 ? EXIT.CHECK_FAILED : EXIT.OK;
    });
}
