import test from "ava";
import { GiB, predictRows, PREDICT_OFFLOAD_SIZES, folioBytes } from "../src/index.js";

test("predict covers the unpublished sizes without moving more than 1 GiB per vanilla run", (t) => {
  const rows = predictRows();
  const vanilla = rows.filter((r) => r.table === "vanilla");
  t.true(vanilla.every((r) => r.spec.totalBytes <= GiB && r.spec.perCall === r.n));
  t.deepEqual([...new Set(vanilla.map((r) => r.folioSize))], ["16K", "64K"]);
  const off = rows.filter((r) => r.table === "offload");
  t.deepEqual([...new Set(off.map((r) => r.folioSize))], [...PREDICT_OFFLOAD_SIZES]);
  t.true(off.every((r) => r.spec.totalBytes === GiB && r.spec.batchPages! * 4096 >= folioBytes(r.folioSize)));
  t.is(off.filter((r) => r.folioSize === "16K").length, 10 * 3);
});
