/**
 * `mmemu fuzz`: a short campaign finds nothing with correct drivers (the long one is documented in
 * packages/cli/README.md), a case that does violate a property is written out as a scenario that
 * `mmemu run` reproduces, and the input campaign refuses bad scenario texts with named errors.
 */
import test from "ava";
import { mkdtempSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { writeFileAtomic } from "@mmemu/bench";
import { caseArb, caseScenario, emptyStats, formatFuzzReport, fuzzScenarioText, runCase, runCommand, runFuzz, type FuzzCase, type InputStats, type Output } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "mmemu-fuzz-"));

test("a short campaign with correct drivers: no violation, and it moved, verified and injected faults", async (t) => {
  const r = await runFuzz({ runs: 40, seed: 7, inputs: 40, out: dir });
  t.deepEqual(r.violations, []);
  t.is(r.stats.violations, 0);
  t.is(r.stats.runs, 40);
  t.true(r.stats.migrations > 0);
  t.true(r.stats.pagesVerified > 0);
  t.true(Object.values(r.stats.faultsInjected).some((n) => n > 0), JSON.stringify(r.stats.faultsInjected));
  t.is(r.reproducer, null);
  t.true(r.inputs!.refused > 0 && r.inputs!.ran > 0 && r.inputs!.commandLines > 0);
  t.true(Object.values(r.stats.concurrentCalls).reduce((a, b) => a + b, 0) > 0, JSON.stringify(r.stats.concurrentCalls));
  t.true(r.stats.concurrentOverlapped > 0);
  t.regex(formatFuzzReport(r, { runs: 40, seed: 7 }), /runs 40 \(including shrinking\), migrations \d+, pages verified \d+\n {2}faults injected: .*\n {2}concurrent calls: .*; \d+ during the action they raced, \d+ mmap_lock waits, \d+ migration-entry waits\n {2}violations: 0/);
});

test("the same seed generates the same cases", (t) => {
  const a = fc.sample(caseArb(), { seed: 42, numRuns: 5 });
  const b = fc.sample(caseArb(), { seed: 42, numRuns: 5 });
  t.deepEqual(a, b);
});

test("a case written before concurrent calls existed still runs as it did (no races, mainline)", async (t) => {
  const c: FuzzCase = {
    nodes: [4096, 4096], thp: "never", offload: { migrator: "none" }, regions: [{ pages: 16, thp: false, hugetlb: false }], thread: null, faults: [],
    actions: [{ kind: "move", region: 0, first: 0, count: 16, node: 1, stat: false }], seed: 1,
  };
  const s = caseScenario(c) as { kernel: string; steps: Array<{ op: string }> };
  t.is(s.kernel, "mainline");
  t.false(s.steps.some((st) => st.op === "start" || st.op === "join"));
  const stats = emptyStats();
  t.deepEqual(await runCase(c, stats), []);
  t.is(stats.migrations, 16);
});

test("races: a munmap during a move leaves its pages unverified, a fork child's pages are verified, and a touch keeps off the pages the munmap took (a later mmap may reuse them)", async (t) => {
  const c: FuzzCase = {
    nodes: [4096, 4096], thp: "never", offload: { migrator: "none" }, regions: [{ pages: 64, thp: false, hugetlb: false }], thread: null, faults: [],
    actions: [
      { kind: "move", region: 0, first: 0, count: 64, node: 1, stat: false },
      { kind: "move", region: 0, first: 0, count: 64, node: 0, stat: false },
      { kind: "move", region: 0, first: 0, count: 64, node: 1, stat: false },
    ],
    seed: 1,
    races: [
      { at: 0, delayNs: 12_000, call: { kind: "munmap", region: 0, first: 40, count: 8 } },
      { at: 1, delayNs: 20_000, call: { kind: "fork" } },
      { at: 2, delayNs: 30_000, call: { kind: "touch", region: 0, first: 48, count: 2, write: false, mirror: false } },
    ],
  };
  const steps = (caseScenario(c) as { steps: Array<Record<string, unknown>> }).steps;
  const verified = steps.filter((st) => st.name === "verify").map((st) => `${String(st.process)} ${String(st.addr)} ${String(st.pages)}`);
  t.deepEqual(verified, ["p r0+0p 40", "p r0+48p 16", "k0 r0+0p 40", "k0 r0+48p 16"]);
  t.deepEqual(steps.find((st) => st.op === "start" && (st.call as { op: string }).op === "touch")?.call, { op: "touch", process: "p.c", addr: "r0+48p", len: "2p", write: false, expect: { fault: false } });
  const onGone = { ...c, races: [c.races![0]!, { at: 2, delayNs: 30_000, call: { kind: "touch" as const, region: 0, first: 44, count: 2, write: false, mirror: false } }] };
  t.false((caseScenario(onGone) as { steps: Array<Record<string, unknown>> }).steps.some((st) => st.op === "start" && (st.call as { op: string }).op === "touch"), "no touch over unmapped pages");
  const stats = emptyStats();
  t.deepEqual(await runCase(c, stats), []);
  t.deepEqual(stats.concurrentCalls, { munmap: 1, fork: 1, touch: 1 });
  t.is(stats.pagesVerified, 112);
});

