/**
 * Plug-ins from the command line: the guides' final code (examples/plugins) run as scenarios, the
 * scaffold writes projects outside the repository whose own `npm test` passes, and bad plug-in input
 * is one line before anything runs.
 */
import test from "ava";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { runCommand, type Output } from "../src/index.js";
import { writeScaffold } from "../src/commands/new.js";
import { UsageError } from "@mmemu/bench";

const examples = fileURLToPath(new URL("../../../examples/plugins/", import.meta.url));
const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "mmemu-new-"));

function capture(): Output & { stdout: string; stderr: string } {
  const o = { stdout: "", stderr: "", out: (s: string) => void (o.stdout += s), err: (s: string) => void (o.stderr += s) };
  return o;
}

test("the engine guide's xdma and the migrator guide's bigbatch run in scenarios that name them, data intact", async (t) => {
  for (const f of ["xdma-dcbm.json", "bigbatch.json"]) {
    const o = capture();
    t.is(await runCommand([join(examples, f)], { json: true }, o), 0, o.stdout + o.stderr);
    const summary = JSON.parse(o.stdout.trim().split("\n").at(-1)!) as { ok: boolean; steps: number };
    t.true(summary.ok, f);
  }
  // The same scenario with the engine chosen on the command line instead (a path relative to the cwd).
  const o = capture();
  const sc = JSON.parse(readFileSync(join(examples, "xdma-dcbm.json"), "utf8")) as { machine: Record<string, unknown> };
  delete sc.machine.engines;
  const f = join(tmp, "no-engine.json");
  writeFileSync(f, JSON.stringify(sc));
  t.is(await runCommand([f], { engine: [join(examples, "xdma.ts")], trace: "-" }, o), 0, o.stderr);
  t.regex(o.stdout, /mmemu_migrate_offload_copy_end: migrator=DCBM nr_folios=8 rc=0 /);
});

test("bad plug-in input in a scenario stops the command before anything runs, in one line", async (t) => {
  const base = JSON.parse(readFileSync(join(examples, "bigbatch.json"), "utf8")) as { machine: Record<string, unknown> };
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ migrator: join(examples, "nope.ts") }, /--migrator .*nope\.ts: no such file/],
    [{ sysfs: { min_folios: 0 } }, /machine\.sysfs\.min_folios: writing "0" to bigbatch's min_folios failed with -EINVAL/],
    [{ sysfs: { nr_dma_chan: 4 } }, /machine\.sysfs\.nr_dma_chan: bigbatch has no attribute "nr_dma_chan" \(it has offloading, min_folios\)/],
    [{ profile: undefined, timing: "simple" }, /machine\.migrator: needs machine\.profile/],
    [{ modparams: { nope: { x: true } } }, /machine\.modparams\.nope: no module of that name is loaded \(loaded: bigbatch, ptdma, sdxi, ae4dma\)/],
    [{ modparams: { bigbatch: { checkResults: true } } }, /machine\.modparams\.bigbatch\.checkResults: bigbatch has no module parameter "checkResults" \(it has none\)/],
    [{ modparams: { ptdma: { errorsVisibleToClient: "yes" } } }, /machine\.modparams\.ptdma\.errorsVisibleToClient: expected true or false, got "yes"/],
    [{ modparams: { sdxi: { completionOrder: "random" } } }, /machine\.modparams\.sdxi\.completionOrder: expected one of "inOrder", "outOfOrderWithoutFence", got "random"/],
  ];
  for (const [i, [patch, re]] of cases.entries()) {
    const sc = { ...base, machine: { ...base.machine, migrator: join(examples, "bigbatch.ts"), ...patch } };
    const f = join(tmp, `bad${i}.json`);
    writeFileSync(f, JSON.stringify(sc));
    const o = capture();
    t.is(await runCommand([f], {}, o), 2, o.stdout);
    t.regex(o.stderr, re);
    t.is(o.stdout, "", "nothing ran");
  }
});

