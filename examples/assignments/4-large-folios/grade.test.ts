/**
 * Grades assignment 4. Run from anywhere:
 *   SUBMISSION=/path/to/your.ts node --import <mmemu>/packages/driver-kit/register.mjs --test <mmemu>/examples/assignments/4-large-folios/grade.test.ts
 * (without SUBMISSION it grades the starter, which fails the copy test).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const MMEMU = here("../../../");
const submission = resolve(process.env.SUBMISSION ?? here("./starter.ts"));

const run = spawnSync(process.execPath, [
  "--import", `${MMEMU}packages/driver-kit/register.mjs`, `${MMEMU}packages/cli/src/main.ts`,
  "run", "--trace", "-", "--migrator", submission, here("./scenario.json"),
], { encoding: "utf8" });
const copies = [...run.stdout.matchAll(/migrate_offload_copy_end: migrator=LARGEFOLIO nr_folios=(\d+) rc=(-?\d+)/g)].map((m) => ({ n: Number(m[1]), rc: Number(m[2]) }));

test("the scenario passes: every folio moved, data intact, the invariant checker silent", () => {
  assert.equal(run.status, 0, run.stdout.slice(-3000) + run.stderr);
});

test("the batch of sixteen 64 KiB folios is copied by the migrator (returns 0)", () => {
  assert.deepEqual(copies.find((c) => c.n === 16), { n: 16, rc: 0 });
});

test("the batch of eight 4 KiB pages is declined with -EOPNOTSUPP (nothing copied by the migrator)", () => {
  assert.deepEqual(copies.find((c) => c.n === 8), { n: 8, rc: -95 });
});
