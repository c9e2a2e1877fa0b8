/**
 * cpusets and node states: mirrors struct cpuset's mems_allowed / effective_mems (kernel/cgroup/cpuset.c),
 * cpuset_mems_allowed() and guarantee_online_mems(), and node_states[N_MEMORY] (include/linux/nodemask.h).
 * A node mask is a Uint8Array of MAX_NUMNODES bytes (1 = set), so a membership test is one index.
 */
import { MAX_NUMNODES, type Machine } from "@mmemu/mm-core";

/** nodemask_t */
export type NodeMask = Uint8Array;

export function newNodeMask(): NodeMask {
  return new Uint8Array(MAX_NUMNODES);
}

export function nodeMaskOf(nodes: Iterable<number>): NodeMask {
  const m = newNodeMask();
  for (const n of nodes) {
    if (!Number.isInteger(n) || n < 0 || n >= MAX_NUMNODES) throw new RangeError(`node ${n} is not in 0..${MAX_NUMNODES - 1}`);
    m[n] = 1;
  }
  return m;
}

/** The set nodes, ascending (for_each_node_mask). */
export function nodeMaskList(mask: NodeMask): number[] {
  const out: number[] = [];
  for (let n = 0; n < mask.length; n++) if (mask[n]) out.push(n);
  return out;
}

/** nodes_weight() */
export function nodesWeight(mask: NodeMask): number {
  let w = 0;
  for (let n = 0; n < mask.length; n++) w += mask[n]!;
  return w;
}

/**
 * node_states[N_MEMORY]: nodes of the machine with memory. A CPU-only (memoryless) node, an absent id
 * and an offline node are all outside it.
 */
export function nodeStatesMemory(m: Machine): NodeMask {
  const mask = newNodeMask();
  for (const n of m.mem.nodes) if (n.nrPages > 0) mask[n.id] = 1;
  return mask;
}

/** Mirrors a cpuset cgroup: its configured mems and its parent. */
export class Cpuset {
  constructor(
    readonly name: string,
    /** cpuset.mems as configured. */
    readonly mems: NodeMask,
    readonly parent: Cpuset | null,
  ) {}
}

/**
 * Mirrors guarantee_online_mems(): the cpuset's mems that have memory; an empty result walks up to the
 * parent (the root cpuset always has some).
 */
export function guaranteeOnlineMems(cs: Cpuset, memory: NodeMask): NodeMask {
  let cur: Cpuset | null = cs;
  while (cur !== null) {
    const out = newNodeMask();
    let any = false;
    for (let n = 0; n < out.length; n++) {
      if (cur.mems[n] && memory[n]) {
        out[n] = 1;
        any = true;
      }
    }
    if (any) return out;
    cur = cur.parent;
  }
  return memory.slice();
}
