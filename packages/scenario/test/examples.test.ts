/** Every scenario in examples/scenarios must load and meet all of its expectations (CI runs them here). */
import test from "ava";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadScenarioFile, runScenario } from "../src/index.js";

const dir = fileURLToPath(new URL("../../../examples/scenarios/", import.meta.url));
const files = readdirSync(dir).filter((f) => /\.(json|ya?ml)$/.test(f)).sort();

test("the examples directory holds a scenario for every LTP move_pages test and selftest case", (t) => {
  for (const n of ["01", "02", "03", "04", "05", "06", "07", "09", "10", "11", "12"]) t.true(files.includes(`ltp-move_pages${n}.json`), `move_pages${n}`);
  for (const c of ["private_anon", "shared_anon", "private_anon_thp", "shared_anon_thp", "private_anon_htlb", "shared_anon_htlb"]) {
    t.true(files.includes(`selftest-migration-${c}.json`), c);
  }
  t.true(files.includes("move-1g-4k.json"));
  // Concurrent callers (docs/concurrency.md), each for 6.12 and 6.1.
  for (const r of ["munmap-move_pages", "two-movers", "fork-migration", "fault-migration", "mprotect-migration", "migrate_pages-munmap", "mbind-move_pages", "mbind-isolation"]) {
    t.true(files.includes(`race-${r}.json`) && files.includes(`race-${r}-6.1.json`), r);
  }
  t.true(files.includes("ltp-move_pages12-concurrent.json"));
  for (const n of ["mbind01", "mbind02", "mbind03", "mbind04", "set_mempolicy01", "get_mempolicy01"]) t.true(files.includes(`ltp-${n}.json`), n);
});

for (const f of files) {
  test(`example ${f} passes`, (t) => {
    const s = loadScenarioFile(join(dir, f));
    const r = runScenario(s);
    const problems = r.steps.flatMap((rec) => rec.mismatches.map((m) => `step ${rec.index} (${rec.op}): ${m}`));
    if (r.error !== undefined) problems.push(r.error);
    t.deepEqual(problems, []);
    t.true(r.ok);
  });
}
