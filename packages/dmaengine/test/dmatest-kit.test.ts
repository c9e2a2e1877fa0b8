import test from "ava";
import { defineParamSection } from "@mmemu/kernel";
import {
  DmaDevice, SoftDmaDevice, dmaEngineModuleProblems, dmaengineDescGetCallbackInvoke, dmatestEngine, formatDmatestReport,
  listAddTail, listDel, type DmaChan, type DmaEngineModule, type ListHead, type VirtDmaChan,
} from "../src/index.js";

/** The soft engine (2 channels per function, private) with one planted bug at a time. */
type Bug = "none" | "shortCopy" | "callbackTwice" | "ignoreTerminate" | "reverseOrder";

class BuggySoft extends SoftDmaDevice {
  bug: Bug = "none";

  override finish(c: any): void {
    const d = c.active;
    if (d !== null && this.bug === "shortCopy" && d.len > 4) d.len -= 4;
    super.finish(c);
    if (d !== null && this.bug === "callbackTwice" && d.callbackResult !== null) dmaengineDescGetCallbackInvoke(d, null);
  }

  override deviceIssuePending(chan: DmaChan): void {
    const c = chan as VirtDmaChan;
    if (this.bug === "reverseOrder" && c.descSubmitted.prev !== c.descSubmitted) {
      // The newest submission is started first: completion out of cookie order.
      const last = c.descSubmitted.prev;
      listDel(last);
      listAddTail(last, c.descSubmitted.next as ListHead);
    }
    super.deviceIssuePending(chan);
  }

  override deviceTerminateAll(chan: DmaChan): number {
    return this.bug === "ignoreTerminate" ? 0 : super.deviceTerminateAll(chan);
  }
}

const SOFT_SECTION = defineParamSection("soft", "the soft test engine (no parameters)", {});

function softModule(bug: Bug): DmaEngineModule {
  return {
    name: "soft",
    section: SOFT_SECTION,
    probe: (ctx) => ctx.nodes.map((node, i) => {
      const dev = new BuggySoft(ctx.dma, { name: `soft${i}`, numaNode: node, channels: 2, private: true });
      dev.bug = bug;
      if (ctx.dma.dmaAsyncDeviceRegister(dev) !== 0) throw new Error("register failed");
      return dev as DmaDevice;
    }),
  };
}

const failures = (bug: Bug) => {
  const r = dmatestEngine(softModule(bug), { inFlight: 16 });
  return { r, fails: r.cases.filter((c) => c.status === "fail") };
};

test("a correct engine passes every check on every channel, and the report says so", (t) => {
  const { r, fails } = failures("none");
  t.deepEqual(fails, []);
  t.deepEqual(r.channels, ["dma0chan0", "dma0chan1", "dma1chan0", "dma1chan1"]);
  for (const test of ["memcpy", "in-flight"]) t.is(r.cases.filter((c) => c.test === test && c.status === "pass").length, 4, `${test} on every channel`);
  for (const test of ["polled", "terminate"]) t.is(r.cases.filter((c) => c.test === test && c.status === "pass").length, 2, `${test} on each device`);
  t.regex(formatDmatestReport(r), /\nPASSED: \d+ passed, 0 failed/);
});

test("a copy short by 4 bytes fails memcpy with the byte named", (t) => {
  const { r, fails } = failures("shortCopy");
  t.true(fails.some((c) => c.test === "memcpy" && /len 60 src\+1 dst\+0: destination byte 56 of 60 is 0xdd/.test(c.detail)), JSON.stringify(fails[0]));
  t.regex(formatDmatestReport(r), /\nFAILED: /);
});

test("a callback run twice fails, named with its engine and channel", (t) => {
  const { fails } = failures("callbackTwice");
  t.true(fails.some((c) => /engine soft0, channel dma0chan0: callback of cookie \d+ run twice/.test(c.detail) || /callback ran 2 times/.test(c.detail)), JSON.stringify(fails.slice(0, 2)));
});

test("completion out of cookie order fails the in-flight check", (t) => {
  const { fails } = failures("reverseOrder");
  t.true(fails.some((c) => c.test === "in-flight" && /completion out of cookie order without DMA_COMPLETION_NO_ORDER/.test(c.detail)));
});

test("an engine that keeps running queued work after terminate fails", (t) => {
  const { fails } = failures("ignoreTerminate");
  t.true(fails.some((c) => c.test === "terminate" && /a callback ran after dmaengine_terminate_sync\(\) returned|queued work ran after the terminate/.test(c.detail)), JSON.stringify(fails));
});

test("the engine-module shape is checked with each problem named", (t) => {
  t.deepEqual(dmaEngineModuleProblems(softModule("none")), []);
  t.deepEqual(dmaEngineModuleProblems({ name: "X", probe: 1 }), [
    "name must be a lower-case identifier of 1..32 characters",
    "section must be a parameter section (defineParamSection(name, doc, table))",
    "probe must be a function (ctx) => DmaDevice[]",
  ]);
});
