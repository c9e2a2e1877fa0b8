/** The allocation side of memory policies (mm/mempolicy.c alloc_pages_mpol, interleave_nodes, mpol_to_str). */
import test from "ava";
import {
  allocPagesMpol, Machine, Mempolicy, MPOL_BIND, MPOL_F_RELATIVE_NODES, MPOL_F_STATIC_NODES, MPOL_INTERLEAVE, MPOL_LOCAL,
  MPOL_PREFERRED, MPOL_PREFERRED_MANY, mpolToStr, NO_INTERLEAVE_INDEX, nodelistToStr,
} from "../src/index.js";

function machine(): Machine {
  const m = new Machine({ nodes: [{ id: 0, pages: 4096, cpus: 1 }, { id: 1, pages: 4096, cpus: 1 }, { id: 2, pages: 4096, cpus: 1 }] });
  m.current = m.createTask(null, 0);
  return m;
}

/** Take a node's memory down to its MIN watermark with raw allocations. */
function exhaust(m: Machine, nid: number): void {
  const z = m.alloc.nodeZones[nid]!.find((x) => x !== null)!;
  while (z.free > 0 && m.alloc.alloc(nid, 0) >= 0);
}

test("BIND allocates only on its nodes, nearest first; when they are full the allocation fails instead of spilling", (t) => {
  const m = machine();
  const bind = new Mempolicy(MPOL_BIND, 0, [1, 2], null);
  t.is(m.mem.nodeOfPfn[allocPagesMpol(m, bind, NO_INTERLEAVE_INDEX, 0)], 1, "local node 0 is not allowed: the next in the zonelist");
  exhaust(m, 1);
  t.is(m.mem.nodeOfPfn[allocPagesMpol(m, bind, NO_INTERLEAVE_INDEX, 0)], 2);
  exhaust(m, 2);
  t.is(allocPagesMpol(m, bind, NO_INTERLEAVE_INDEX, 0), -1, "node 0 has memory but is outside the policy");
});

test("PREFERRED starts at its node and falls back; PREFERRED_MANY tries its nodes, then any node; LOCAL the CPU's node", (t) => {
  const m = machine();
  t.is(m.mem.nodeOfPfn[allocPagesMpol(m, new Mempolicy(MPOL_PREFERRED, 0, [2], null), NO_INTERLEAVE_INDEX, 0)], 2);
  exhaust(m, 2);
  t.is(m.mem.nodeOfPfn[allocPagesMpol(m, new Mempolicy(MPOL_PREFERRED, 0, [2], null), NO_INTERLEAVE_INDEX, 0)], 0);
  exhaust(m, 1);
  t.is(m.mem.nodeOfPfn[allocPagesMpol(m, new Mempolicy(MPOL_PREFERRED_MANY, 0, [1, 2], null), NO_INTERLEAVE_INDEX, 0)], 0);
  t.is(m.mem.nodeOfPfn[allocPagesMpol(m, new Mempolicy(MPOL_LOCAL, 0, [], null), NO_INTERLEAVE_INDEX, 0)], 0);
});

test("INTERLEAVE: by index (ilx mod n) or, without one, by the task's rotor from il_prev", (t) => {
  const m = machine();
  const il = new Mempolicy(MPOL_INTERLEAVE, 0, [0, 2], null);
  t.deepEqual([0, 1, 2, 3].map((i) => m.mem.nodeOfPfn[allocPagesMpol(m, il, i, 0)]), [0, 2, 0, 2]);
  m.current.ilPrev = 1024 - 1;
  t.deepEqual([0, 1, 2].map(() => m.mem.nodeOfPfn[allocPagesMpol(m, il, NO_INTERLEAVE_INDEX, 0)]), [0, 2, 0]);
});

test("mpol_to_str() and %*pbl: the policy strings numa_maps prints", (t) => {
  t.is(nodelistToStr([0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
  t.is(mpolToStr(null), "default");
  t.is(mpolToStr(new Mempolicy(MPOL_LOCAL, 0, [], null)), "local");
  t.is(mpolToStr(new Mempolicy(MPOL_PREFERRED, 0, [1], null)), "prefer:1");
  t.is(mpolToStr(new Mempolicy(MPOL_BIND, MPOL_F_STATIC_NODES, [0, 1], [0, 1, 5])), "bind=static:0-1");
  t.is(mpolToStr(new Mempolicy(MPOL_INTERLEAVE, MPOL_F_RELATIVE_NODES, [0, 1], [0, 1])), "interleave=relative:0-1");
  t.is(mpolToStr(new Mempolicy(MPOL_PREFERRED_MANY, 0, [0, 2], null)), "prefer (many):0,2");
});
