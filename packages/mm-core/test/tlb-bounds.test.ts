/** Ranged TLB flushes that can skip the scan (no cached page hashes to the range) still drop exactly what they must. */
import test from "ava";
import { Tlbs } from "../src/index.js";

test("a ranged flush outside the cached pages keeps them; one that covers a page drops exactly it", (t) => {
  const tlbs = new Tlbs(2);
  tlbs.fill(0, 1, 100, 7, true);
  tlbs.fill(0, 1, 200, 8, true);
  tlbs.flushRange(0, 1, 300, 400);
  tlbs.flushRange(0, 1, 0, 100);
  t.is(tlbs.lookup(0, 1, 100, false), 7, "pages not cached: nothing dropped");
  t.is(tlbs.lookup(0, 1, 200, false), 8);
  tlbs.flushRange(0, 1, 150, 201);
  t.is(tlbs.lookup(0, 1, 200, false), -1, "a cached page in the range goes");
  t.is(tlbs.lookup(0, 1, 100, false), 7, "and only that one");
  tlbs.flushRange(0, 2, 0, 1000);
  t.is(tlbs.lookup(0, 1, 100, false), 7, "another mm's flush leaves it");
  t.is(tlbs.flushes[0], 4, "every flush is still counted");
});

test("after a full flush, evictions and refills the filter still finds every cached page", (t) => {
  const tlbs = new Tlbs(1);
  tlbs.fill(0, 1, 10, 1, false);
  tlbs.flushAll(0);
  tlbs.fill(0, 1, 5000, 2, false);
  tlbs.flushRange(0, 1, 10, 11);
  t.is(tlbs.lookup(0, 1, 5000, false), 2);
  tlbs.flushRange(0, 1, 5000, 5001);
  t.is(tlbs.lookup(0, 1, 5000, false), -1);
  // Evict through round-robin replacement (pages that share buckets), then flush each page alone.
  for (let v = 0; v < 300; v++) tlbs.fill(0, 1, v * 1024, v, false);
  for (let v = 236; v < 300; v++) t.is(tlbs.lookup(0, 1, v * 1024, false), v);
  for (let v = 236; v < 300; v++) tlbs.flushRange(0, 1, v * 1024, v * 1024 + 1);
  for (let v = 236; v < 300; v++) t.is(tlbs.lookup(0, 1, v * 1024, false), -1);
});
