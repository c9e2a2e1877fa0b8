import test from "ava";
import fc from "fast-check";
import {
  FolioList, isolateFolioToList, MIGRATE_ASYNC, MIGRATE_SYNC, MIGRATE_SYNC_LIGHT, MR, PAGE_SIZE, putbackMovablePages,
  migratePages, allocMigrationTarget, type MigrateMode,
} from "../src/index.js";
import { anon, world } from "./world.js";

/**
 * Random workloads: mappings of random folio orders, forks, partial unmaps, pins, writes, and random
 * migrations under random injected faults. After every migration the machine must pass the full audit
 * and every page must hold what was last written to it (a shadow copy kept by the test).
 */
const op = fc.oneof(
  fc.record({ kind: fc.constant("mmap" as const), pages: fc.integer({ min: 1, max: 96 }), order: fc.constantFrom(0, 2, 4, 9) }),
  fc.record({ kind: fc.constant("fork" as const) }),
  fc.record({ kind: fc.constant("dontneed" as const), at: fc.nat(), pages: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant("pin" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("unpin" as const) }),
  fc.record({ kind: fc.constant("write" as const), at: fc.nat(), value: fc.integer({ min: 1, max: 0x7fffffff }) }),
  fc.record({
    kind: fc.constant("migrate" as const), at: fc.nat(), pages: fc.integer({ min: 1, max: 600 }), node: fc.constantFrom(0, 1),
    mode: fc.constantFrom<MigrateMode>(MIGRATE_ASYNC, MIGRATE_SYNC_LIGHT, MIGRATE_SYNC),
    fault: fc.constantFrom("none", "migrate_extra_ref", "folio_trylock", "migrate_alloc_dst"),
    batch: fc.constantFrom(16, 512, 4096),
  }),
);

test("random workloads keep every invariant and lose no data", (t) => {
  fc.assert(
    fc.property(fc.array(op, { minLength: 1, maxLength: 25 }), (ops) => {
      const w = world({ pages: 1 << 12, cpus: 2 });
      w.m.createTask(w.mm, 1); // a second thread makes flushes remote and deferred
      const mms = [w.mm];
      const regions: Array<{ addr: number; pages: number }> = [];
      const shadow = new Map<string, number>(); // `${mmIndex}:${addr}` -> digest
      const pins: number[] = [];
      const pick = <T>(xs: T[], i: number): T | undefined => (xs.length ? xs[i % xs.length] : undefined);
      const snapshot = () => {
        shadow.clear();
        mms.forEach((mm, mi) => {
          for (const r of regions) {
            for (let a = r.addr; a < r.addr + r.pages * PAGE_SIZE; a += PAGE_SIZE) {
              const pfn = w.m.memory.translate(mm, a);
              if (pfn >= 0) shadow.set(`${mi}:${a}`, w.m.mem.digest(pfn));
            }
          }
        });
      };
      const verify = (): boolean => {
        for (const [k, d] of shadow) {
          const [mi, a] = k.split(":").map(Number) as [number, number];
          const pfn = w.m.memory.translate(mms[mi]!, a);
          if (pfn < 0 || w.m.mem.digest(pfn) !== d) return false;
        }
        return true;
      };
      for (const o of ops) {
        if (o.kind === "mmap") {
          for (let k = 1; k <= 9; k++) w.m.memory.anonThp[k] = k === o.order ? "always" : "never";
          if (w.m.alloc.nrFree(0) + w.m.alloc.nrFree(1) < o.pages * 4) continue;
          const bytes = o.order === 9 ? 2 << 20 : o.pages * PAGE_SIZE;
          regions.push({ addr: anon(w, bytes), pages: bytes / PAGE_SIZE });
        } else if (o.kind === "fork" && mms.length < 3) {
          mms.push(w.m.memory.fork(w.mm));
        } else if (o.kind === "dontneed") {
          const r = pick(regions, o.at);
          if (!r) continue;
          const start = r.addr + (o.at % r.pages) * PAGE_SIZE;
          const len = Math.min(o.pages, r.pages - (o.at % r.pages)) * PAGE_SIZE;
          w.m.memory.madvise(w.mm, start, len, "dontneed");
        } else if (o.kind === "pin") {
          const r = pick(regions, o.at);
          if (!r) continue;
          const f = w.m.memory.pinUserPage(w.mm, r.addr + (o.at % r.pages) * PAGE_SIZE, false);
          if (f >= 0) pins.push(f);
        } else if (o.kind === "unpin") {
          const f = pins.pop();
          if (f !== undefined) w.m.memory.unpinUserPage(f);
        } else if (o.kind === "write") {
          const r = pick(regions, o.at);
          if (!r) continue;
          const frame = w.m.memory.userAccessFrame(w.task, r.addr + (o.at % r.pages) * PAGE_SIZE, true);
          if (frame >= 0) w.m.mem.fillPages(frame, 1, o.value);
        } else if (o.kind === "migrate") {
          const r = pick(regions, o.at);
          if (!r) continue;
          snapshot();
          w.m.settings.nrMaxBatchedMigration = o.batch;
          if (o.fault !== "none") w.m.core.faults.arm(o.fault, { probability: 0.3 });
          const list = new FolioList();
          const mm = mms[o.at % mms.length]!;
          for (let a = r.addr; a < r.addr + Math.min(o.pages, r.pages) * PAGE_SIZE; a += PAGE_SIZE) {
            const pfn = w.m.memory.translate(mm, a);
            if (pfn < 0 || pfn === w.m.zeroPfn) continue;
            const folio = w.m.folios.folioOf(pfn);
            if (!list.includes(folio)) isolateFolioToList(w.m, folio, list);
          }
          const rc = migratePages(w.m, list, (s) => allocMigrationTarget(w.m, s, { nid: o.node, thisNode: true }), null, o.mode, MR.SYSCALL);
          if (rc !== 0) putbackMovablePages(w.m, list);
          for (const fp of w.m.core.faults.list()) fp.disarm();
          if (w.checker.checkQuiescent().length > 0) return false;
          if (!verify()) return false;
        }
      }
      return w.checker.checkAll().length === 0;
    }),
    { numRuns: Number(process.env.MMEMU_PROPERTY_RUNS ?? 60), seed: Number(process.env.MMEMU_PROPERTY_SEED ?? 1234) },
  );
  t.pass();
});
