/**
 * What /proc/PID/numa_maps shows: mirrors show_numa_map() and gather_stats() of fs/proc/task_mmu.c.
 * One line per VMA: its start, its policy (the VMA's, else the task's), " file=" for file mappings,
 * " huge" for hugetlb, then, if any page is present, the counts (anon, dirty, mapped, mapmax,
 * swapcache, active, writeback), the pages per node and the page size. Only present normal pages count:
 * the zero page, migration and swap entries, and PFN mappings do not.
 */
import { PG } from "./folio.js";
import type { Machine, Task } from "./machine.js";
import { mpolToStr } from "./mempolicy.js";
import { PTE, VM, type MmStruct, type Vma } from "./mm-types.js";
import { HPAGE_PMD_NR, PAGE_SIZE } from "./physmem.js";

interface NumaStats {
  pages: number;
  anon: number;
  dirty: number;
  mapmax: number;
  swapcache: number;
  active: number;
  writeback: number;
  node: Map<number, number>;
}

function gatherStats(m: Machine, md: NumaStats, folio: number, pteDirty: boolean, nr: number, mapcount: number): void {
  const f = m.folios;
  md.pages += nr;
  if (pteDirty || f.test(folio, PG.dirty)) md.dirty += nr;
  if (f.test(folio, PG.swapcache)) md.swapcache += nr;
  if (f.test(folio, PG.active) || f.test(folio, PG.unevictable)) md.active += nr;
  if (f.test(folio, PG.writeback)) md.writeback += nr;
  if (f.isAnon(folio)) md.anon += nr;
  if (mapcount > md.mapmax) md.mapmax = mapcount;
  const nid = m.mem.nodeOfPfn[folio]!;
  md.node.set(nid, (md.node.get(nid) ?? 0) + nr);
}

/** The numa_maps line of one VMA (without the newline). */
export function showNumaMap(m: Machine, v: Vma, task: Task): string {
  const f = m.folios;
  const hugetlb = (v.flags & VM.HUGETLB) !== 0;
  const md: NumaStats = { pages: 0, anon: 0, dirty: 0, mapmax: 0, swapcache: 0, active: 0, writeback: 0, node: new Map() };
  const pol = v.file?.sharedPolicyAt(v.pgoff) ?? v.policy ?? task.mempolicy;
  let line = `${v.start.toString(16).padStart(8, "0")} ${mpolToStr(pol)}`;
  // Unlinked shmem objects (shared anonymous memory, memfd) print their path with " (deleted)".
  if (v.file !== null && v.file.name !== "anon_hugepage") {
    const unlinked = v.file.kind === "shmem" && (v.file.name === "dev/zero" || v.file.name.startsWith("memfd:"));
    line += ` file=/${v.file.name}${unlinked ? " (deleted)" : ""}`;
  }
  if (hugetlb) line += " huge";
  if ((v.flags & VM.PFNMAP) === 0) {
    for (let p = 0; p < v.pmdBits.length; p++) {
      const pb = v.pmdBits[p]!;
      if ((pb & PTE.PRESENT) === 0) continue;
      const folio = v.pmdPfn[p]!;
      if (f.test(folio, PG.zero)) continue;
      // A hugetlb page counts once (its "page" is 2 MiB); a PMD-mapped THP as its 512 pages.
      gatherStats(m, md, folio, (pb & PTE.DIRTY) !== 0, hugetlb ? 1 : HPAGE_PMD_NR, f.mapcount[folio]!);
    }
    for (let i = 0; i < v.pteBits.length; i++) {
      const bits = v.pteBits[i]!;
      if ((bits & PTE.PRESENT) === 0 || bits & PTE.SPECIAL) continue;
      const folio = f.folioOf(v.ptePfn[i]!);
      if (f.test(folio, PG.zero | PG.zoneDevice)) continue;
      // Per-page mapcount: exact for small folios; a large folio's is spread over its pages.
      const nr = f.nrPages(folio);
      const mapcount = nr === 1 ? f.mapcount[folio]! : Math.max(1, Math.round(f.mapcount[folio]! / nr));
      gatherStats(m, md, folio, (bits & PTE.DIRTY) !== 0, 1, mapcount);
    }
  }
  if (md.pages === 0) return line;
  if (md.anon) line += ` anon=${md.anon}`;
  if (md.dirty) line += ` dirty=${md.dirty}`;
  if (md.pages !== md.anon && md.pages !== md.dirty) line += ` mapped=${md.pages}`;
  if (md.mapmax > 1) line += ` mapmax=${md.mapmax}`;
  if (md.swapcache) line += ` swapcache=${md.swapcache}`;
  if (md.active < md.pages && !hugetlb) line += ` active=${md.active}`;
  if (md.writeback) line += ` writeback=${md.writeback}`;
  for (const nid of [...md.node.keys()].sort((a, b) => a - b)) line += ` N${nid}=${md.node.get(nid)}`;
  line += ` kernelpagesize_kB=${hugetlb ? 2048 : PAGE_SIZE / 1024}`;
  return line;
}

/** /proc/PID/numa_maps of an address space as `task` sees it (its policy shows for VMAs without one). */
export function showNumaMaps(m: Machine, mm: MmStruct, task: Task): string[] {
  return mm.vmas.map((v) => showNumaMap(m, v, task));
}
