#!/usr/bin/env node
// Runs the type check, the import rules (pnpm run depcheck: no value-level import cycle, no package
// importing upward; see .dependency-cruiser.cjs) and every workspace package's tests (pnpm -r run test),
// streaming their output, then prints one summary line "tests: N passed, N failed" so CI logs end with a
// plain count. A failed import check counts as one failed test.
import { spawn } from "node:child_process";

function run(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, FORCE_COLOR: "0" } });
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
const res = await run("pnpm", ["-r", "--no-bail", "--workspace-concurrency=1", "run", "test"]);
const depFailures = deps.code === 0 ? 0 : 1;
let passed = 0;
let failed = depFailures;
for (const m of res.out.matchAll(/^\s*(\d+) tests? passed/gm)) passed += Number(m[1]);
for (const m of res.out.matchAll(/^\s*(\d+) tests? failed/gm)) failed += Number(m[1]);
for (const m of res.out.matchAll(/^\s*(\d+) uncaught exceptions?/gm)) failed += Number(m[1]);
if (res.code !== 0 && failed === depFailures) failed += 1;
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(res.code === 0 && failed === 0 ? 0 : 1);
