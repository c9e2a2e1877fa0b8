import test from "ava";
import { InvariantChecker, MIGRATE_ASYNC, PAGE_SIZE, PTE } from "../src/index.js";
import { anon, isolate, migrateTo, world } from "./world.js";

test("a copier that writes to its source is named as the writer, not blamed on a stale translation", (t) => {
  const w = world();
  const addr = anon(w, PAGE_SIZE);
  // A racy copier: copies, then something still writes to the source (as a stale TLB entry would).
  w.m.hooks.offload = {
    doBatch: () => true,
    batchCopy: (dst, src) => {
      w.m.mem.copyPages(dst[0]!, src[0]!, 1);
      w.m.mem.fillPages(src[0]!, 1, 0xbad);
      return 0;
    },
  };
  const list = isolate(w, addr, PAGE_SIZE);
  t.throws(() => migrateTo(w, list, 1, MIGRATE_ASYNC), { message: /^migrator \(offload hook\), batch 1, pair 0 \(src folio \d+ -> dst folio \d+\): the migrator wrote to source folio \d+ \(page 0 changed during offload_copy\)/ });
});

test("the audit recounts mapcounts from the page tables and names the folio that disagrees", (t) => {
  const w = world();
  const addr = anon(w, 2 * PAGE_SIZE);
  t.deepEqual(w.checker.checkAll(), []);
  const folio = w.m.memory.translate(w.mm, addr);
  w.m.folios.mapcount[folio]!++;
  const quiet = new InvariantChecker(w.m, { throwOnViolation: false });
  const found = quiet.checkAll();
  t.true(found.some((v) => v === `folio ${folio}: mapcount 2 but 1 mappings found`));
  t.false(found.some((v) => v.startsWith(`folio ${folio}: refcount 1 below`)));
});

test("the audit reports a PTE that maps a freed frame and a migration entry to an unlocked folio", (t) => {
  const w = world();
  const addr = anon(w, 2 * PAGE_SIZE);
  const v = w.mm.findVma(addr)!;
  const quiet = new InvariantChecker(w.m, { throwOnViolation: false });
  v.pteBits[1] = PTE.MIGRATION;
  const found = quiet.checkQuiescent();
  t.true(found.some((x) => /migration entry to unlocked folio/.test(x)));
  t.true(found.some((x) => /migration entry left at 0x/.test(x)));
  v.pteBits[1] = PTE.PRESENT;
  v.ptePfn[1] = w.m.alloc.alloc(1, 0); // a frame the buddy allocator handed out but no folio owns
  t.true(quiet.checkAll().some((x) => /PTE maps free frame/.test(x)));
});

test("between migrations nothing stays locked, isolated or pending a flush", (t) => {
  const w = world();
  const addr = anon(w, 4 * PAGE_SIZE);
  const list = isolate(w, addr, 4 * PAGE_SIZE);
  const quiet = new InvariantChecker(w.m, { throwOnViolation: false });
  t.true(quiet.checkQuiescent().some((x) => /NR_ISOLATED_ANON 4/.test(x)), "isolated folios are seen");
  t.is(migrateTo(w, list, 1), 0);
  t.deepEqual(quiet.checkQuiescent(), []);
});

test("zero pages and raw PFN mappings are special PTEs the audit accepts", (t) => {
  const w = world();
  w.m.memory.anonThp[9] = "always";
  const { mmapPfnRange, PROT_READ: R } = all;
  const addr = w.m.memory.mmap(w.mm, { len: 4 << 20, prot: R, flags: all.MAP_PRIVATE | all.MAP_ANONYMOUS });
  t.is(w.m.memory.handleMmFault(w.mm, addr, false), 0, "read fault maps the huge zero page");
  t.is(w.m.memory.handleMmFault(w.mm, addr + (2 << 20) + PAGE_SIZE, false), 0);
  t.true(mmapPfnRange(w.m, w.mm, 2 * PAGE_SIZE, R, 1) > 0);
  t.deepEqual(w.checker.checkAll(), []);
});

import * as all from "../src/index.js";
