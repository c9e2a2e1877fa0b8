/**
 * /sys/devices/system/node/nodeN/meminfo and the per-node hugetlb files: mirrors node_read_meminfo() of
 * drivers/base/node.c (the lines mmemu has numbers for: MemTotal, MemFree, MemUsed and the
 * HugePages_* lines of the default huge page size) and nr_hugepages / free_hugepages /
 * surplus_hugepages of /sys/devices/system/node/nodeN/hugepages/hugepages-2048kB/ (mm/hugetlb.c).
 * MemFree is exact: mmemu keeps no per-CPU page lists whose pages would be missing from it.
 */
import type { Machine } from "./machine.js";
import { PAGE_SIZE } from "./physmem.js";

/** The per-node hugetlb counters of the 2 MiB hstate. */
export function nodeHugetlbCounters(m: Machine, nid: number): { nr_hugepages: number; free_hugepages: number; surplus_hugepages: number } {
  return { nr_hugepages: m.hugetlbTotal[nid] ?? 0, free_hugepages: m.hugetlbFree[nid]?.length ?? 0, surplus_hugepages: 0 };
}

/** The lines of nodeN/meminfo, formatted as the kernel prints them. */
export function nodeReadMeminfo(m: Machine, nid: number): string[] {
  const node = m.mem.node(nid);
  if (node === undefined) return [];
  const kb = PAGE_SIZE / 1024;
  const total = node.nrPages * kb;
  const free = m.alloc.nrFree(nid) * kb;
  const h = nodeHugetlbCounters(m, nid);
  const line = (name: string, v: number) => `Node ${nid} ${`${name}:`.padEnd(15)} ${String(v).padStart(8)} kB`;
  return [
    line("MemTotal", total),
    line("MemFree", free),
    line("MemUsed", total - free),
    `Node ${nid} HugePages_Total: ${String(h.nr_hugepages).padStart(5)}`,
    `Node ${nid} HugePages_Free:  ${String(h.free_hugepages).padStart(5)}`,
    `Node ${nid} HugePages_Surp:  ${String(h.surplus_hugepages).padStart(5)}`,
  ];
}
