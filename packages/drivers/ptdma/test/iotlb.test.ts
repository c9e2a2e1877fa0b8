import test from "ava";
import { PAGE_SIZE } from "@mmemu/mm-core";
import { dmatestRun } from "@mmemu/dmaengine";
import { requestChan, rig } from "./helpers.js";

const NODE1 = 4096;

/** Virtual ns per transfer of `pages` pages from `pfn` (node 0) to the same offset on node 1. */
function perTransfer(iotlbMiss: number, iommu: "translate" | "off", pfn: number, pages: number): number {
  const r = rig({ iommu, params: { iotlb_miss: iotlbMiss } });
  const res = dmatestRun(r.engine, { chan: requestChan(r), srcPfn: pfn, dstPfn: NODE1 + pfn, len: pages * PAGE_SIZE, iterations: 4 });
  if (res.completed !== 4 || res.verifyErrors !== 0) throw new Error("dmatest failed");
  return res.elapsedNs / 4;
}

test("through a translating IOMMU each 4 KiB page costs a walk per side; a 2 MiB page one", (t) => {
  // 64 KiB not 2 MiB aligned: 16 IOMMU pages per side.
  const small = perTransfer(400, "translate", 16, 16) - perTransfer(0, "translate", 16, 16);
  t.is(small, 2 * 16 * 400);
  // 2 MiB, aligned on both sides: one 2 MiB IOMMU page per side.
  const huge = perTransfer(400, "translate", 512, 512) - perTransfer(0, "translate", 512, 512);
  t.is(huge, 2 * 400);
  // The same 2 MiB one page off alignment: 512 walks per side.
  const odd = perTransfer(400, "translate", 513, 512) - perTransfer(0, "translate", 513, 512);
  t.is(odd, 2 * 512 * 400);
  // Without an IOMMU there is nothing to translate.
  t.is(perTransfer(400, "off", 16, 16), perTransfer(0, "off", 16, 16));
});
