import test from "ava";
import { KernelCore } from "@mmemu/kernel";
import { KernelLog, kernelLog, KERN_WARNING, RatelimitState, formatLogLine } from "@mmemu/offload-api";

test("printk lines carry virtual time and read back like dmesg", (t) => {
  const core = new KernelCore();
  const log = kernelLog(core);
  t.is(kernelLog(core), log, "one log per machine");
  log.prInfo("hello");
  core.sim.advance(1_234_567_000);
  log.prWarn("later");
  t.deepEqual(log.lines().map((l) => [l.ts, l.text]), [[0, "hello"], [1_234_567_000, "later"]]);
  t.is(log.dmesg(), "[    0.000000] hello\n[    1.234567] later");
  t.is(log.grep("late").length, 1);
  t.not(kernelLog(new KernelCore()), log, "machines do not share a log");
});

test("the ring keeps the newest lines and counts what it dropped", (t) => {
  const core = new KernelCore();
  const log = new KernelLog(core, 3);
  for (let i = 0; i < 5; i++) log.prInfo(`l${i}`);
  t.deepEqual(log.lines().map((l) => l.text), ["l2", "l3", "l4"]);
  t.deepEqual(log.lines().map((l) => l.seq), [2, 3, 4]);
  t.is(log.dropped, 2);
});

test("pr_warn_ratelimited: 10 per 5 s, then 'callbacks suppressed' when the next interval opens", (t) => {
  const core = new KernelCore();
  const log = kernelLog(core);
  const rs = new RatelimitState("folios_copy_dma");
  let printed = 0;
  for (let i = 0; i < 25; i++) if (log.printkRatelimited(rs, KERN_WARNING, `warn ${i}`)) printed++;
  t.is(printed, 10);
  core.sim.advance(5_000_000_001);
  t.true(log.printkRatelimited(rs, KERN_WARNING, "warn again"));
  const texts = log.lines().map((l) => l.text);
  t.is(texts.at(-2), "folios_copy_dma: 15 callbacks suppressed");
  t.is(texts.at(-1), "warn again");
  t.is(formatLogLine(log.lines().at(-1)!), "[    5.000000] warn again");
});
