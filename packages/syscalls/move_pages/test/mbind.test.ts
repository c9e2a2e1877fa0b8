/**
 * mbind(2), set_mempolicy(2), get_mempolicy(2): the checks and results of mm/mempolicy.c, with the worked
 * examples of spec mm-policy-and-limits.md §2.6 on 6.1 and 6.12 (4 pages on node 0, policy BIND {1}).
 */
import test from "ava";
import { EFAULT, EINVAL, EIO, EPERM } from "@mmemu/kernel";
import {
  MPOL_BIND, MPOL_DEFAULT, MPOL_F_RELATIVE_NODES, MPOL_F_STATIC_NODES, MPOL_INTERLEAVE, MPOL_LOCAL, MPOL_PREFERRED,
  MPOL_WEIGHTED_INTERLEAVE, PAGE_SIZE, FolioList, isolateFolioToList, putbackMovablePages,
} from "@mmemu/mm-core";
import { MPOL_F_ADDR, MPOL_F_MEMS_ALLOWED, MPOL_F_NODE, MPOL_MF_MOVE, MPOL_MF_MOVE_ALL, MPOL_MF_STRICT } from "../src/index.js";
import { getMempolicy, mbind, mmap, nodeOf, setMempolicy, touch, world, type World } from "./world.js";

function fourPages(w: World): number {
  const a = mmap(w, w.p, 4 * PAGE_SIZE);
  for (let k = 0; k < 4; k++) touch(w, w.p, a + k * PAGE_SIZE);
  return a;
}

const nodesOf = (w: World, a: number) => [0, 1, 2, 3].map((k) => nodeOf(w, w.p, a + k * PAGE_SIZE));

for (const version of ["6.1", "6.12"] as const) {
  test(`${version}: §2.6 BIND {1}: no flag sets the policy only; STRICT is EIO and sets nothing; MOVE moves A-D`, (t) => {
    const w = world({ version });
    let a = fourPages(w);
    t.is(mbind(w, w.p, a, 4 * PAGE_SIZE, MPOL_BIND, [1], 0), 0);
    t.deepEqual(nodesOf(w, a), [0, 0, 0, 0]);
    t.deepEqual(getMempolicy(w, w.p, a, MPOL_F_ADDR), { ret: 0, mode: MPOL_BIND, nodes: [1] });
    a = fourPages(w);
    t.is(mbind(w, w.p, a, 4 * PAGE_SIZE, MPOL_BIND, [1], MPOL_MF_STRICT), -EIO);
    t.is(getMempolicy(w, w.p, a, MPOL_F_ADDR).mode, MPOL_DEFAULT, "policy not set");
    a = fourPages(w);
    t.is(mbind(w, w.p, a, 4 * PAGE_SIZE, MPOL_BIND, [1], MPOL_MF_MOVE), 0);
    t.deepEqual(nodesOf(w, a), [1, 1, 1, 1]);
  });

  test(`${version}: §2.6 C pinned: MOVE returns 0 with C left behind; MOVE|STRICT is EIO with the policy set`, (t) => {
    const w = world({ version });
    for (const [flags, want] of [[MPOL_MF_MOVE, 0], [MPOL_MF_MOVE | MPOL_MF_STRICT, -EIO]] as const) {
      const a = fourPages(w);
      const c = w.m.memory.translate(w.p.mm!, a + 2 * PAGE_SIZE);
      w.m.folios.refcount[c]!++; // an extra reference (vmsplice): isolation works, the move does not
      t.is(mbind(w, w.p, a, 4 * PAGE_SIZE, MPOL_BIND, [1], flags), want);
      t.deepEqual(nodesOf(w, a), [1, 1, 0, 1]);
      t.is(getMempolicy(w, w.p, a, MPOL_F_ADDR).mode, MPOL_BIND);
      w.m.folios.refcount[c]!--;
    }
  });

  test(`${version}: §2.6 C shared with a forked child is skipped silently by MOVE|STRICT; MOVE_ALL needs CAP_SYS_NICE`, (t) => {
    const w = world({ version });
    const a = mmap(w, w.p, 4 * PAGE_SIZE);
    touch(w, w.p, a + 2 * PAGE_SIZE);
    w.tasks.fork(w.p);
    for (const k of [0, 1, 3]) touch(w, w.p, a + k * PAGE_SIZE);
    t.is(mbind(w, w.p, a, 4 * PAGE_SIZE, MPOL_BIND, [1], MPOL_MF_MOVE | MPOL_MF_STRICT), 0);
    t.deepEqual(nodesOf(w, a), [1, 1, 0, 1]);
    t.is(mbind(w, w.p, a, 4 * PAGE_SIZE, MPOL_BIND, [1], MPOL_MF_MOVE_ALL), -EPERM);
  });

  test(`${version}: §2.6 errors: a hole is EFAULT (not for DEFAULT), a misaligned start or a node without memory EINVAL, len 0 is 0`, (t) => {
    const w = world({ version });
    const a = fourPages(w);
    w.m.memory.munmap(w.p.mm!, a + PAGE_SIZE, PAGE_SIZE);
    t.is(mbind(w, w.p, a, 4 * PAGE_SIZE, MPOL_BIND, [1], 0), -EFAULT);
    t.is(mbind(w, w.p, a, 4 * PAGE_SIZE, MPOL_DEFAULT, [], 0), 0);
    t.is(mbind(w, w.p, a + 1, PAGE_SIZE, MPOL_BIND, [1], 0), -EINVAL);
    t.is(mbind(w, w.p, a, PAGE_SIZE, MPOL_BIND, [2], 0), -EINVAL, "node 2 has no memory: the mask is empty after N_MEMORY");
    t.is(mbind(w, w.p, a, 0, MPOL_BIND, [], 0), 0, "len 0 returns before the policy is built");
    t.is(mbind(w, w.p, a, PAGE_SIZE, 9, [1], 0), -EINVAL, "mode >= MPOL_MAX");
    t.is(mbind(w, w.p, a, PAGE_SIZE, MPOL_BIND, [1], 8), -EINVAL, "MPOL_MF_LAZY is not accepted");
    t.is(mbind(w, w.p, a, PAGE_SIZE, MPOL_BIND | MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES, [1], 0), -EINVAL);
    t.is(mbind(w, w.p, a, PAGE_SIZE, MPOL_DEFAULT, [1], 0), -EINVAL, "DEFAULT with nodes");
    t.is(mbind(w, w.p, a, PAGE_SIZE, MPOL_LOCAL, [1], 0), -EINVAL, "LOCAL with nodes");
  });
}