test("mmemu new writes a working engine and a working migrator outside the repository: npm test passes in each", (t) => {
  for (const kind of ["engine", "migrator"] as const) {
    const dir = join(tmp, `my_${kind}`);
    const r = spawnSync(process.execPath, ["--import", "tsx", main, "new", kind, `my_${kind}`, "--dir", dir], { encoding: "utf8" });
    t.is(r.status, 0, r.stderr);
    t.regex(r.stdout, new RegExp(`next: cd ${dir} && npm test`));
    t.true(readFileSync(join(dir, "README.md"), "utf8").includes(`pnpm mmemu run ${dir}/scenario.json`), "the README's commands name the project's own path");
    const npm = spawnSync("npm", ["test"], { cwd: dir, encoding: "utf8", env: { ...process.env, npm_config_offline: "true" } });
    t.is(npm.status, 0, `${kind}: ${npm.stdout.slice(-2000)}${npm.stderr.slice(-2000)}`);
    t.regex(npm.stdout, /# pass 3\n# fail 0/);
  }
});

test("mmemu new refuses a bad name, a taken one and a directory whose files it would overwrite, writing nothing", (t) => {
  t.throws(() => writeScaffold("engine", "My-DMA", join(tmp, "x")), { message: /NAME must be lower case letters/ });
  t.throws(() => writeScaffold("engine", "ptdma", join(tmp, "x")), { message: /"ptdma" is already a component or example name/ });
  // An unusable --dir is a usage error naming the option (exit 2), before anything is written.
  const file = join(tmp, "a-file");
  writeFileSync(file, "");
  t.throws(() => writeScaffold("engine", "fine", join(file, "sub")), { instanceOf: UsageError, message: /^--dir: / });
  const dir = join(tmp, "clash");
  writeScaffold("migrator", "clash", dir);
  t.throws(() => writeScaffold("migrator", "clash", dir), { message: /already has clash\.ts, scenario\.json/ });
  const r = spawnSync(process.execPath, ["--import", "tsx", main, "new", "engine", "x"], { encoding: "utf8" });
  t.is(r.status, 2, "a usage error exits 2");
  t.regex(r.stderr, /required option '--dir <path>' not specified/);
  // A bad name through the real executable: one line, exit 2, no stack trace.
  const bad = spawnSync(process.execPath, ["--import", "tsx", main, "new", "engine", "My-DMA", "--dir", join(tmp, "y")], { encoding: "utf8" });
  t.is(bad.status, 2);
  t.regex(bad.stderr, /^mmemu: new engine: NAME must be lower case letters/);
  t.notRegex(bad.stderr, /\n\s+at /);
});

test("the guides' code blocks are the examples' code (blocks with \"...\" are sketches)", (t) => {
  const lines = (text: string) => text.split("\n").map((l) => l.trim()).filter((l) => l.length > 0).join("\n");
  for (const [guide, file] of [["engine-guide.md", "xdma.ts"], ["offload.md", "bigbatch.ts"]] as const) {
    const doc = readFileSync(fileURLToPath(new URL(`../../../docs/${guide}`, import.meta.url)), "utf8");
    const code = lines(readFileSync(join(examples, file), "utf8"));
    const blocks = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => !b.includes("..."));
    t.true(blocks.length > 0, guide);
    for (const b of blocks) t.true(code.includes(lines(b)), `${guide}: a block is not in examples/plugins/${file}:\n${b}`);
  }
});

test("assignment 4's grader fails the starter and passes a solution, both outside mmemu's packages", (t) => {
  const grade = fileURLToPath(new URL("../../../examples/assignments/4-large-folios/grade.test.ts", import.meta.url));
  const register = fileURLToPath(new URL("../../driver-kit/register.mjs", import.meta.url));
  const gradeWith = (submission: string | null) =>
    spawnSync(process.execPath, ["--import", register, "--test", grade], { encoding: "utf8", env: { ...process.env, ...(submission ? { SUBMISSION: submission } : {}) } });
  const starter = gradeWith(null);
  t.not(starter.status, 0);
  t.regex(starter.stdout, /not ok \d+ - the batch of sixteen 64 KiB folios is copied by the migrator/);
  t.regex(starter.stdout, /# pass 2\n# fail 1/);
  // A solution: the starter with its TODO filled in, written where a student would keep it.
  const starterText = readFileSync(grade.replace("grade.test.ts", "starter.ts"), "utf8");
  const body = `for (let i = 0; i < n; i++) if (m.folios.order[src[i]!]! < 4) return -EOPNOTSUPP;
        for (let i = 0; i < n; i++) {
          const pages = 1 << m.folios.order[src[i]!]!;
          fabric.cpuCopyWait(m.mem.nodeOfPfn[src[i]!]!, m.mem.nodeOfPfn[dst[i]!]!, pages * PAGE_SIZE);
          m.mem.copyPages(dst[i]!, src[i]!, pages);
          m.folios.migrateInfo[dst[i]!]! |= FOLIO_CONTENT_COPIED;
        }
        return 0;`;
  const solution = starterText
    .replace(/\/\/ TODO:[\s\S]*?return -EOPNOTSUPP;/, body)
    .replace("type Migrator,", "FOLIO_CONTENT_COPIED, PAGE_SIZE, type Migrator,");
  t.not(solution, starterText);
  const mine = join(tmp, "a4.ts");
  writeFileSync(mine, solution);
  const solved = gradeWith(mine);
  t.is(solved.status, 0, solved.stdout.slice(-2000));
  t.regex(solved.stdout, /# pass 3\n# fail 0/);
});

test("an engine whose device event throws stops the scenario at that step with the plug-in's own frames", async (t) => {
  const f = join(tmp, "throwing-engine.ts");
  writeFileSync(f, `import xdma from ${JSON.stringify(join(examples, "xdma.ts"))};
import { defineEngine } from "@mmemu/driver-kit";
export default defineEngine({ ...xdma, probe(ctx) {
  const devs = xdma.probe(ctx) as Array<{ copied(c: unknown): void }>;
  for (const d of devs) d.copied = function broken() { throw new RangeError("descriptor ring overrun"); };
  return devs;
} });
`);
  const o = capture();
  t.is(await runCommand([join(examples, "xdma-dcbm.json")], { engine: [f] }, o), 1);
  // dcbm's channels were mid-batch when the engine threw: each is named with its work and terminated.
  t.regex(o.stdout, /stopped: PluginError: .*RangeError: descriptor ring overrun \(the batch fell back to the CPU copy; the machine is consistent; DMA channels still held, now terminated: dma0chan0 \(held by dcbm, 1 descriptors submitted or issued\), .*dma0chan3 \(held by dcbm, 1 descriptors submitted or issued\)\)\n\s+at XdmaDevice\.broken \(.*throwing-engine\.ts:5:/);
});
