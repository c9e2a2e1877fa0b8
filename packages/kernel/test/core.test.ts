import test from "ava";
import {
  checkParams, Completion, Cost, DeadlockError, EAGAIN, errnoName, errnoNumber, FaultInjector, TRACE_CTX_IRQ_IDLE,
  isErrno, KernelCore, paramDefaults, Prng, Sim, TraceBus, UniformCosts, WaitQueue,
} from "../src/index.js";

test("events run in time order and ties run first-in-first-out", (t) => {
  const sim = new Sim();
  const order: string[] = [];
  sim.schedule(20, () => order.push("c"));
  sim.schedule(10, () => order.push("a"));
  sim.schedule(10, () => order.push("b"));
  sim.schedule(0, () => order.push("first"));
  sim.run();
  t.deepEqual(order, ["first", "a", "b", "c"]);
  t.is(sim.now, 20);
});

test("advance() runs the events due during the work, then stands at its end", (t) => {
  const sim = new Sim();
  const at: number[] = [];
  sim.schedule(5, () => at.push(sim.now));
  sim.schedule(50, () => at.push(sim.now));
  sim.advance(10);
  t.deepEqual(at, [5]);
  t.is(sim.now, 10);
  sim.advance(0.4);
  t.is(sim.now, 10, "sub-nanosecond work rounds to integer ns");
  t.is(sim.pending, 1);
});

test("cancelled events do not run", (t) => {
  const sim = new Sim();
  let ran = false;
  const id = sim.schedule(5, () => (ran = true));
  sim.cancel(id);
  sim.run();
  t.false(ran);
});

test("a sleeper nobody can wake is a loud DeadlockError; a timeout returns false at the deadline", (t) => {
  const sim = new Sim();
  t.throws(() => sim.runUntil(() => false, undefined, "wait_for_x"), { instanceOf: DeadlockError, message: /wait_for_x/ });
  t.false(sim.runUntil(() => false, 1000));
  t.is(sim.now, 1000);
  t.throws(() => sim.schedule(-1, () => {}), { message: /delay must be >= 0/ });
});

test("completions: wait sleeps until complete() from an event; waitTimeout reports remaining time or 0", (t) => {
  const sim = new Sim();
  const c = new Completion(sim);
  sim.schedule(300, () => c.complete());
  c.wait();
  t.is(sim.now, 300);
  const d = new Completion(sim);
  sim.schedule(100, () => d.complete());
  t.is(d.waitTimeout(1000), 900);
  const e = new Completion(sim);
  t.is(e.waitTimeout(500), 0);
  t.is(sim.now, 900);
});

test("wait queues wake every waiter in order at the current time", (t) => {
  const sim = new Sim();
  const wq = new WaitQueue(sim);
  const woken: number[] = [];
  wq.add(() => woken.push(1));
  wq.add(() => woken.push(2));
  sim.advance(7);
  wq.wakeUpAll();
  t.is(wq.length, 0);
  sim.run();
  t.deepEqual(woken, [1, 2]);
});

test("tracepoints cost nothing until a probe attaches, then carry the virtual timestamp", (t) => {
  const core = new KernelCore();
  const tp = core.trace.define<{ nr: number }>("mm_test");
  t.false(tp.enabled);
  const rec = core.trace.record(["mm_test"]);
  t.true(tp.enabled);
  core.sim.advance(1234);
  tp.emit({ nr: 3 });
  rec.stop();
  t.false(tp.enabled);
  t.deepEqual(rec.records, [{ name: "mm_test", ts: 1234, fields: { nr: 3 }, cpu: 0, pid: 0, comm: "<idle>", ctx: 0 }]);
  // An interrupt context overrides the task context until it is left.
  core.trace.currentTask = () => ({ cpu: 2, pid: 42, comm: "migtest" });
  const rec2 = core.trace.record(["mm_test"]);
  tp.emit({ nr: 4 });
  const prev = core.trace.enterContext(5, TRACE_CTX_IRQ_IDLE);
  tp.emit({ nr: 5 });
  core.trace.exitContext(prev);
  tp.emit({ nr: 6 });
  rec2.stop();
  t.deepEqual(rec2.records.map((r) => [r.cpu, r.pid, r.comm, r.ctx]), [[2, 42, "migtest", 0], [5, 0, "<idle>", TRACE_CTX_IRQ_IDLE], [2, 42, "migtest", 0]]);
  t.throws(() => core.trace.on("mm_typo", () => {}), { message: /unknown tracepoint "mm_typo"/ });
});

