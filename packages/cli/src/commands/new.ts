/**
 * `mmemu new migrator NAME --dir PATH` and `mmemu new engine NAME --dir PATH`: write a working plug-in
 * project outside the repository — the guide's example (examples/plugins/bigbatch.ts or xdma.ts)
 * renamed, a scenario that runs it, and node:test tests — wired to this checkout (tsx and
 * `@mmemu/driver-kit` through packages/driver-kit/register.mjs), so `cd PATH && npm test` needs no
 * install and no network, and `--migrator PATH/NAME.ts` / `--engine PATH/NAME.ts` work at once.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { BUILTIN_SECTIONS, BUILTIN_ENGINES, BUILTIN_MIGRATORS } from "@mmemu/components";
import { outputPath, UsageError, writeFilesAtomic } from "@mmemu/bench";

/** The checkout this command runs from. */
const REPO = fileURLToPath(new URL("../../../../", import.meta.url)).replace(/\/$/, "");
const EXAMPLES = join(REPO, "examples", "plugins");

type Kind = "migrator" | "engine";

/** The example each kind starts from, and the names in it that become the new plug-in's. */
const TEMPLATES: Record<Kind, { file: string; scenario: string; name: string; test: (name: string) => string }> = {
  engine: { file: "xdma.ts", scenario: "xdma-dcbm.json", name: "xdma", test: engineTest },
  migrator: { file: "bigbatch.ts", scenario: "bigbatch.json", name: "bigbatch", test: migratorTest },
};

/** Every spelling of the example's name replaced by the new one's. */
function rename(text: string, from: string, to: string): string {
  const cap = (s: string) => s.replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase());
  return text.replaceAll(from.toUpperCase(), to.toUpperCase()).replaceAll(cap(from), cap(to)).replaceAll(from, to);
}

/** The files of a new plug-in project, by path relative to its directory (`dir`, named in its README). */
export function scaffoldFiles(kind: Kind, name: string, dir = "<this dir>"): Record<string, string> {
  const t = TEMPLATES[kind];
  const src = rename(readFileSync(join(EXAMPLES, t.file), "utf8"), t.name, name)
    .replace(/\(the final code of docs\/[a-z-]+\.md[^)]*\)/, "(written by `mmemu new`, from the example of the guide)");
  const scenario = rename(readFileSync(join(EXAMPLES, t.scenario), "utf8"), t.name, name);
  const flag = kind === "engine" ? "--engine" : "--migrator";
  const registerMjs = join(REPO, "packages", "driver-kit", "register.mjs");
  return {
    [`${name}.ts`]: src,
    "scenario.json": scenario,
    [`test/${name}.test.ts`]: t.test(name),
    "package.json": `${JSON.stringify({
      name: `mmemu-${kind}-${name.replaceAll("_", "-")}`,
      version: "0.1.0",
      private: true,
      description: `An mmemu ${kind} plug-in`,
      type: "module",
      scripts: { test: `node --import ${registerMjs} --test test/${name}.test.ts` },
    }, null, 2)}\n`,
    // For editors and tsc: the emulator's API from this checkout.
    "tsconfig.json": `${JSON.stringify({
      compilerOptions: {
        target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true,
        allowImportingTsExtensions: true, skipLibCheck: true, types: ["node"],
        typeRoots: [join(REPO, "node_modules", "@types")],
        paths: { "@mmemu/driver-kit": [join(REPO, "packages", "driver-kit", "src", "index.ts")] },
      },
      include: ["*.ts", "test/*.ts"],
    }, null, 2)}\n`,
    "README.md": [
      `# ${name}: an mmemu ${kind} plug-in`,
      "",
      `Written by \`mmemu new ${kind} ${name}\` from the checkout at ${REPO}; the guide is`,
      `${join(REPO, "docs", kind === "engine" ? "engine-guide.md" : "offload.md")}.`,
      "",
      "```sh",
      "npm test                                   # its tests: shape, parameters, the scenario",
      `cd ${REPO}`,
      `pnpm mmemu run ${dir}/scenario.json`,
      `pnpm mmemu profile show ${flag} ${dir}/${name}.ts`,
      `pnpm mmemu bench seed ${flag} ${dir}/${name}.ts`,
      "```",
      "",
    ].join("\n"),
  };
}

