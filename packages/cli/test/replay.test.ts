/**
 * Replay of bad inputs (those of issue 12 and more; files in test/bad-inputs/): each one, through the
 * real command-line entry (runCli with commander), must exit 2 with a one-line message naming the
 * input, print no stack trace, write no output file and finish within REPLAY_TIME_LIMIT_MS.
 */
import test from "ava";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCli } from "@mmemu/bench";
import { buildProgram } from "../src/index.js";

const inputs = fileURLToPath(new URL("./bad-inputs/", import.meta.url));
const example = fileURLToPath(new URL("../../../examples/scenarios/ltp-move_pages04.json", import.meta.url));
const out = mkdtempSync(join(tmpdir(), "mmemu-replay-"));
const f = (name: string) => join(inputs, name);

/** Wall time one bad input may take (they are all refused before any real work). */
const REPLAY_TIME_LIMIT_MS = 20_000;

/** Run the CLI in-process with argv, capturing what it prints and its exit code. */
async function cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const saved = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr), code: process.exitCode };
  let stdout = "";
  let stderr = "";
  process.stdout.write = ((s: string | Uint8Array) => ((stdout += String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => ((stderr += String(s)), true)) as typeof process.stderr.write;
  process.exitCode = undefined;
  const t0 = performance.now();
  try {
    const program = buildProgram();
    program.configureOutput({ writeOut: (s) => void (stdout += s), writeErr: (s) => void (stderr += s) });
    await runCli(program, ["node", "mmemu", ...args], "mmemu");
  } finally {
    process.stdout.write = saved.out;
    process.stderr.write = saved.err;
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = saved.code;
  return { code, stdout, stderr, ms: performance.now() - t0 };
}

/** Each bad input: its argv and a pattern the message must match (it names the input). */
const BAD: ReadonlyArray<readonly [string, readonly string[], RegExp]> = [
  ["reader thread every 1 ns, long sleep", ["run", f("hot-reader.json")], /hot-reader\.json: invalid scenario\n {2}steps\[1\]\.everyNs: 1 ns is shorter than limits\.threadPeriodNs/],
  ["inspect of 1e9 pages", ["run", f("inspect-1e9.json")], /inspect-1e9\.json[^\n]*\n {2}steps\[1\]\.pages: 1000000000 entries, more than limits\.arrayEntries/],
  ["two nested repeats of 100,000", ["run", f("nested-repeats.json")], /nested-repeats\.json[^\n]*\n {2}steps: the scenario expands to 10000000000 steps/],
  ["move_pages range of 1e9 pages", ["run", f("move-1e9.json")], /move-1e9\.json[^\n]*\n {2}steps\[1\]\.pages\.count: 1000000000 entries/],
  ["a 16 TiB node", ["run", f("huge-machine.json")], /huge-machine\.json[^\n]*\n {2}machine\.nodes: the nodes have 17592186044416 bytes[^\n]*frame limit/],
  ["a limit reached while running", ["run", f("hot-writer-budget.json")], /stopped: steps 2 \(sleep\): the reader\/writer threads made 1000 accesses/],
  ["tab-indented YAML", ["run", f("tabs.yaml")], /tabs\.yaml: invalid scenario\n {2}line 4: indented with a tab/],
  ["UTF-16", ["run", f("utf16.json")], /utf16\.json: invalid scenario\n {2}the file is UTF-16 encoded/],
  ["truncated JSON", ["run", f("truncated.json")], /truncated\.json: invalid scenario\n {2}not valid JSON/],
  ["unknown operation", ["run", f("unknown-op.json")], /unknown-op\.json: invalid scenario\n {2}steps\[0\]\.op/],
  ["a missing file", ["run", f("nope.json")], /nope\.json: invalid scenario\n {2}cannot read the file: ENOENT/],
  ["a directory", ["run", inputs], /bad-inputs\/?: invalid scenario\n {2}is a directory/],
  ["one bad file among good ones", ["run", example, f("truncated.json")], /truncated\.json: invalid scenario[\s\S]*2 files: 1 invalid, 1 valid; nothing was run/],
  ["unknown option", ["run", example, "--bogus"], /unknown option '--bogus'/],
  ["bad --kernel", ["run", example, "--kernel", "5.4"], /--kernel 5\.4: expected one of 6\.1, 6\.12, mainline/],
  ["bad --limit", ["run", example, "--limit", "stepz=5"], /--limit "stepz=5": no limit "stepz"/],
  ["bad --fault", ["run", example, "--fault", "migrate_extra_ref:probability=x"], /--fault "migrate_extra_ref:probability=x": bad knob/],
  ["unknown fault point", ["run", example, "--fault", "no_such_point"], /--fault no_such_point: unknown fault point "no_such_point"/],
  ["calibrate --max-evals abc", ["calibrate", "--max-evals", "abc"], /--max-evals must be a whole number from 1 to 100000, got "abc"/],
  ["calibrate --max-evals -1", ["calibrate", "--max-evals", "-1"], /--max-evals must be a whole number from 1 to 100000, got "-1"/],
  ["calibrate --max-evals 0", ["calibrate", "--max-evals", "0"], /--max-evals must be a whole number from 1 to 100000, got "0"/],
  ["calibrate --out under a file", ["calibrate", "--out", "/etc/hostname/fit.json"], /--out: cannot create "\/etc\/hostname\/fit\.json": "\/etc\/hostname" is a file/],
  ["bench seed --json \"\"", ["bench", "seed", "--json", ""], /--json: needs a file path, got ""/],
  ["bench seed --json under a file", ["bench", "seed", "--json", "/etc/hostname/x.json"], /--json: cannot create "\/etc\/hostname\/x\.json"/],
  ["bench seed --report that is a file", ["bench", "seed", "--report", "/etc/hostname"], /--report: "\/etc\/hostname" exists and is not a directory/],
  ["bench seed --json a directory", ["bench", "seed", "--json", out], /--json: "[^"]+" is a directory; give a file name/],
  ["bench seed --seed abc", ["bench", "seed", "--seed", "abc"], /--seed must be a whole number from 0 to 4294967295, got "abc"/],
  ["bench seed --threads abc", ["bench", "seed", "--threads", "abc"], /--threads must be a whole number from 1 to 256, got "abc"/],
  ["bench seed with a malformed --profile file", ["bench", "seed", "--profile", f("bad-profile.json")], /bad-profile\.json: invalid hardware profile/],
  ["bench seed with a truncated --profile file", ["bench", "seed", "--profile", f("truncated.json")], /truncated\.json is not JSON/],
  ["profile derive --out \"\"", ["profile", "derive", "zen3-ptdma", "--set", "ptdma.chan_bw=20", "--out", ""], /--out: needs a file path, got ""/],
  ["profile show of a missing profile", ["profile", "show", "no-such-profile"], /profile "no-such-profile": cannot read/],
  ["tune-batch --channels 0", ["tune-batch", "--folio", "2M", "--channels", "0", "--budget-us", "500"], /--channels must be a whole number from 1 to 16/],
  ["fuzz --runs 0", ["fuzz", "--runs", "0"], /--runs: expected a whole number from 1/],
  ["fuzz --out under a file", ["fuzz", "--runs", "1", "--out", "/etc/hostname/dir"], /--out: cannot create "\/etc\/hostname\/dir"/],
  ["a module parameter of the wrong kind", ["run", f("bad-modparam.json")], /bad-modparam\.json: machine\.modparams\.dcbm\.checkResults: expected true or false, got "yes"/],
  ["run --migrator of a missing plug-in", ["run", f("bad-modparam.json"), "--migrator", "./nope.ts"], /bad-modparam\.json: --migrator \S*\/nope\.ts: no such file/],
  ["bench seed --migrator unknown", ["bench", "seed", "--migrator", "nope"], /--migrator "nope": not a built-in migrator \(dcbm, mtcopy\)/],
  ["calibrate --engine of a missing plug-in", ["calibrate", "--engine", "./nope.ts", "--max-evals", "1"], /--engine \.\/nope\.ts: no such file/],
  ["calibrate --free unknown", ["calibrate", "--free", "xdma.chan_bw", "--max-evals", "1", "--stages", "cpu"], /--free xdma\.chan_bw: no parameter "xdma\.chan_bw"/],
  ["profile show --engine unknown", ["profile", "show", "--engine", "xdma"], /--engine "xdma": not a built-in engine \(ptdma, sdxi, ae4dma\)/],
  ["new engine with a bad name", ["new", "engine", "My-DMA", "--dir", join(out, "new")], /new engine: NAME must be lower case letters/],
  ["new engine --dir under a file", ["new", "engine", "fine", "--dir", "/etc/hostname/dir"], /--dir: cannot create "\/etc\/hostname\/dir"/],
];

for (const [what, args, message] of BAD) {
  test.serial(`bad input: ${what} -> exit 2, a message naming it, no stack trace, bounded time`, async (t) => {
    const r = await cli(args);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stdout + r.stderr, message);
    t.notRegex(r.stderr, /\n\s+at .+:\d+:\d+/, "no stack trace");
    t.true(r.ms < REPLAY_TIME_LIMIT_MS, `took ${r.ms.toFixed(0)} ms`);
  });
}

test.serial("no bad input left a file behind in the output directory", (t) => {
  t.deepEqual(readdirSync(out), []);
  t.false(existsSync("/etc/hostname/x.json"));
});

test.serial("good inputs still pass: a UTF-8 file with a BOM runs, exit 0", async (t) => {
  const r = await cli(["run", example, "--limit", "steps=100"]);
  t.is(r.code, 0, r.stderr);
});
