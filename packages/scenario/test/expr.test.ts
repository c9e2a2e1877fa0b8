import test from "ava";
import { ADDRESS_CONSTANTS, evalAddr, exprNames, parseSize } from "../src/index.js";

const scope = { labels: new Map([["buf", 0x7f0000000000n], ["b.2", 0x1000n]]), vars: { n: 3, i: 2 } };

test("sizes: plain numbers, binary units and pages", (t) => {
  t.is(parseSize(4096), 4096);
  t.is(parseSize("4KiB"), 4096);
  t.is(parseSize("2MiB"), 2 << 20);
  t.is(parseSize("1GiB"), 1 << 30);
  t.is(parseSize("3p"), 3 * 4096);
  t.is(parseSize("0x10"), 16);
  t.throws(() => parseSize("12 parsecs"), { message: /is not a size/ });
});

test("address expressions: labels, offsets with units, constants, variables, products", (t) => {
  t.is(evalAddr("buf", scope), 0x7f0000000000n);
  t.is(evalAddr("buf+4096", scope), 0x7f0000001000n);
  t.is(evalAddr("buf + 2MiB - 1", scope), 0x7f00001fffffn);
  t.is(evalAddr("buf+$i*4096", scope), 0x7f0000002000n);
  t.is(evalAddr("buf+3p", scope), 0x7f0000003000n);
  t.is(evalAddr("b.2+(1+1)*2", scope), 0x1004n);
  t.is(evalAddr("NULL", scope), 0n);
  t.is(evalAddr("KERNEL", scope), ADDRESS_CONSTANTS.KERNEL);
  t.is(evalAddr("0xffffffffffffffff", scope), 0xffffffffffffffffn, "raw 64-bit values stay exact");
  t.is(evalAddr("NULL-1", scope), 0xffffffffffffffffn, "arithmetic wraps like unsigned long");
  t.is(evalAddr(12345, scope), 12345n);
});

test("address expressions: errors name the problem", (t) => {
  t.throws(() => evalAddr("nope+1", scope), { message: /unknown label "nope"/ });
  t.throws(() => evalAddr("buf+$x", scope), { message: /unknown variable "\$x"/ });
  t.throws(() => evalAddr("buf+", scope), { message: /ends too early/ });
  t.throws(() => evalAddr("buf#", scope), { message: /unexpected "#"/ });
  t.deepEqual(exprNames("a+b.c-$k*KERNEL"), { ids: ["a", "b.c"], vars: ["k"] });
});