function header(name: string): string {
  return `import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import plugin from "../${name}.ts";

/** The mmemu checkout this project was written from. */
const MMEMU = ${JSON.stringify(REPO)};
const dir = fileURLToPath(new URL("..", import.meta.url));

/** Run the mmemu command line on this project (the same as \`pnpm mmemu ...\` in the checkout). */
function mmemu(...args: string[]) {
  return spawnSync(process.execPath, ["--import", \`\${MMEMU}/packages/driver-kit/register.mjs\`, \`\${MMEMU}/packages/cli/src/main.ts\`, ...args], { cwd: dir, encoding: "utf8" });
}

test("declares each parameter with a unit, a default inside its range and a source", () => {
  assert.equal(plugin.name, ${JSON.stringify(name)});
  for (const [k, s] of Object.entries(plugin.params?.table ?? {})) {
    assert.ok(s.min <= s.default && s.default <= s.max, k);
    assert.ok(s.doc.length > 0 && s.source.length > 0, k);
  }
});

test("the scenario runs with it and every expectation holds (data checked, invariant checker on)", () => {
  const r = mmemu("run", "--json", "scenario.json");
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const summary = JSON.parse(r.stdout.trim().split("\\n").at(-1)!);
  assert.equal(summary.ok, true);
});
`;
}

function engineTest(name: string): string {
  return `${header(name)}
test("its parameters are in the profile and take --set", () => {
  assert.equal(plugin.kind, "engine");
  const r = mmemu("profile", "show", "--engine", "./${name}.ts", "--set", "${name}.chan_bw=20");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /${name}\\.chan_bw\\s+20\\*/);
});
`;
}

function migratorTest(name: string): string {
  return `${header(name)}
test("its parameters are in the profile and take --set", () => {
  assert.equal(plugin.kind, "migrator");
  const r = mmemu("profile", "show", "--migrator", "./${name}.ts", "--set", "${name}.min_folios=16");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /${name}\\.min_folios\\s+16\\*/);
});
`;
}

/**
 * Write the project, all files or none (the output helper); refuses a bad name, an unwritable --dir or
 * a directory holding any of its files with a UsageError (exit 2; nothing is written then).
 */
export function writeScaffold(kind: Kind, name: string, dir: string): string[] {
  if (!/^[a-z][a-z0-9_]{0,30}$/.test(name)) throw new UsageError(`new ${kind}: NAME must be lower case letters, digits and _, starting with a letter (at most 31), got "${name}"`);
  const taken = new Set([...BUILTIN_SECTIONS.map((s) => s.name), ...BUILTIN_ENGINES.keys(), ...BUILTIN_MIGRATORS.keys(), "xdma", "bigbatch"]);
  if (taken.has(name)) throw new UsageError(`new ${kind}: "${name}" is already a component or example name (${[...taken].join(", ")})`);
  const root = resolve(outputPath("--dir", dir, "dir"));
  const files = scaffoldFiles(kind, name, root);
  const clash = Object.keys(files).filter((f) => existsSync(join(root, f)));
  if (clash.length > 0) throw new UsageError(`new ${kind}: ${root} already has ${clash.join(", ")}; choose another --dir`);
  return writeFilesAtomic(root, files);
}

export function registerNewCommand(program: Command): void {
  const cmd = program.command("new").description("write a plug-in project (a migrator or a DMA engine model) outside the repository");
  for (const kind of ["migrator", "engine"] as const) {
    cmd.command(kind)
      .description(`a ${kind} plug-in with its scenario and tests (cd DIR && npm test)`)
      .argument("<name>", "its name: module, profile section and file name")
      .requiredOption("--dir <path>", "the directory to write (created if needed)")
      .action((name: string, o: { dir: string }) => {
        const written = writeScaffold(kind, name, o.dir);
        console.log(`wrote ${written.join(", ")}\nnext: cd ${o.dir} && npm test`);
      });
  }
}
