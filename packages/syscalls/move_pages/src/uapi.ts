/**
 * User-visible constants of the two syscalls: include/uapi/linux/mempolicy.h (MPOL_MF_*) and the x86-64
 * syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl).
 */

/** Verify existing pages in the mapping (mbind only; move_pages rejects it with -EINVAL). */
export const MPOL_MF_STRICT = 1 << 0;
/** Move pages owned by this process to conform to the request. */
export const MPOL_MF_MOVE = 1 << 1;
/** Move every page of the mapping, even shared ones (needs CAP_SYS_NICE). */
export const MPOL_MF_MOVE_ALL = 1 << 2;
/** Lazy migration (mbind only; rejected by move_pages). */
export const MPOL_MF_LAZY = 1 << 3;

/** get_mempolicy(2) flags. */
export const MPOL_F_NODE = 1 << 0;
export const MPOL_F_ADDR = 1 << 1;
export const MPOL_F_MEMS_ALLOWED = 1 << 2;

/** mbind(2), set_mempolicy(2), get_mempolicy(2) on x86-64. */
export const NR_MBIND = 237;
export const NR_SET_MEMPOLICY = 238;
export const NR_GET_MEMPOLICY = 239;

/** move_pages(2) on x86-64. */
export const NR_MOVE_PAGES = 279;
/** migrate_pages(2) on x86-64. */
export const NR_MIGRATE_PAGES = 256;

/** NUMA_NO_NODE (include/linux/numa.h). */
export const NUMA_NO_NODE = -1;

/** BITS_PER_LONG on x86-64. */
export const BITS_PER_LONG = 64;

/**
 * The user-space view of a raw syscall return: what libc's `syscall()` gives back (`ret`, -1 on error)
 * and errno (0 when the call succeeded).
 */
export interface SyscallResult {
  readonly ret: number;
  readonly errno: number;
}

/** Turn a kernel return value (>= 0 or -errno) into what user space sees. */
export function toUser(kret: number): SyscallResult {
  return kret < 0 ? { ret: -1, errno: -kret } : { ret: kret, errno: 0 };
}