test("MPOL_WEIGHTED_INTERLEAVE (mode 6) exists from 6.9: EINVAL on 6.1, accepted on 6.12", (t) => {
  for (const [version, want] of [["6.1", -EINVAL], ["6.12", 0]] as const) {
    const w = world({ version });
    t.is(setMempolicy(w, w.p, MPOL_WEIGHTED_INTERLEAVE, [0, 1]), want, version);
  }
});

test("set_mempolicy: faults follow the task's policy; INTERLEAVE alternates by page offset; PREFERRED with no nodes is LOCAL", (t) => {
  const w = world();
  t.is(setMempolicy(w, w.p, MPOL_BIND, [1]), 0);
  const a = fourPages(w);
  t.deepEqual(nodesOf(w, a), [1, 1, 1, 1], "BIND {1} from a CPU of node 0");
  t.is(setMempolicy(w, w.p, MPOL_INTERLEAVE, [0, 1]), 0);
  const b = fourPages(w);
  const first = nodeOf(w, w.p, b);
  t.deepEqual(nodesOf(w, b), [first, 1 - first, first, 1 - first]);
  t.deepEqual(getMempolicy(w, w.p, 0, 0), { ret: 0, mode: MPOL_INTERLEAVE, nodes: [0, 1] });
  t.is(getMempolicy(w, w.p, 0, MPOL_F_NODE).mode, 0, "the rotor's next node after a reset is the first");
  t.is(setMempolicy(w, w.p, MPOL_PREFERRED, []), 0);
  t.is(getMempolicy(w, w.p, 0, 0).mode, MPOL_LOCAL);
  t.is(getMempolicy(w, w.p, 0, MPOL_F_NODE).ret, -EINVAL, "MPOL_F_NODE without ADDR needs an interleave policy");
  t.is(setMempolicy(w, w.p, MPOL_DEFAULT, []), 0);
  t.deepEqual(getMempolicy(w, w.p, 0, 0), { ret: 0, mode: MPOL_DEFAULT, nodes: [] });
  // A forked child inherits the policy (copy_process).
  t.is(setMempolicy(w, w.p, MPOL_BIND, [1]), 0);
  const child = w.tasks.fork(w.p);
  t.is(getMempolicy(w, child, 0, 0).mode, MPOL_BIND);
});

