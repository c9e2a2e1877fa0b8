import test from "ava";
import { ConcurrencyModelError, RWSEM_WAIT_TIMEOUT_NS, RwSemaphore, Sim } from "../src/index.js";

test("uncontended acquire and release take no time and count nothing as contended", (t) => {
  const sim = new Sim();
  const sem = new RwSemaphore(sim, "test");
  sem.downRead();
  sem.downRead();
  t.is(sem.readers, 2);
  t.false(sem.canWrite());
  sem.upRead();
  sem.upRead();
  sem.downWrite();
  t.false(sem.canRead());
  sem.upWrite();
  t.is(sim.now, 0);
  t.is(sem.contended, 0);
  t.throws(() => sem.upRead(), { message: /not held for read/ });
  t.throws(() => sem.upWrite(), { message: /not held for write/ });
});

test("a queued writer is woken by the last reader's release; a new reader steals the free lock first (reader lock stealing)", (t) => {
  const sim = new Sim();
  const sem = new RwSemaphore(sim, "test");
  const log: string[] = [];
  sem.downRead();
  t.false(sem.canWrite());
  const wake = (): void => {
    if (sem.retryWaiter(wake)) {
      sem.downWrite();
      log.push(`writer at ${sim.now}`);
      sem.upWrite();
    } else log.push(`writer retried in vain at ${sim.now}`);
  };
  sem.waitFor(true, wake);
  sim.advance(100);
  sem.upRead(); // wakes the writer (an event at 100)
  t.true(sem.canRead(), "the lock is free: a reader may steal it although a writer waits");
  sem.downRead();
  sim.advance(50); // the writer's retry runs inside this work and fails
  sem.upRead(); // woken again
  sim.advance(10);
  t.deepEqual(log, ["writer retried in vain at 100", "writer at 150"]);
  t.is(sem.nrWaiters, 0);
  t.is(sem.waitNs, 150);
});

test("readers queue behind a waiting writer while other readers hold the lock", (t) => {
  const sim = new Sim();
  const sem = new RwSemaphore(sim, "test");
  sem.downRead();
  sem.waitFor(true, () => {});
  t.false(sem.canRead(), "rwsem_down_read_slowpath(): do not steal a lock that readers hold while a writer waits");
});

test("after RWSEM_WAIT_TIMEOUT a waiter sets the hand-off and nobody else may take the lock", (t) => {
  const sim = new Sim();
  const sem = new RwSemaphore(sim, "test");
  let got = -1;
  const wake = (): void => {
    if (sem.retryWaiter(wake)) {
      sem.downWrite();
      got = sim.now;
      sem.upWrite();
    }
  };
  sem.downRead();
  sem.waitFor(true, wake);
  // A reader that releases and re-takes the lock every microsecond keeps the writer out for 4 ms.
  for (let k = 0; k < 5000 && got < 0; k++) {
    sem.upRead();
    if (!sem.canRead()) {
      sim.runUntil(() => got >= 0);
      break;
    }
    sem.downRead();
    sim.advance(1000);
  }
  t.true(got >= RWSEM_WAIT_TIMEOUT_NS && got < RWSEM_WAIT_TIMEOUT_NS + 2000, `the writer got the lock at ${got} ns`);
  t.false(sem.handoff);
});

test("a release wakes every reader queued before the first writer, in order", (t) => {
  const sim = new Sim();
  const sem = new RwSemaphore(sim, "test");
  const order: string[] = [];
  sem.downWrite();
  const waiter = (name: string, write: boolean): void => {
    const wake = (): void => {
      if (!sem.retryWaiter(wake)) return;
      if (write) sem.downWrite();
      else sem.downRead();
      order.push(name);
    };
    sem.waitFor(write, wake);
  };
  waiter("r1", false);
  waiter("r2", false);
  waiter("w", true);
  sem.upWrite();
  sim.run();
  t.deepEqual(order, ["r1", "r2"], "the writer behind them is not woken while they hold it");
  t.is(sem.readers, 2);
});

test("a synchronous sleeper waits for a holder that runs above it, and refuses one sleeping below it", (t) => {
  const sim = new Sim();
  const sem = new RwSemaphore(sim, "test");
  // The holder is an event-started task that holds the lock for 300 ns of its own work.
  sim.schedule(10, () => sim.runTask(() => {
    sem.downWrite();
    sim.advance(300);
    sem.upWrite();
  }, undefined));
  sim.advance(20);
  t.is(sim.now, 310, "the task that started at 10 ran its 300 ns before this one resumed");
  t.is(sim.lateNs, 290);
  sim.schedule(5, () => sim.runTask(() => sim.advance(100), undefined));
  sim.run(sim.now + 50);
  t.is(sim.lateNs, 290 + 55, "a sleep (Sim.run) that a longer task interrupted ends late too");
  sem.downRead();
  sem.upRead();
  // A holder below (this frame) and a task above that would sleep for it: the model cannot run it.
  sem.downWrite();
  let err: unknown = null;
  sim.schedule(0, () => sim.runTask(() => {
    try {
      sem.downRead();
    } catch (e) {
      err = e;
    }
  }, undefined));
  sim.advance(1);
  sem.upWrite();
  t.true(err instanceof ConcurrencyModelError);
  t.throws(() => {
    sem.downWrite();
    sem.downWrite();
  }, { message: /self-deadlock/ });
});