test("races the model cannot run are not generated: no move_pages or migrate_pages started over a migrate_pages(2) of the process", (t) => {
  let races = 0;
  for (const c of fc.sample(caseArb(), { seed: 5, numRuns: 400 })) {
    const steps = (caseScenario(c) as { steps: Array<Record<string, unknown>> }).steps;
    steps.forEach((st, i) => {
      if (st.op !== "start") return;
      races++;
      const call = (st.call as { op: string }).op;
      if (steps[i + 1]!.op === "migrate_pages") t.false(call === "move_pages" || call === "migrate_pages", JSON.stringify(st));
    });
  }
  t.true(races > 100, `${races} races`);
});

test("a case that breaks data integrity is found and its scenario file reproduces it with mmemu run", async (t) => {
  // mtcopy with 3 threads leaves the last size % 3 bytes of a THP uncopied (the posted driver only warns):
  // the campaign excludes it from its correct drivers, so it serves here as a known violation.
  const c: FuzzCase = {
    nodes: [4096, 4096], thp: "always", offload: { migrator: "mtcopy", threads: 3 },
    regions: [{ pages: 512, thp: true, hugetlb: false }], thread: null, faults: [],
    actions: [{ kind: "move", region: 0, first: 0, count: 1, node: 1, stat: false }], seed: 1,
  };
  const v = await runCase(c, emptyStats());
  t.true(v.some((x) => /data corrupted|does not hold pattern/.test(x)), v.join("\n"));
  // What runFuzz writes for a counterexample, run as a user would.
  const file = join(dir, "repro.json");
  writeFileAtomic(file, JSON.stringify(caseScenario(c), null, 1));
  const o: Output & { stdout: string } = { stdout: "", out: (s) => void (o.stdout += s), err: () => {} };
  t.is(await runCommand([file], {}, o), 1);
  t.regex(o.stdout, /does not hold pattern 0x5a000001/);
});

test("scenario texts: bad ones are refused with a named error, never a throw", async (t) => {
  const stats: InputStats = { scenarios: 0, commandLines: 0, refused: 0, ran: 0, parserValues: 0, violations: [] };
  for (const text of ["", "{", "null", "[]", "{\"version\":1}", "\u0000", "version: 1\n\tname: x", JSON.stringify({ version: 1, name: "x", machine: { nodes: [{ id: 0, memory: 1e30 }] }, processes: [{ name: "p" }], steps: [{ op: "sleep", ns: 1 }] })]) {
    await fuzzScenarioText({ text, yaml: false }, stats);
    await fuzzScenarioText({ text, yaml: true }, stats);
  }
  t.deepEqual(stats.violations, []);
  t.is(stats.refused, 16);
});