test("get_mempolicy: ADDR reports the VMA's policy, never the task's; NODE|ADDR faults the page in; the checks come in the kernel's order", (t) => {
  const w = world();
  const a = fourPages(w);
  t.is(setMempolicy(w, w.p, MPOL_BIND, [1]), 0);
  t.is(getMempolicy(w, w.p, a, MPOL_F_ADDR).mode, MPOL_DEFAULT);
  t.deepEqual(getMempolicy(w, w.p, a, MPOL_F_ADDR | MPOL_F_NODE), { ret: 0, mode: 0, nodes: [] });
  const untouched = mmap(w, w.p, PAGE_SIZE);
  t.is(getMempolicy(w, w.p, untouched, MPOL_F_ADDR | MPOL_F_NODE).mode, 0, "read fault: the zero page, on node 0");
  t.is(getMempolicy(w, w.p, 0x1000, MPOL_F_ADDR).ret, -EFAULT, "no VMA");
  t.is(getMempolicy(w, w.p, a, 0).ret, -EINVAL, "an address without MPOL_F_ADDR");
  t.is(getMempolicy(w, w.p, 0, MPOL_F_MEMS_ALLOWED | MPOL_F_NODE).ret, -EINVAL);
  t.deepEqual(getMempolicy(w, w.p, 0, MPOL_F_MEMS_ALLOWED), { ret: 0, mode: 0, nodes: [0, 1] });
  t.is(getMempolicy(w, w.p, 0, 0, 2).ret, -EINVAL, "maxnode below nr_node_ids (3)");
  t.is(getMempolicy(w, w.p, 0, 8).ret, -EINVAL, "unknown flag");
});

test("mbind INTERLEAVE {0,1} with MOVE leaves pages already on 0 or 1 (not misplaced); later faults interleave by offset", (t) => {
  const w = world();
  const a = mmap(w, w.p, 8 * PAGE_SIZE);
  for (let k = 0; k < 4; k++) touch(w, w.p, a + k * PAGE_SIZE);
  t.is(mbind(w, w.p, a, 8 * PAGE_SIZE, MPOL_INTERLEAVE, [0, 1], MPOL_MF_MOVE), 0);
  for (let k = 4; k < 8; k++) touch(w, w.p, a + k * PAGE_SIZE);
  const nodes = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => nodeOf(w, w.p, a + k * PAGE_SIZE));
  const ilx0 = (a / PAGE_SIZE) % 2;
  t.deepEqual(nodes, [0, 0, 0, 0, ...[4, 5, 6, 7].map((k) => (ilx0 + k) % 2)], "new pages: node = (vm_pgoff + offset) mod 2");
  // The VMA was split around the range only where needed: a second mbind on half of it splits it.
  t.is(mbind(w, w.p, a, 2 * PAGE_SIZE, MPOL_BIND, [1], MPOL_MF_MOVE), 0);
  t.is(getMempolicy(w, w.p, a, MPOL_F_ADDR).mode, MPOL_BIND);
  t.is(getMempolicy(w, w.p, a + 2 * PAGE_SIZE, MPOL_F_ADDR).mode, MPOL_INTERLEAVE);
  t.deepEqual([nodeOf(w, w.p, a), nodeOf(w, w.p, a + PAGE_SIZE)], [1, 1]);
});

test("MPOL_F_STATIC_NODES is reported with the mode and the user's nodes; RELATIVE folds them onto the allowed set", (t) => {
  const w = world();
  t.is(setMempolicy(w, w.p, MPOL_BIND | MPOL_F_STATIC_NODES, [1, 5]), 0);
  t.deepEqual(getMempolicy(w, w.p, 0, 0), { ret: 0, mode: MPOL_BIND | MPOL_F_STATIC_NODES, nodes: [1, 5] });
  t.is(setMempolicy(w, w.p, MPOL_PREFERRED | MPOL_F_RELATIVE_NODES, [3]), 0);
  const a = fourPages(w);
  t.deepEqual(nodesOf(w, a), [1, 1, 1, 1], "relative node 3 of {0, 1} is node 1");
});

test("MOVE|STRICT with a page that cannot be isolated: 6.1 stops queueing after that page table, 6.12 counts it and goes on; both EIO", (t) => {
  for (const [version, later] of [["6.1", 0], ["6.12", 1]] as const) {
    const w = world({ version });
    // Two pages in one 2 MiB page table, one in the next.
    const a = mmap(w, w.p, 4 << 20, { addr: 0x4000_0000 });
    const pages = [a, a + PAGE_SIZE, a + (2 << 20)];
    for (const p of pages) touch(w, w.p, p);
    const held = new FolioList();
    t.true(isolateFolioToList(w.m, w.m.memory.translate(w.p.mm!, a), held), "someone else has it isolated");
    t.is(mbind(w, w.p, a, 4 << 20, MPOL_BIND, [1], MPOL_MF_MOVE | MPOL_MF_STRICT), -EIO, version);
    t.deepEqual(pages.map((p) => nodeOf(w, w.p, p)), [0, 1, later], version);
    putbackMovablePages(w.m, held);
  }
});
