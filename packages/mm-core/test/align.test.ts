import test from "ava";
import { alignDown, alignUp, isAligned, PAGE_SIZE, PMD_SIZE } from "../src/index.js";

test("isAligned() is x % a === 0 for page and PMD alignments, below and past 2^31 and 2^32, and negative", (t) => {
  const bases = [0, PAGE_SIZE, 2 ** 31, 2 ** 32, 2 ** 40 + PMD_SIZE, 2 ** 52, -(2 ** 33)];
  for (const a of [PAGE_SIZE, PMD_SIZE]) {
    for (const b of bases) {
      for (const d of [0, 1, -1, 512, PAGE_SIZE, PAGE_SIZE - 1, PMD_SIZE, PMD_SIZE + PAGE_SIZE]) {
        const x = b + d;
        t.is(isAligned(x, a), x % a === 0, `${x} to ${a}`);
      }
    }
  }
  t.true(isAligned(3 * 2 ** 32, PAGE_SIZE));
  t.false(isAligned(2 ** 32 + 2048, PAGE_SIZE));
  t.is(alignDown(2 ** 32 + 5000, PAGE_SIZE), 2 ** 32 + PAGE_SIZE);
  t.is(alignUp(2 ** 32 + 5000, PAGE_SIZE), 2 ** 32 + 2 * PAGE_SIZE);
});
