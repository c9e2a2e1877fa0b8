import test from "ava";
import { EIO } from "@mmemu/kernel";
import { PAGE_SIZE, patternDigest } from "@mmemu/mm-core";
import { anon, intact, migrateRange, pattern, rig, type RigOptions } from "./rig.js";

/**
 * A PTDMA descriptor that fails in hardware (a format error: the queue halts, nothing is written).
 * The merged glue logs "PTDMA error", completes the cookie and calls back with DMA_TRANS_NOERROR,
 * so dcbm reports success and the core skips the copy: the destination keeps whatever the freshly
 * allocated folio held, and that is what the process sees after the remap (spec 1.9, 5.6).
 */
function failSecondDescriptor(o: RigOptions) {
  const r = rig({ channels: 1, engines: 1, collectViolations: true, ...o });
  const addr = anon(r, 4 * PAGE_SIZE);
  r.m.core.faults.arm("ptdma.desc_error", { times: 1, space: 1 });
  const rc = migrateRange(r, addr, 4 * PAGE_SIZE, 1);
  const lost: number[] = [];
  for (let i = 0; i < 4; i++) {
    const a = addr + i * PAGE_SIZE;
    if (r.m.mem.digest(r.m.memory.translate(r.mm, a)) !== patternDigest(pattern(a))) lost.push(i);
  }
  return { r, addr, rc, lost };
}

test("the merged PTDMA glue hides a descriptor error: dcbm counts success and the page's data is lost", (t) => {
  const { r, rc, lost } = failSecondDescriptor({});
  t.is(rc, 0, "migrate_pages reports success");
  t.deepEqual(lost, [1], "the second page now holds the destination's stale contents");
  t.is(r.dcbm.foliosMigrated, 4);
  t.is(r.dcbm.foliosFailures, 0);
  t.is(r.pts[0]!.pt.stats.errorsLogged, 1, "only the driver's log knows");
  t.true(r.checker.violations.some((v) => /^migrator DCBM, batch \d+, pair \d+ .*claimed copied .*page 0 of the destination does not hold/.test(v)), "the early-completion check at the copy's return catches it");
});

test("errorsVisibleToClient alone does not help the posted dcbm: its legacy callback cannot see a result", (t) => {
  const { r, lost } = failSecondDescriptor({ switches: { errorsVisibleToClient: true } });
  t.deepEqual(lost, [1]);
  t.is(r.dcbm.foliosFailures, 0);
  t.true(r.checker.violations.length > 0);
});

test("errorsVisibleToClient with a result-checking dcbm that calls back per descriptor: -EIO, CPU fallback, nothing lost", (t) => {
  const { r, addr, rc, lost } = failSecondDescriptor({
    switches: { errorsVisibleToClient: true },
    dcbm: { checkResults: true, callbackOnLastOnly: false },
  });
  t.is(rc, 0);
  t.deepEqual(lost, []);
  t.true(intact(r, addr, 4 * PAGE_SIZE));
  t.is(r.dcbm.stats.resultErrors, 1);
  t.is(r.dcbm.foliosFailures, 4);
  t.deepEqual(r.checker.violations, []);
  t.deepEqual(r.checker.checkQuiescent(), []);
});

test("checking results on the last descriptor only still misses an error in the middle of a channel", (t) => {
  const { r, lost } = failSecondDescriptor({ switches: { errorsVisibleToClient: true }, dcbm: { checkResults: true } });
  t.deepEqual(lost, [1]);
  t.is(r.dcbm.stats.resultErrors, 0);
});

test("an error on the last descriptor is enough for the result-checking dcbm even with one callback per channel", (t) => {
  const r = rig({ channels: 1, engines: 1, switches: { errorsVisibleToClient: true }, dcbm: { checkResults: true } });
  const addr = anon(r, 4 * PAGE_SIZE);
  r.m.core.faults.arm("ptdma.desc_error", { times: 1, space: 3 });
  const rcs: number[] = [];
  const off = r.m.core.trace.on("migrate_offload_copy_end", (x) => rcs.push(x.fields["rc"] as number));
  t.is(migrateRange(r, addr, 4 * PAGE_SIZE, 1), 0);
  off();
  t.deepEqual(rcs, [-EIO]);
  t.true(intact(r, addr, 4 * PAGE_SIZE));
});

test("a bus fault mid-transfer tears the destination; the merged glue again reports success and the checker catches it", (t) => {
  const r = rig({ channels: 1, engines: 1, collectViolations: true });
  const addr = anon(r, 2 * PAGE_SIZE);
  r.m.core.faults.arm("ptdma.bus_fault", { times: 1 });
  t.is(migrateRange(r, addr, 2 * PAGE_SIZE, 1), 0);
  t.false(intact(r, addr, 2 * PAGE_SIZE));
  t.true(r.checker.violations.some((v) => /^migrator DCBM, batch \d+, pair \d+ .*claimed copied/.test(v)));
});
