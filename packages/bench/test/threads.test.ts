import test from "ava";
import { availableParallelism } from "node:os";
import { parseThreads, PointPool } from "../src/pool.js";

test("--threads: absent means one worker per core; bad values are refused with the value named", (t) => {
  t.is(parseThreads(undefined), availableParallelism());
  t.is(parseThreads("3"), 3);
  t.throws(() => parseThreads("abc"), { message: '--threads: expected a whole number from 1 to 256, got "abc"' });
  t.throws(() => parseThreads("-1"), { message: /got "-1"/ });
  t.throws(() => new PointPool(0), { message: "--threads must be a whole number from 1 to 256, got 0" });
});
