import test from "ava";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Cost } from "@mmemu/kernel";
import { PAGE_SIZE } from "@mmemu/mm-core";
import { kernelLog, migrateOffloadInit, migrateOffloadOf, migrateOffloadRegister, migrateOffloadUnregister } from "@mmemu/offload-api";
import { bigBatchCopier } from "./example-migrator.js";
import { anon, intact, migrateRange, world } from "./world.js";

test("docs/offload.md shows the copy callback of the guide's plug-in exactly as examples/plugins/bigbatch.ts has it", (t) => {
  const doc = readFileSync(fileURLToPath(new URL("../../../docs/offload.md", import.meta.url)), "utf8");
  const plugin = readFileSync(fileURLToPath(new URL("../../../examples/plugins/bigbatch.ts", import.meta.url)), "utf8");
  const guide = doc.slice(doc.indexOf("## Write your own migrator"));
  const block = /```ts\n(offloadCopy[\s\S]*?)```/.exec(guide)?.[1];
  t.truthy(block, "the guide has the offloadCopy block");
  const lines = (text: string) => text.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
  const code = lines(plugin).join("\n");
  t.true(code.includes(lines(block!).join("\n")), "update docs/offload.md's offloadCopy from examples/plugins/bigbatch.ts");
});

for (const series of ["v5", "v6"] as const) {
  test(`the example migrator copies big batches and declines small ones (${series})`, (t) => {
    const w = world();
    migrateOffloadInit(w.m, { series });
    const mig = bigBatchCopier(w.m, 4);
    t.is(migrateOffloadRegister(w.m, mig), 0);
    t.is(kernelLog(w.m.core).lines().at(-1)!.text.startsWith("migrate_offload: enabled by BIGBATCH"), true);
    const big = anon(w, 16 * PAGE_SIZE);
    t.is(migrateRange(w, big, 16 * PAGE_SIZE, 1), 0);
    t.is(w.costs.units[Cost.CPU_COPY_PAGE], 16, "copied once, by the migrator");
    const small = anon(w, 2 * PAGE_SIZE);
    t.is(migrateRange(w, small, 2 * PAGE_SIZE, 1), 0);
    t.is(w.costs.units[Cost.CPU_COPY_PAGE], 18, "declined: the move phase copied the 2 pages");
    const st = migrateOffloadOf(w.m)!.stats;
    t.deepEqual([st.batchCalls, st.batchErrors], [2, 1]);
    t.true(intact(w, big, 16 * PAGE_SIZE) && intact(w, small, 2 * PAGE_SIZE));
    t.is(migrateOffloadUnregister(w.m, mig), 0);
    t.deepEqual(w.checker.checkQuiescent(), []);
  });
}
