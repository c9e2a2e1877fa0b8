/**
 * The ptrace access check used by move_pages and migrate_pages: mirrors __ptrace_may_access() and
 * ptrace_may_access() (kernel/ptrace.c) with the PTRACE_MODE_* bits of include/linux/ptrace.h. The LSM
 * step (security_ptrace_access_check) has nothing to do here: Yama restricts only PTRACE_MODE_ATTACH.
 */
import { CAP, nsCapable } from "./cred.js";
import { SUID_DUMP_USER, type TaskStruct, type TaskTable } from "./sched.js";

export const PTRACE_MODE_READ = 0x01;
export const PTRACE_MODE_ATTACH = 0x02;
export const PTRACE_MODE_NOAUDIT = 0x04;
export const PTRACE_MODE_FSCREDS = 0x08;
export const PTRACE_MODE_REALCREDS = 0x10;
export const PTRACE_MODE_READ_REALCREDS = PTRACE_MODE_READ | PTRACE_MODE_REALCREDS;

/**
 * Mirrors __ptrace_may_access(): may `current` inspect `task` in `mode`? Same thread group always may.
 * Otherwise the caller's real (or fs) uid must equal the target's uid, euid and suid and its gid the
 * target's gid, egid and sgid, or the caller needs CAP_SYS_PTRACE in the target's user namespace; then a
 * non-dumpable target needs CAP_SYS_PTRACE in the mm's user namespace. A task without an mm (exited, or a
 * kernel thread) is judged by the dumpability it last had, which is "not dumpable" for kernel threads.
 */
export function ptraceMayAccess(tasks: TaskTable, current: TaskStruct, task: TaskStruct, mode: number): boolean {
  if (task.group === current.group) return true;
  const cred = current.cred;
  const tcred = task.cred;
  const fs = (mode & PTRACE_MODE_FSCREDS) !== 0;
  const callerUid = fs ? cred.fsuid : cred.uid;
  const callerGid = fs ? cred.fsgid : cred.gid;
  const credsMatch = callerUid === tcred.euid && callerUid === tcred.suid && callerUid === tcred.uid &&
    callerGid === tcred.egid && callerGid === tcred.sgid && callerGid === tcred.gid;
  if (!credsMatch && !nsCapable(cred, tcred.userNs, CAP.SYS_PTRACE)) return false;
  const mm = task.mm;
  let dumpable: number;
  let ns = tcred.userNs;
  if (mm !== null) {
    const sec = tasks.mmSecurity(mm);
    dumpable = sec.dumpable;
    ns = sec.userNs;
  } else {
    dumpable = task.lastDumpable;
  }
  if (dumpable !== SUID_DUMP_USER && !nsCapable(cred, ns, CAP.SYS_PTRACE)) return false;
  return true;
}
