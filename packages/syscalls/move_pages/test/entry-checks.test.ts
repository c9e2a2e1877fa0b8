/** Spec §2 (entry checks, in order) and §9 (permission rules for pid != 0). */
import test from "ava";
import { EACCES, EFAULT, EINVAL, EPERM, ESRCH } from "@mmemu/kernel";
import { PAGE_SIZE } from "@mmemu/mm-core";
import {
  CAP, capMask, kernelMovePages, makeCred, MPOL_MF_LAZY, MPOL_MF_MOVE, MPOL_MF_MOVE_ALL, MPOL_MF_STRICT, setresuid,
  SUID_DUMP_DISABLE, type Cred,
} from "../src/index.js";
import { mmap, movePages, nodeOf, touch, world } from "./world.js";

test("flags other than MOVE/MOVE_ALL are EINVAL, before anything else (STRICT, LAZY, 8, -1)", (t) => {
  const w = world();
  for (const flags of [MPOL_MF_STRICT, MPOL_MF_LAZY, 8, -1, MPOL_MF_MOVE | 1]) {
    // A bad pid and NULL arrays would fail later checks; flags win.
    t.is(kernelMovePages(w.tasks, w.p, 999999, 1, 0, 0, 0, flags), -EINVAL, `flags ${flags}`);
  }
});

test("flags 0, MOVE and MOVE|MOVE_ALL are accepted; 0 moves like MOVE", (t) => {
  const w = world({ proc: { uid: 0 } });
  const a = mmap(w, w.p, 2 * PAGE_SIZE);
  touch(w, w.p, a);
  touch(w, w.p, a + PAGE_SIZE);
  t.deepEqual(movePages(w, w.p, 0, [a], [1], 0), { ret: 0, status: [1] });
  t.deepEqual(movePages(w, w.p, 0, [a + PAGE_SIZE], [1], MPOL_MF_MOVE | MPOL_MF_MOVE_ALL), { ret: 0, status: [1] });
  t.is(nodeOf(w, w.p, a), 1);
});

test("MOVE_ALL without CAP_SYS_NICE is EPERM before the pid lookup, in stat mode and for count 0", (t) => {
  const w = world();
  t.is(kernelMovePages(w.tasks, w.p, 999999, 0, 0, 0, 0, MPOL_MF_MOVE_ALL), -EPERM, "beats a bad pid");
  t.is(kernelMovePages(w.tasks, w.p, 0, 0, 0, 0, 0, MPOL_MF_MOVE_ALL), -EPERM, "count 0, stat mode");
  const nice = w.tasks.createProcess({ uid: 1000, caps: capMask([CAP.SYS_NICE]) });
  t.is(kernelMovePages(w.tasks, nice, 0, 0, 0, 0, 0, MPOL_MF_MOVE_ALL), 0, "CAP_SYS_NICE unlocks MOVE_ALL");
});

test("CAP_SYS_NICE held only in a child user namespace does not unlock MOVE_ALL", (t) => {
  const w = world();
  const ns = w.tasks.createUserNs(w.tasks.initUserNs, 1000);
  const inNs = w.tasks.createProcess({ cred: makeCred(ns, 0, 0, capMask([CAP.SYS_NICE])) });
  t.is(kernelMovePages(w.tasks, inNs, 0, 0, 0, 0, 0, MPOL_MF_MOVE_ALL), -EPERM);
});

test("an unknown or negative pid is ESRCH, before the arrays are looked at", (t) => {
  const w = world();
  t.is(kernelMovePages(w.tasks, w.p, 999999, 5, 0, 0, 0, MPOL_MF_MOVE), -ESRCH);
  t.is(kernelMovePages(w.tasks, w.p, -1, 5, 0, 0, 0, MPOL_MF_MOVE), -ESRCH);
});

test("count 0 returns 0 without touching the (NULL) arrays, in both modes", (t) => {
  const w = world();
  t.is(kernelMovePages(w.tasks, w.p, 0, 0, 0, 0, 0, MPOL_MF_MOVE), 0);
  t.is(kernelMovePages(w.tasks, w.p, 0, 0, 0, 1234, 0, MPOL_MF_MOVE), 0);
});

