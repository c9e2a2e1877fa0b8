/**
 * The syscalls:sys_enter_<name> / sys_exit_<name> events of CONFIG_FTRACE_SYSCALLS
 * (kernel/trace/trace_syscalls.c): the arguments by their SYSCALL_DEFINE names on entry, the return
 * value on exit, logged in the calling task's context.
 */
import type { Machine } from "@mmemu/mm-core";

/** x86-64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl). */
export const NR_SYSCALL = { mbind: 237, migrate_pages: 256, move_pages: 279 } as const;

/**
 * Run a syscall body between its enter and exit events. `args` is built only while the enter event is
 * enabled, so an untraced call allocates nothing here.
 */
export function traceSyscall(
  m: Machine, name: keyof typeof NR_SYSCALL, args: () => Record<string, number>, body: () => number,
): number {
  traceSyscallEnter(m, name, args);
  const ret = body();
  traceSyscallExit(m, name, ret);
  return ret;
}

/** The sys_enter_<name> event alone (a call run a step at a time emits its exit later). */
export function traceSyscallEnter(m: Machine, name: keyof typeof NR_SYSCALL, args: () => Record<string, number>): void {
  const enter = m.core.trace.define(`sys_enter_${name}`);
  if (enter.enabled) enter.emit({ nr: NR_SYSCALL[name], args: args() });
}

/** The sys_exit_<name> event. */
export function traceSyscallExit(m: Machine, name: keyof typeof NR_SYSCALL, ret: number): void {
  const exit = m.core.trace.define(`sys_exit_${name}`);
  if (exit.enabled) exit.emit({ nr: NR_SYSCALL[name], ret });
}