test("found by a long input campaign: a sysfs value the driver refuses at build time is a refusal naming machine.sysfs, not a violation", async (t) => {
  const stats: InputStats = { scenarios: 0, commandLines: 0, refused: 0, ran: 0, parserValues: 0, violations: [] };
  const text = JSON.stringify({
    version: 1, name: "x", machine: { nodes: [{ id: 0, memory: "4096p" }, { id: 1, memory: "4096p" }], profile: "zen3-ptdma", migrator: "dcbm", sysfs: { nr_dma_chan: " " } },
    processes: [{ name: "p" }], steps: [{ op: "sleep", ns: 1 }],
  });
  await fuzzScenarioText({ text, yaml: false }, stats);
  t.deepEqual(stats.violations, []);
  t.is(stats.refused, 1);
  t.is(stats.ran, 0);
});

test("found by the first long campaign: a descriptor error on a channel's non-last descriptor corrupts data under dcbm's callback-on-last-only, not with per-descriptor callbacks", async (t) => {
  const file = fileURLToPath(new URL("./fuzz-found/dcbm-desc-error-not-last.json", import.meta.url));
  const posted = capture();
  t.is(await runCommand([file], {}, posted), 1);
  // The driver-bug checker names the batch and pair whose copy was claimed done before its data arrived.
  t.regex(posted.stdout, /invariant violated: migrator DCBM, batch \d+, pair \d+ .*claimed copied.*does not hold the source.s data/);
  const s = JSON.parse(readFileSync(file, "utf8")) as { machine: { modparams: { dcbm: Record<string, unknown> } } };
  s.machine.modparams.dcbm.callbackOnLastOnly = false;
  const fixed = join(dir, "fixed.json");
  writeFileAtomic(fixed, JSON.stringify(s));
  const o = capture();
  t.is(await runCommand([fixed], {}, o), 0, o.stdout);
});

test("found when AE4DMA joined the campaigns: the posted AE4DMA glue only logs a descriptor error, so dcbm moves a page with stale data; errorsVisibleToClient makes it fall back", async (t) => {
  const file = fileURLToPath(new URL("./fuzz-found/ae4dma-desc-error-hidden.json", import.meta.url));
  const posted = capture();
  t.is(await runCommand([file], {}, posted), 1);
  t.regex(posted.stdout, /invariant violated: migrator DCBM, batch \d+, pair 0 .*claimed copied.*does not hold the source.s data/);
  const s = JSON.parse(readFileSync(file, "utf8")) as { machine: { modparams: Record<string, Record<string, unknown>> } };
  s.machine.modparams.ae4dma = { errorsVisibleToClient: true };
  const fixed = join(dir, "fixed-ae4dma.json");
  writeFileAtomic(fixed, JSON.stringify(s));
  const o = capture();
  t.is(await runCommand([fixed], {}, o), 0, o.stdout);
});

function capture(): Output & { stdout: string } {
  const o = { stdout: "", out: (s: string) => void (o.stdout += s), err: () => {} };
  return o;
}

test("found by the second long campaign: a writer thread that writes a page right after remove_migration_ptes() is no corruption (the checker verifies before)", async (t) => {
  const o = capture();
  t.is(await runCommand([fileURLToPath(new URL("./fuzz-found/writer-during-migrate-pages.json", import.meta.url))], {}, o), 0, o.stdout);
});

test("found by the first campaign with concurrent calls: a move_pages started during migrate_pages(2) whose arrays are under that migration stops with a named ConcurrencyModelError, not a DeadlockError", async (t) => {
  const o = capture();
  t.is(await runCommand([fileURLToPath(new URL("./fuzz-found/move_pages-arrays-under-migrate_pages.json", import.meta.url))], {}, o), 1);
  t.regex(o.stdout, /ConcurrencyModelError: migration_entry_wait\(\d+\) at 0x[0-9a-f]+ would sleep until a migration that started earlier/);
  t.notRegex(o.stdout, /nothing is scheduled/);
});

test("found by the first campaign with concurrent calls: mtcopy keeps each call's work items and lists, so a migration started during another's flush_work no longer makes it claim uncopied pages", async (t) => {
  const o = capture();
  t.is(await runCommand([fileURLToPath(new URL("./fuzz-found/mtcopy-nested-batches.json", import.meta.url))], {}, o), 0, o.stdout);
  t.notRegex(o.stdout, /claimed copied/);
});