test("a kernel thread is EINVAL for root and EPERM for an unprivileged caller", (t) => {
  const w = world();
  const kthreadd = w.tasks.createKernelThread({ name: "kthreadd", pid: 2 });
  const root = w.tasks.createProcess({ uid: 0 });
  t.is(kernelMovePages(w.tasks, root, 2, 0, 0, 0, 0, MPOL_MF_MOVE), -EINVAL);
  t.is(kernelMovePages(w.tasks, w.p, 2, 0, 0, 0, 0, MPOL_MF_MOVE), -EPERM);
  t.true(kthreadd.isKernelThread);
});

test("a same-uid zombie is EINVAL; a zombie that was not dumpable is EPERM", (t) => {
  const w = world();
  const z = w.tasks.fork(w.p);
  w.tasks.exit(z);
  t.true(z.isZombie);
  t.is(kernelMovePages(w.tasks, w.p, z.pid, 0, 0, 0, 0, MPOL_MF_MOVE), -EINVAL);
  const nd = w.tasks.fork(w.p);
  t.is(w.tasks.prctlSetDumpable(nd, SUID_DUMP_DISABLE), 0);
  w.tasks.exit(nd);
  t.is(kernelMovePages(w.tasks, w.p, nd.pid, 0, 0, 0, 0, MPOL_MF_MOVE), -EPERM);
  w.tasks.reap(z);
  t.is(kernelMovePages(w.tasks, w.p, z.pid, 0, 0, 0, 0, MPOL_MF_MOVE), -ESRCH, "reaped: the pid is gone");
});

test("same uid and dumpable: allowed; same uid, not dumpable: EPERM; CAP_SYS_PTRACE overrides", (t) => {
  const w = world();
  const q = w.tasks.createProcess({ uid: 1000 });
  const a = mmap(w, q, PAGE_SIZE);
  touch(w, q, a);
  t.deepEqual(movePages(w, w.p, q.pid, [a], null, MPOL_MF_MOVE), { ret: 0, status: [0] });
  w.tasks.prctlSetDumpable(q, SUID_DUMP_DISABLE);
  t.is(movePages(w, w.p, q.pid, [a], null, MPOL_MF_MOVE).ret, -EPERM);
  const tracer = w.tasks.createProcess({ uid: 1000, caps: capMask([CAP.SYS_PTRACE]) });
  t.is(movePages(w, tracer, q.pid, [a], null, MPOL_MF_MOVE).ret, 0);
});

test("another user's process is EPERM; CAP_SYS_NICE does not help, CAP_SYS_PTRACE does", (t) => {
  const w = world();
  const other = w.tasks.createProcess({ uid: 2000 });
  const a = mmap(w, other, PAGE_SIZE);
  touch(w, other, a);
  t.is(movePages(w, w.p, other.pid, [a], [1], MPOL_MF_MOVE).ret, -EPERM);
  const nice = w.tasks.createProcess({ uid: 1000, caps: capMask([CAP.SYS_NICE]) });
  t.is(movePages(w, nice, other.pid, [a], [1], MPOL_MF_MOVE).ret, -EPERM);
  const tracer = w.tasks.createProcess({ uid: 1000, caps: capMask([CAP.SYS_PTRACE]) });
  t.deepEqual(movePages(w, tracer, other.pid, [a], [1], MPOL_MF_MOVE), { ret: 0, status: [1] });
  const root = w.tasks.createProcess({ uid: 0 });
  t.is(movePages(w, root, other.pid, [a], [0], MPOL_MF_MOVE).ret, 0, "root has CAP_SYS_PTRACE");
});

test("the caller's real uid must match the target's uid, euid and suid (and gids)", (t) => {
  const w = world();
  const base = makeCred(w.tasks.initUserNs, 1000, 1000, 0n);
  const variants: Array<[string, Partial<Cred>]> = [["euid", { euid: 0 }], ["suid", { suid: 0 }], ["uid", { uid: 3 }], ["egid", { egid: 5 }], ["sgid", { sgid: 5 }], ["gid", { gid: 5 }]];
  for (const [what, over] of variants) {
    const q = w.tasks.createProcess({ cred: { ...base, ...over } });
    t.is(kernelMovePages(w.tasks, w.p, q.pid, 0, 0, 0, 0, MPOL_MF_MOVE), -EPERM, `target ${what} differs`);
  }
  // The caller's *effective* uid does not matter (READ_REALCREDS): a caller with euid 0 but uid 1000 is
  // still judged as uid 1000.
  const setuidCaller = w.tasks.createProcess({ cred: { ...base, euid: 0, capEffective: 0n, capPermitted: 0n } });
  const q = w.tasks.createProcess({ uid: 1000 });
  t.is(kernelMovePages(w.tasks, setuidCaller, q.pid, 0, 0, 0, 0, MPOL_MF_MOVE), 0);
});

