import test from "ava";
import { FOLIO_CONTENT_COPIED, PAGE_SIZE, PG } from "@mmemu/mm-core";
import { migrateOffloadInit, migrateOffloadRegister, Module, OffloadContractViolation, type Migrator } from "@mmemu/offload-api";
import { anon, migrateRange, world } from "./world.js";

/** Invariant 14: the callback copies contents only. With an invariant checker attached, anything else is caught. */
const breaches: Array<[string, RegExp, (m: ReturnType<typeof world>["m"], dst: Int32Array, src: Int32Array) => void]> = [
  ["unlocks a source", /pair 0 .*changed the src flags/, (m, _d, s) => { m.folios.clear(s[0]!, PG.locked); }],
  ["takes a reference on a destination", /pair 0 .*changed the dst refcount/, (m, d) => { m.folios.refcount[d[0]!]!++; }],
  ["reorders the lists", /pair 0 .*changed the dst list/, (_m, d) => { const x = d[0]!; d[0] = d[1]!; d[1] = x; }],
  ["writes other migrate_info bits", /pair 0 .*changed the dst migrate_info/, (m, d) => { m.folios.migrateInfo[d[0]!]! ^= 1; }],
];

for (const [what, rule, breach] of breaches) {
  test(`a migrator that ${what} breaks the offload_copy contract`, (t) => {
    const w = world();
    migrateOffloadInit(w.m);
    const mig: Migrator = {
      name: "ROGUE",
      owner: new Module("rogue"),
      offloadCopy(dst, src, n) {
        for (let i = 0; i < n; i++) w.m.mem.copyPages(dst[i]!, src[i]!, 1);
        breach(w.m, dst, src);
        return 0;
      },
    };
    t.is(migrateOffloadRegister(w.m, mig), 0);
    const addr = anon(w, 4 * PAGE_SIZE);
    const e = t.throws(() => migrateRange(w, addr, 4 * PAGE_SIZE, 1), { instanceOf: OffloadContractViolation });
    t.regex(e!.message, /^migrator ROGUE, batch \d+, /);
    t.regex(e!.message, rule);
    t.regex(e!.message, /offload_copy must only copy contents/);
  });
}

test("setting FOLIO_CONTENT_COPIED is within the contract", (t) => {
  const w = world();
  migrateOffloadInit(w.m, { series: "v6" });
  const mig: Migrator = {
    name: "MARKER",
    owner: new Module("marker"),
    offloadCopy(dst, src, n) {
      for (let i = 0; i < n; i++) {
        w.m.mem.copyPages(dst[i]!, src[i]!, 1);
        w.m.folios.migrateInfo[dst[i]!]! |= FOLIO_CONTENT_COPIED;
      }
      return 0;
    },
  };
  t.is(migrateOffloadRegister(w.m, mig), 0);
  const addr = anon(w, 4 * PAGE_SIZE);
  t.is(migrateRange(w, addr, 4 * PAGE_SIZE, 1), 0);
  t.deepEqual(w.checker.checkQuiescent(), []);
});
