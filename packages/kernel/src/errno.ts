/**
 * errno names and numbers as on x86-64 Linux (include/uapi/asm-generic/errno-base.h and errno.h).
 * Kernel functions in mmemu return `-errno` numbers exactly as the kernel does; use {@link errnoName}
 * to print them.
 */
export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const EIO = 5;
export const ENXIO = 6;
export const E2BIG = 7;
export const ENOEXEC = 8;
export const EBADF = 9;
export const ECHILD = 10;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const ENOTBLK = 15;
export const EBUSY = 16;
export const EEXIST = 17;
export const EXDEV = 18;
export const ENODEV = 19;
export const ENOTDIR = 20;
export const EISDIR = 21;
export const EINVAL = 22;
export const ENFILE = 23;
export const EMFILE = 24;
export const ENOTTY = 25;
export const ETXTBSY = 26;
export const EFBIG = 27;
export const ENOSPC = 28;
export const ESPIPE = 29;
export const EROFS = 30;
export const EMLINK = 31;
export const EPIPE = 32;
export const EDOM = 33;
export const ERANGE = 34;
export const EDEADLK = 35;
export const ENAMETOOLONG = 36;
export const ENOLCK = 37;
export const ENOSYS = 38;
export const ENOTEMPTY = 39;
export const ELOOP = 40;
export const ENOMSG = 42;
export const EIDRM = 43;
export const ENODATA = 61;
export const ETIME = 62;
export const EOVERFLOW = 75;
export const EBADMSG = 74;
export const EOPNOTSUPP = 95;
export const ETIMEDOUT = 110;
export const EALREADY = 114;
export const EINPROGRESS = 115;
export const ECANCELED = 125;
export const EOWNERDEAD = 130;
export const ENOTRECOVERABLE = 131;
export const ERFKILL = 132;
export const EHWPOISON = 133;

const NAMES: Readonly<Record<number, string>> = {
  1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG", 8: "ENOEXEC",
  9: "EBADF", 10: "ECHILD", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 15: "ENOTBLK",
  16: "EBUSY", 17: "EEXIST", 18: "EXDEV", 19: "ENODEV", 20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL",
  23: "ENFILE", 24: "EMFILE", 25: "ENOTTY", 26: "ETXTBSY", 27: "EFBIG", 28: "ENOSPC", 29: "ESPIPE",
  30: "EROFS", 31: "EMLINK", 32: "EPIPE", 33: "EDOM", 34: "ERANGE", 35: "EDEADLK", 36: "ENAMETOOLONG",
  37: "ENOLCK", 38: "ENOSYS", 39: "ENOTEMPTY", 40: "ELOOP", 42: "ENOMSG", 43: "EIDRM", 61: "ENODATA",
  62: "ETIME", 74: "EBADMSG", 75: "EOVERFLOW", 95: "EOPNOTSUPP", 110: "ETIMEDOUT", 114: "EALREADY",
  115: "EINPROGRESS", 125: "ECANCELED", 130: "EOWNERDEAD", 131: "ENOTRECOVERABLE", 132: "ERFKILL",
  133: "EHWPOISON",
};

const NUMBERS: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(NAMES).map(([n, name]) => [name, Number(n)]),
);

/** "EAGAIN" for 11 or -11; `E<n>` for numbers without a name. */
export function errnoName(err: number): string {
  const n = Math.abs(err);
  return NAMES[n] ?? `E${n}`;
}

/** 11 for "EAGAIN"; undefined for unknown names. */
export function errnoNumber(name: string): number | undefined {
  return NUMBERS[name];
}

/** Mirrors IS_ERR_VALUE(): a kernel return value in [-4095, -1]. */
export function isErrno(ret: number): boolean {
  return ret < 0 && ret >= -4095;
}
