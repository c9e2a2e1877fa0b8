#!/usr/bin/env node
// Runs the type check, the import rules (pnpm run depcheck: no value-level import cycle, no package
// importing upward; see .dependency-cruiser.cjs) and every workspace package's tests, one package after
// another and each on its own (a failing package does not stop or skip the others, so every failure
// shows), streaming their output, then prints a count per package and one summary line
// "tests: N passed, N failed" so CI logs end with a plain count. A failed import check counts as one
// failed test, a package whose test run fails without ava counting a failure (a crash) as one.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";

function run(cmd, args, cwd = process.cwd()) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, FORCE_COLOR: "0" } });
    let out = "";
    const onData = (stream) => (chunk) => {
      const s = chunk.toString();
      out += s;
      stream.write(s);
    };
    child.stdout.on("data", onData(process.stdout));
    child.stderr.on("data", onData(process.stderr));
    child.on("close", (code) => resolve({ code: code ?? 1, out }));
  });
}

const tsc = await run("pnpm", ["exec", "tsc", "-b"]);
if (tsc.code !== 0) {
  console.log("typecheck failed");
  console.log("tests: 0 passed, 1 failed");
  process.exit(1);
}
const deps = await run("pnpm", ["--silent", "run", "depcheck"]);
if (deps.code !== 0) console.log("import rules failed (pnpm run depcheck)");
const root = process.cwd();
const workspace = JSON.parse(spawnSync("pnpm", ["-r", "ls", "--depth", "-1", "--json"], { cwd: root, encoding: "utf8" }).stdout);
const packages = workspace
  .filter((p) => p.path !== root && JSON.parse(readFileSync(join(p.path, "package.json"), "utf8")).scripts?.test !== undefined)
  .sort((a, b) => a.path.localeCompare(b.path));
let passed = 0;
let failed = deps.code === 0 ? 0 : 1;
const rows = [];
for (const p of packages) {
  const res = await run("pnpm", ["--silent", "run", "test"], p.path);
  const count = (re) => [...res.out.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
  const ok = count(/^\s*(\d+) tests? passed/gm);
  let bad = count(/^\s*(\d+) tests? failed/gm) + count(/^\s*(\d+) uncaught exceptions?/gm);
  if (res.code !== 0 && bad === 0) bad = 1;
  passed += ok;
  failed += bad;
  rows.push(`${relative(root, p.path).padEnd(28)} ${String(ok).padStart(4)} passed ${String(bad).padStart(3)} failed${res.code !== 0 ? "  (exit " + res.code + ")" : ""}`);
}
console.log(["", ...rows].join("\n"));
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
