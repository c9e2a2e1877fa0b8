/**
 * The migration-related lines of /proc/vmstat, in the file's order (mirrors vmstat_text[] in
 * mm/vmstat.c: NUMA stats, then node stats, then vm events): `name value`, one a line.
 */
import type { Machine } from "./machine.js";

/** The counters as [name, value] pairs in /proc/vmstat order. */
export function vmstatCounters(m: Machine): Array<[string, number]> {
  const n = m.numaStat;
  const ev = m.vmEvents;
  let isoAnon = 0;
  let isoFile = 0;
  for (let i = 0; i < m.nrIsolatedAnon.length; i++) {
    isoAnon += m.nrIsolatedAnon[i]!;
    isoFile += m.nrIsolatedFile[i]!;
  }
  return [
    ["numa_hit", n.numa_hit], ["numa_miss", n.numa_miss], ["numa_foreign", n.numa_foreign],
    ["numa_interleave", n.numa_interleave], ["numa_local", n.numa_local], ["numa_other", n.numa_other],
    ["nr_isolated_anon", isoAnon], ["nr_isolated_file", isoFile],
    ["numa_pages_migrated", ev.numa_pages_migrated],
    ["pgmigrate_success", ev.pgmigrate_success], ["pgmigrate_fail", ev.pgmigrate_fail],
    ["thp_migration_success", ev.thp_migration_success], ["thp_migration_fail", ev.thp_migration_fail],
    ["thp_migration_split", ev.thp_migration_split],
  ];
}

/** The counters as /proc/vmstat prints them. */
export function formatVmstat(lines: ReadonlyArray<readonly [string, number]>): string {
  return lines.map(([k, v]) => `${k} ${v}\n`).join("");
}