test("a thread id selects its process's mm and the thread's own cpuset", (t) => {
  const w = world();
  const q = w.tasks.createProcess({ uid: 1000 });
  const only0 = w.tasks.createCpuset("only0", new Uint8Array(1024).fill(0).map((_, i) => (i === 0 ? 1 : 0)));
  const thr = w.tasks.createThread(q, { cpu: 1, cpuset: only0 });
  const a = mmap(w, q, PAGE_SIZE);
  touch(w, q, a);
  t.is(movePages(w, w.p, thr.pid, [a], [1], MPOL_MF_MOVE).ret, -EACCES, "node 1 is outside the thread's cpuset");
  t.deepEqual(movePages(w, w.p, q.pid, [a], [1], MPOL_MF_MOVE), { ret: 0, status: [1] }, "the leader's cpuset allows it");
  t.deepEqual(movePages(w, w.p, thr.pid, [a], null, MPOL_MF_MOVE), { ret: 0, status: [1] }, "same mm");
});

test("threads of one process may always inspect each other, even when not dumpable", (t) => {
  const w = world();
  const thr = w.tasks.createThread(w.p, { cpu: 1 });
  w.tasks.prctlSetDumpable(w.p, SUID_DUMP_DISABLE);
  const a = mmap(w, w.p, PAGE_SIZE);
  touch(w, w.p, a);
  t.deepEqual(movePages(w, thr, w.p.pid, [a], null, MPOL_MF_MOVE), { ret: 0, status: [0] });
});

test("a setuid transition makes the mm non-dumpable, and fork passes that on", (t) => {
  const w = world();
  const suidProc = w.tasks.createProcess({ cred: makeCred(w.tasks.initUserNs, 1000, 1000, 0n, { euid: 0, suid: 0 }) });
  const next = setresuid(suidProc.cred, -1, 1000, -1);
  if (typeof next === "number") return t.fail(`setresuid ${next}`);
  w.tasks.commitCreds(suidProc, next);
  t.is(w.tasks.mmSecurity(suidProc.mm!).dumpable, SUID_DUMP_DISABLE);
  const child = w.tasks.fork(suidProc);
  t.is(kernelMovePages(w.tasks, w.p, child.pid, 0, 0, 0, 0, MPOL_MF_MOVE), -EPERM, "saved uid 0 also blocks the cred step");
  const next2 = setresuid(child.cred, 1000, 1000, 1000);
  if (typeof next2 === "number") return t.fail();
  w.tasks.commitCreds(child, next2);
  t.is(kernelMovePages(w.tasks, w.p, child.pid, 0, 0, 0, 0, MPOL_MF_MOVE), -EPERM, "creds match now, but it is not dumpable");
});

test("leaving euid 0 drops effective capabilities (LTP move_pages11's seteuid(nobody))", (t) => {
  const w = world();
  const root = w.tasks.createProcess({ uid: 0 });
  const c = setresuid(root.cred, -1, 65534, -1);
  if (typeof c === "number") return t.fail();
  w.tasks.commitCreds(root, c);
  t.is(kernelMovePages(w.tasks, root, 0, 0, 0, 0, 0, MPOL_MF_MOVE_ALL), -EPERM);
  t.is(setresuid(w.p.cred, 0, 0, 0), -EPERM, "an unprivileged process cannot become root");
});

test("an LSM denying task_movememory gives its errno for pid != 0 only", (t) => {
  const w = world();
  const q = w.tasks.createProcess({ uid: 1000 });
  w.tasks.taskMovememory = () => -EACCES;
  t.is(kernelMovePages(w.tasks, w.p, q.pid, 0, 0, 0, 0, MPOL_MF_MOVE), -EACCES);
  t.is(kernelMovePages(w.tasks, w.p, 0, 0, 0, 0, 0, MPOL_MF_MOVE), 0);
});

test("a bad pid beats bad arrays: the arrays are not read before the target is found", (t) => {
  const w = world();
  t.is(kernelMovePages(w.tasks, w.p, 424242, 4, 8, 16, 24, MPOL_MF_MOVE), -ESRCH);
  t.is(kernelMovePages(w.tasks, w.p, 0, 4, 8, 16, 24, MPOL_MF_MOVE), -EFAULT);
});
