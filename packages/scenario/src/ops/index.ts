/**
 * The table of scenario operations (all but repeat, which the runner expands). The schema's step union,
 * the checker and the runner are built from it.
 */
import { spawn, stop } from "./activity.js";
import { touch, read, write } from "./access.js";
import { capset, prctl_set_dumpable, set_cpuset, setresgid, setresuid } from "./creds.js";
import { device, pfnmap } from "./device.js";
import { fault } from "./fault.js";
import { inspect } from "./inspect.js";
import { fill_node, node_info, node_meminfo, sleep, vm_events } from "./machine.js";
import { migrate_pages } from "./migrate_pages.js";
import { get_mempolicy, mbind, set_mempolicy } from "./mempolicy.js";
import { trace_start, trace_stop } from "./trace.js";
import { numa_maps, smaps } from "./proc.js";
import { pagemap } from "./pagemap.js";
import { mmap } from "./mmap.js";
import { move_pages } from "./move_pages.js";
import { pin, unpin } from "./pin.js";
import { ksm_scan } from "./ksm_scan.js";
import { sysfs } from "./sysfs.js";
import { madvise, mlock, mprotect, munlock, munmap } from "./range.js";
import { exit, fork, reap, thread } from "./tasks.js";
import { stack } from "./stack.js";
import { vdso } from "./vdso.js";

export const OPS = {
  mmap, munmap, mprotect, mlock, munlock, madvise, ksm_scan, fork, exit, reap, thread, setresuid, setresgid, capset,
  prctl_set_dumpable, set_cpuset, write, read, touch, pin, unpin, device, pfnmap, move_pages, migrate_pages, inspect,
  spawn, stop, sleep, vm_events, node_info, fill_node, fault, mbind, set_mempolicy, get_mempolicy, trace_start, trace_stop,
  numa_maps, smaps, pagemap, node_meminfo, sysfs, vdso, stack,
} as const;

export type OpName = keyof typeof OPS;

export { STATUS_REPORT_LIMIT, type MovePagesStep } from "./move_pages.js";
export type { PageExpectation } from "./inspect.js";
