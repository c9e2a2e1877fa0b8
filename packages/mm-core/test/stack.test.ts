/** The stack VMA: growth on faults below it, the guard gap, RLIMIT_STACK and mmap hints that keep out of the gap. */
import test from "ava";
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PAGE_SIZE, PROT_NONE, PROT_READ, setupStack, STACK_TOP, VM, VM_FAULT } from "../src/index.js";
import { world } from "./world.js";

const P = PAGE_SIZE;

test("a fault below the stack grows the VMA down to its page and keeps the pages already there", (t) => {
  const w = world();
  const s = setupStack(w.mm, 4 * P);
  t.is(s, STACK_TOP - 4 * P);
  const top = w.m.memory.userAccessFrame(w.task, STACK_TOP - 8, true);
  t.true(top >= 0);
  t.true(w.m.memory.userAccessFrame(w.task, s - 10 * P + 123, true) >= 0);
  const v = w.mm.findVma(s)!;
  t.is(v.start, s - 10 * P);
  t.is(v.end, STACK_TOP);
  t.true((v.flags & VM.GROWSDOWN) !== 0);
  t.is(w.mm.vmas.length, 1);
  t.is(w.m.memory.translate(w.mm, STACK_TOP - 8), top, "the top page did not move");
  t.deepEqual(w.checker.checkAll(), []);
});

test("the stack stops stack_guard_gap above an accessible mapping, but not above a PROT_NONE one", (t) => {
  const w = world();
  const s = setupStack(w.mm, P);
  const gap = w.m.memory.stackGuardGap;
  const below = w.m.memory.mmap(w.mm, { addr: s - gap - 2 * P, len: P, prot: PROT_READ, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED });
  t.is(below, s - gap - 2 * P);
  t.true(w.m.memory.userAccessFrame(w.task, s - P, true) >= 0, "one gap left exactly");
  t.is(w.m.memory.userAccessFrame(w.task, s - 2 * P, true), VM_FAULT.SIGSEGV);
  t.is(w.m.memory.mprotect(w.mm, below, P, PROT_NONE), 0);
  t.true(w.m.memory.userAccessFrame(w.task, s - 2 * P, true) >= 0);
  t.is(w.mm.findVma(s)!.start, s - 2 * P);
  t.deepEqual(w.checker.checkAll(), []);
});

test("RLIMIT_STACK caps the growth, and a hole below a mapping that does not grow down is a SIGSEGV", (t) => {
  const w = world();
  const s = setupStack(w.mm, P);
  t.is(w.m.memory.userAccessFrame(w.task, STACK_TOP - w.m.memory.stackRlimit - P, true), VM_FAULT.SIGSEGV);
  t.true(w.m.memory.userAccessFrame(w.task, STACK_TOP - w.m.memory.stackRlimit, true) >= 0);
  const a = w.m.memory.mmap(w.mm, { len: P, prot: PROT_READ, flags: MAP_PRIVATE | MAP_ANONYMOUS });
  t.is(w.m.memory.userAccessFrame(w.task, a - P, false), VM_FAULT.SIGSEGV);
  t.true(s > 0);
});

test("an mmap hint inside the guard gap is not taken; setting up a second stack over the first fails", (t) => {
  const w = world();
  const s = setupStack(w.mm, P);
  const hint = s - 8 * P;
  const a = w.m.memory.mmap(w.mm, { addr: hint, len: P, prot: PROT_READ, flags: MAP_PRIVATE | MAP_ANONYMOUS });
  t.true(a > 0);
  t.not(a, hint);
  const far = s - w.m.memory.stackGuardGap - P;
  t.is(w.m.memory.mmap(w.mm, { addr: far, len: P, prot: PROT_READ, flags: MAP_PRIVATE | MAP_ANONYMOUS }), far);
  t.true(setupStack(w.mm, P) < 0);
});