test("a wildcard probe enables tracepoints defined later too", (t) => {
  const bus = new TraceBus(new Sim());
  const rec = bus.record("*");
  const tp = bus.define("late");
  t.true(tp.enabled);
  tp.emit({});
  t.is(rec.records.length, 1);
});

test("PRNG streams are deterministic per (seed, name) and independent of each other", (t) => {
  const a = new Prng(7);
  const b = new Prng(7);
  const xs = Array.from({ length: 5 }, () => a.stream("dcbm").nextU32());
  b.stream("other").nextU32(); // drawing from another stream must not shift this one
  t.deepEqual(Array.from({ length: 5 }, () => b.stream("dcbm").nextU32()), xs);
  t.notDeepEqual(Array.from({ length: 5 }, () => new Prng(8).stream("dcbm").nextU32()), xs);
  const s = a.stream("x");
  const state = s.getState();
  const next = [s.below(10), s.float()];
  s.setState(state);
  t.deepEqual([s.below(10), s.float()], next);
  t.throws(() => new Prng(1.5), { message: /integer/ });
});

test("fault points fail by probability, interval, times and space, and unknown names are errors", (t) => {
  const f = new FaultInjector(new Prng(1).stream("f"));
  const fp = f.define("fail_x", "x fails");
  t.false(fp.armed);
  f.arm("fail_x", { interval: 3, times: 2, space: 1 });
  const hits = Array.from({ length: 12 }, () => fp.armed && fp.shouldFail());
  t.deepEqual(hits.map((h, i) => (h ? i : -1)).filter((i) => i >= 0), [2, 5]);
  t.false(fp.armed, "disarms itself after `times` failures");
  t.throws(() => f.arm("nope"), { message: /unknown fault point "nope"; defined: fail_x/ });
  t.throws(() => f.arm("fail_x", { probability: 2 }), { message: /probability must be in \[0, 1\]/ });
});

test("errno names and numbers match x86-64 Linux", (t) => {
  t.is(EAGAIN, 11);
  t.is(errnoName(-11), "EAGAIN");
  t.is(errnoNumber("EHWPOISON"), 133);
  t.true(isErrno(-EAGAIN));
  t.false(isErrno(5));
});

test("declared parameters: defaults and range/unit/unknown-name errors naming the parameter", (t) => {
  const table = {
    bw: { unit: "GB/s", default: 10, min: 1, max: 100, doc: "bandwidth", source: "test" },
    n: { unit: "count", default: 2, min: 1, max: 16, integer: true, doc: "count", source: "test" },
  } as const;
  t.deepEqual(paramDefaults(table), { bw: 10, n: 2 });
  t.deepEqual(checkParams(table, { bw: 5, n: 3 }, "p"), []);
  const errs = checkParams(table, { bw: 500, n: 2.5, zz: 1 }, "p");
  t.true(errs.some((e) => e.startsWith("p.bw: 500 GB/s is outside [1, 100]")));
  t.true(errs.some((e) => e.startsWith("p.n: must be an integer")));
  t.true(errs.some((e) => e.startsWith("p.zz: unknown parameter")));
});

test("UniformCosts turns every charged unit into virtual time, counting bytes without timing them", (t) => {
  const sim = new Sim();
  const costs = new UniformCosts(sim, 50);
  costs.charge(Cost.PTE_UNMAP, 3);
  costs.charge(Cost.CPU_COPY_BYTE, 4096);
  t.is(sim.now, 150);
  t.is(costs.units[Cost.CPU_COPY_BYTE], 4096);
});
