/** fork, exit, wait and pthread_create: the lifetime of processes and threads. */
import { z } from "zod";
import { nodeMaskOf } from "@mmemu/move-pages";
import { defineOp } from "../op.js";
import { common, Name, NodeList, proc } from "../schema-types.js";

export const fork = defineOp({
  schema: z.object({ op: z.literal("fork"), ...common, parent: Name, child: Name, pid: z.number().int().positive().optional(), cpu: z.number().int().min(0).optional() }).strict(),
  check(c, st) {
    c.proc(st.parent, "parent");
    c.addName(st.child, "child");
    c.addPid(st.pid, "pid");
    if (st.cpu !== undefined) c.cpu(st.cpu, "cpu");
  },
  run(w, st) {
    const child = w.tasks.fork(w.task(st.parent), { name: st.child, ...(st.pid !== undefined ? { pid: st.pid } : {}), ...(st.cpu !== undefined ? { cpu: st.cpu } : {}) });
    w.procs.set(st.child, child);
    return { call: `fork(${st.parent}) -> ${st.child}`, result: { pid: child.pid }, mismatches: [] };
  },
});

export const exit = defineOp({
  schema: z.object({ op: z.literal("exit"), ...common, ...proc }).strict(),
  check(c, st) {
    c.proc(st.process);
  },
  run(w, st) {
    const t = w.task(st.process);
    w.tasks.exit(t);
    return { call: `exit(${st.process})`, result: { pid: t.pid, zombie: t.isZombie }, mismatches: [] };
  },
});

export const reap = defineOp({
  schema: z.object({ op: z.literal("reap"), ...common, ...proc }).strict(),
  check(c, st) {
    c.proc(st.process);
  },
  run(w, st) {
    const t = w.task(st.process);
    w.tasks.reap(t);
    return { call: `wait(${st.process})`, result: { pid: t.pid }, mismatches: [] };
  },
});

export const thread = defineOp({
  schema: z.object({ op: z.literal("thread"), ...common, ...proc, thread: Name, cpu: z.number().int().min(0).default(0), pid: z.number().int().positive().optional(), cpuset: NodeList.optional() }).strict(),
  check(c, st) {
    c.proc(st.process);
    c.addName(st.thread, "thread");
    c.addPid(st.pid, "pid");
    c.cpu(st.cpu, "cpu");
    c.nodes(st.cpuset, "cpuset");
  },
  run(w, st) {
    const t = w.tasks.createThread(w.task(st.process), {
      name: st.thread, cpu: st.cpu, ...(st.pid !== undefined ? { pid: st.pid } : {}),
      ...(st.cpuset !== undefined ? { cpuset: w.tasks.createCpuset(st.thread, nodeMaskOf(st.cpuset)) } : {}),
    });
    w.procs.set(st.thread, t);
    return { call: `pthread_create(${st.process}) -> ${st.thread}`, result: { tid: t.pid }, mismatches: [] };
  },
});
