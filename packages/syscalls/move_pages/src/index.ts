/**
 * @mmemu/move-pages — move_pages(2), migrate_pages(2), mbind(2), set_mempolicy(2) and get_mempolicy(2)
 * with Linux's semantics (mm/migrate.c kernel_move_pages/do_pages_move/do_pages_stat, mm/mempolicy.c
 * kernel_migrate_pages/kernel_mbind/kernel_set_mempolicy/kernel_get_mempolicy), and the process
 * side they need: tasks and threads, credentials and user namespaces, ptrace access checks, cpusets,
 * zombies and kernel threads, and kernel-version switches.
 */
export {
  MPOL_MF_STRICT, MPOL_MF_MOVE, MPOL_MF_MOVE_ALL, MPOL_MF_LAZY, NR_MOVE_PAGES, NR_MIGRATE_PAGES, NUMA_NO_NODE,
  MPOL_F_NODE, MPOL_F_ADDR, MPOL_F_MEMS_ALLOWED, NR_MBIND, NR_SET_MEMPOLICY, NR_GET_MEMPOLICY,
  BITS_PER_LONG, toUser,
} from "./uapi.js";
export { KERNEL_VERSIONS, kernelFeatures } from "./version.js";
export {
  CAP, CAP_LAST_CAP, CAP_FULL_SET, capByName, capName, capMask, capRaised, UserNamespace, makeCred, capCapable,
  nsCapable, capable, capEmulateSetxuid, credChangeDropsDumpable, setresuid, setresgid, capset,
} from "./cred.js";
export { Cpuset, newNodeMask, nodeMaskOf, nodeMaskList, nodesWeight, nodeStatesMemory, guaranteeOnlineMems } from "./cpuset.js";
export {
  TaskTable, TaskStruct, ThreadGroup, PF_KTHREAD, PF_EXITING, EXIT_DEAD, EXIT_ZOMBIE,
  SUID_DUMP_DISABLE, SUID_DUMP_USER, SUID_DUMP_ROOT,
} from "./sched.js";
export {
  ptraceMayAccess, PTRACE_MODE_READ, PTRACE_MODE_ATTACH, PTRACE_MODE_NOAUDIT, PTRACE_MODE_FSCREDS,
  PTRACE_MODE_REALCREDS, PTRACE_MODE_READ_REALCREDS,
} from "./ptrace.js";
export { UserAccess, UserArrayReader, accessOk, TASK_SIZE_MAX } from "./uaccess.js";
export { followUserPage, lookupUserPage, folioSharedForMove, vmaMigratable, walkResult } from "./folio-walk.js";
export { kernelMovePages, kernelMovePagesStepwise, findMmStruct, allocFreshHugetlbFolio, DO_PAGES_STAT_CHUNK_NR } from "./move-pages.js";
export { kernelMigratePages, getNodes, doMigratePages, nodeRemap } from "./mempolicy.js";
export { kernelMbind, kernelSetMempolicy, kernelGetMempolicy } from "./mbind.js";
export { mmapUserArea, writeUserArray, readUserInts, nodeBitmapLongs, UserArgArena } from "./user-args.js";

export type { SyscallResult } from "./uapi.js";
export type { KernelVersion, KernelFeatures, SharedTest } from "./version.js";
export type { Cred } from "./cred.js";
export type { NodeMask } from "./cpuset.js";
export type { ProcessOptions, TaskTableOptions, MmSecurity } from "./sched.js";
export type { MovePagesSteps } from "./move-pages.js";
