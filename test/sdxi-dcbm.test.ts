import test from "ava";
import { EIO, ETIMEDOUT } from "@mmemu/kernel";
import { Fabric } from "@mmemu/platform";
import {
  allocMigrationTarget, FolioList, InvariantChecker, isolateFolioToList, Machine, MAP_ANONYMOUS, MAP_POPULATE,
  MAP_PRIVATE, MIGRATE_SYNC, migratePages, MR, PAGE_SIZE, patternDigest, PROT_READ, PROT_WRITE, putbackMovablePages,
} from "@mmemu/mm-core";
import { DmaEngine } from "@mmemu/dmaengine";
import { createSdxiFunctions, type SdxiSwitches } from "@mmemu/sdxi";
import { Dcbm, type DcbmOptions } from "@mmemu/dcbm";

/**
 * dcbm over SDXI, the engine the AMDESE variant was written for: public channels (the posted dcbm
 * takes them with dma_request_chan_by_mask all the same), a 1024-slot ring whose prep fails when
 * full, completions that may come out of order, and errors reported to the client.
 */
function sdxiMachine(o: { switches?: Partial<SdxiSwitches>; dcbm?: DcbmOptions; functions?: number } = {}) {
  const m = new Machine({ nodes: [{ id: 0, pages: 1 << 13, cpus: 2 }, { id: 1, pages: 1 << 13, cpus: 2 }] });
  const dma = new DmaEngine({ core: m.core, mem: m.mem });
  const fabric = new Fabric(m.core, { nodes: [{ id: 0, socket: 0 }, { id: 1, socket: 1 }] });
  const fns = createSdxiFunctions({ core: m.core, engine: dma, fabric, nodes: Array<number>(o.functions ?? 1).fill(0), ...(o.switches ? { switches: o.switches } : {}) });
  const dcbm = new Dcbm(m, dma, o.dcbm);
  dcbm.setNrDmaChan(fns.length);
  if (dcbm.setOffloading(true) !== 0) throw new Error("register");
  m.settings.nrMaxBatchedMigration = 4096;
  const mm = m.createMm();
  m.current = m.createTask(mm, 0);
  const checker = new InvariantChecker(m, { throwOnViolation: false });
  const run = (n: number) => {
    const addr = m.memory.mmap(mm, { len: n * PAGE_SIZE, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE });
    for (let i = 0; i < n; i++) m.mem.fillPages(m.memory.translate(mm, addr + i * PAGE_SIZE), 1, 0x5d00 + i);
    const list = new FolioList();
    for (let i = 0; i < n; i++) isolateFolioToList(m, m.folios.folioOf(m.memory.translate(mm, addr + i * PAGE_SIZE)), list);
    const rcs: number[] = [];
    const off = m.core.trace.on("migrate_offload_copy_end", (r) => rcs.push(r.fields["rc"] as number));
    const rc = migratePages(m, list, (s) => allocMigrationTarget(m, s, { nid: 1, thisNode: true }), null, MIGRATE_SYNC, MR.SYSCALL);
    off();
    if (rc !== 0) putbackMovablePages(m, list);
    let bad = 0;
    for (let i = 0; i < n; i++) {
      const pfn = m.memory.translate(mm, addr + i * PAGE_SIZE);
      if (m.mem.nodeOfPfn[pfn] !== 1 || m.mem.digest(pfn) !== patternDigest(0x5d00 + i)) bad++;
    }
    return { rc, rcs, bad };
  };
  return { m, dma, fns, dcbm, checker, run };
}

test("a batch larger than the SDXI ring: prep returns NULL, dcbm fails with -EIO and the CPU copies it all", (t) => {
  const x = sdxiMachine();
  const r = x.run(1100);
  t.is(r.rc, 0);
  t.deepEqual(r.rcs, [-EIO]);
  t.is(r.bad, 0);
  t.is(x.dcbm.stats.prepFailures, 1);
  t.is(x.dcbm.foliosFailures, 1100);
  t.is(x.dma.devices[0]!.channels[0]!.clientCount, 0, "the channel went back");
  t.deepEqual(x.checker.violations, []);
  t.deepEqual(x.checker.checkQuiescent(), []);
  // The ring is usable again by the next batch.
  const again = x.run(64);
  t.deepEqual(again.rcs, [0]);
  t.is(again.bad, 0);
});

for (const completionOrder of ["inOrder", "outOfOrderWithoutFence"] as const) {
  test(`SDXI ${completionOrder}: one callback on the last descriptor is safe because the driver fences the interrupting descriptor`, (t) => {
    const x = sdxiMachine({ switches: { completionOrder }, functions: 2 });
    const r = x.run(256);
    t.deepEqual(r.rcs, [0]);
    t.is(r.bad, 0);
    t.is(x.dcbm.foliosMigrated, 256);
    t.deepEqual(x.checker.violations, []);
  });
}

test("SDXI stops the context on a failed descriptor: the posted dcbm waits out its 10 s, the result-checking one fails at once", (t) => {
  const posted = sdxiMachine();
  posted.m.core.faults.arm("sdxi.desc_error", { times: 1, space: 3 });
  const t0 = posted.m.sim.now;
  const r1 = posted.run(8);
  t.deepEqual(r1.rcs, [-ETIMEDOUT], "the last descriptor never completes");
  t.true(posted.m.sim.now - t0 >= 10_000_000_000);
  t.is(r1.bad, 0, "the CPU fallback copied everything");
  t.deepEqual(posted.checker.violations, []);

  const checking = sdxiMachine({ dcbm: { checkResults: true, callbackOnLastOnly: false } });
  checking.m.core.faults.arm("sdxi.desc_error", { times: 1, space: 3 });
  const t1 = checking.m.sim.now;
  const r2 = checking.run(8);
  t.deepEqual(r2.rcs, [-EIO], "DMA_TRANS_* error seen in callback_result");
  // Not the 10 s wait; the SDXI glue's terminate/synchronize of the stopped context still take their own timeouts.
  t.true(checking.m.sim.now - t1 < 10_000_000_000, "no dcbm timeout");
  t.is(r2.bad, 0);
  t.deepEqual(checking.checker.violations, []);
});
