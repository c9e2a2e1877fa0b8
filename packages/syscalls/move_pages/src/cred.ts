/**
 * Credentials, capabilities and user namespaces: mirrors struct cred (include/linux/cred.h),
 * commit_creds() (kernel/cred.c), cap_capable() and cap_emulate_setxuid() (security/commoncap.c),
 * capable()/ns_capable() (kernel/capability.c), setresuid()/setresgid() (kernel/sys.c) and struct
 * user_namespace (include/linux/user_namespace.h), restricted to what move_pages/migrate_pages look at.
 */
import { EINVAL, EPERM } from "@mmemu/kernel";

/** Capability numbers (include/uapi/linux/capability.h). */
export const CAP = {
  CHOWN: 0, DAC_OVERRIDE: 1, DAC_READ_SEARCH: 2, FOWNER: 3, FSETID: 4, KILL: 5, SETGID: 6, SETUID: 7,
  SETPCAP: 8, LINUX_IMMUTABLE: 9, NET_BIND_SERVICE: 10, NET_BROADCAST: 11, NET_ADMIN: 12, NET_RAW: 13,
  IPC_LOCK: 14, IPC_OWNER: 15, SYS_MODULE: 16, SYS_RAWIO: 17, SYS_CHROOT: 18, SYS_PTRACE: 19,
  SYS_PACCT: 20, SYS_ADMIN: 21, SYS_BOOT: 22, SYS_NICE: 23, SYS_RESOURCE: 24, SYS_TIME: 25,
  SYS_TTY_CONFIG: 26, MKNOD: 27, LEASE: 28, AUDIT_WRITE: 29, AUDIT_CONTROL: 30, SETFCAP: 31,
  MAC_OVERRIDE: 32, MAC_ADMIN: 33, SYSLOG: 34, WAKE_ALARM: 35, BLOCK_SUSPEND: 36, AUDIT_READ: 37,
  PERFMON: 38, BPF: 39, CHECKPOINT_RESTORE: 40,
} as const;
/** CAP_LAST_CAP */
export const CAP_LAST_CAP = 40;
/** Every capability (CAP_FULL_SET): what root starts with. */
export const CAP_FULL_SET = (1n << BigInt(CAP_LAST_CAP + 1)) - 1n;
/** "CAP_SYS_NICE" -> 23, for scenario files and reports. */
export function capByName(name: string): number | undefined {
  const key = name.toUpperCase().replace(/^CAP_/, "");
  return (CAP as Record<string, number>)[key];
}
/** 23 -> "CAP_SYS_NICE". */
export function capName(cap: number): string {
  for (const [k, v] of Object.entries(CAP)) if (v === cap) return `CAP_${k}`;
  return `CAP_${cap}`;
}

/** A capability set as a bit mask (kernel_cap_t). */
export function capMask(caps: Iterable<number>): bigint {
  let m = 0n;
  for (const c of caps) {
    if (!Number.isInteger(c) || c < 0 || c > CAP_LAST_CAP) throw new RangeError(`capability ${c} is not in 0..${CAP_LAST_CAP}`);
    m |= 1n << BigInt(c);
  }
  return m;
}

/** cap_raised() */
export function capRaised(set: bigint, cap: number): boolean {
  return (set & (1n << BigInt(cap))) !== 0n;
}

/** Mirrors struct user_namespace: a level in the tree, its parent and the euid that created it. */
export class UserNamespace {
  readonly level: number;
  constructor(
    readonly id: number,
    readonly parent: UserNamespace | null,
    /** ns->owner: the euid of the creator, which holds every capability inside. */
    readonly owner: number,
  ) {
    this.level = parent === null ? 0 : parent.level + 1;
  }
}

/** Mirrors struct cred (the parts these syscalls use). Immutable: changes go through commitCreds(). */
export interface Cred {
  readonly uid: number;
  readonly euid: number;
  readonly suid: number;
  readonly fsuid: number;
  readonly gid: number;
  readonly egid: number;
  readonly sgid: number;
  readonly fsgid: number;
  /** cap_effective */
  readonly capEffective: bigint;
  /** cap_permitted */
  readonly capPermitted: bigint;
  /** The user namespace the credentials belong to. */
  readonly userNs: UserNamespace;
}

/** Build a cred: every uid field equal to `uid`, every gid to `gid`; root gets the full set by default. */
export function makeCred(userNs: UserNamespace, uid: number, gid: number, caps?: bigint, over: Partial<Cred> = {}): Cred {
  const set = caps ?? (uid === 0 ? CAP_FULL_SET : 0n);
  return {
    uid, euid: uid, suid: uid, fsuid: uid, gid, egid: gid, sgid: gid, fsgid: gid,
    capEffective: set, capPermitted: set, userNs, ...over,
  };
}

/**
 * Mirrors cap_capable(): does `cred` hold `cap` in `ns`? The owner of a child namespace (its creator's
 * euid, from the parent namespace) holds every capability in it.
 */
export function capCapable(cred: Cred, ns: UserNamespace, cap: number): boolean {
  let cur: UserNamespace | null = ns;
  while (cur !== null) {
    if (cur === cred.userNs) return capRaised(cred.capEffective, cap);
    if (cur.level <= cred.userNs.level) return false;
    if (cur.parent === cred.userNs && cur.owner === cred.euid) return true;
    cur = cur.parent;
  }
  return false;
}

/** Mirrors ns_capable() / has_ns_capability(). */
export function nsCapable(cred: Cred, ns: UserNamespace, cap: number): boolean {
  return capCapable(cred, ns, cap);
}

/** The initial user namespace of a cred's hierarchy (init_user_ns). */
function initUserNs(cred: Cred): UserNamespace {
  let ns = cred.userNs;
  while (ns.parent !== null) ns = ns.parent;
  return ns;
}

/** Mirrors capable(): the capability in the initial user namespace. */
export function capable(cred: Cred, cap: number): boolean {
  return capCapable(cred, initUserNs(cred), cap);
}

/**
 * Mirrors cap_emulate_setxuid(): the capability changes of a uid transition. Leaving root in every uid
 * drops permitted and effective; leaving euid 0 drops effective; gaining euid 0 raises effective to
 * permitted (SECURE_KEEP_CAPS is not modelled).
 */
export function capEmulateSetxuid(next: Cred, old: Cred): Cred {
  let { capPermitted, capEffective } = next;
  const hadRoot = old.uid === 0 || old.euid === 0 || old.suid === 0;
  const hasRoot = next.uid === 0 || next.euid === 0 || next.suid === 0;
  if (hadRoot && !hasRoot) {
    capPermitted = 0n;
    capEffective = 0n;
  }
  if (old.euid === 0 && next.euid !== 0) capEffective = 0n;
  if (old.euid !== 0 && next.euid === 0) capEffective = capPermitted;
  return { ...next, capPermitted, capEffective };
}

/**
 * Whether committing `next` over `old` makes the mm non-dumpable (commit_creds(): a change of euid,
 * egid, fsuid, fsgid, or permitted capabilities that are not a subset of the old ones).
 */
export function credChangeDropsDumpable(old: Cred, next: Cred): boolean {
  return old.euid !== next.euid || old.egid !== next.egid || old.fsuid !== next.fsuid || old.fsgid !== next.fsgid ||
    (next.capPermitted & ~old.capPermitted) !== 0n;
}

/** -1 in a setres*id() argument means "leave unchanged". */
const KEEP = -1;

function idAllowed(v: number, a: number, b: number, c: number): boolean {
  return v === KEEP || v === a || v === b || v === c;
}

/**
 * Mirrors __sys_setresuid(): the new cred, or -EPERM when an unprivileged caller asks for an id it does
 * not hold, -EINVAL for a negative id other than -1. The fsuid follows the euid; capabilities change as
 * cap_emulate_setxuid() says.
 */
export function setresuid(old: Cred, ruid: number, euid: number, suid: number): Cred | number {
  for (const v of [ruid, euid, suid]) if (v !== KEEP && (!Number.isInteger(v) || v < 0)) return -EINVAL;
  if (!nsCapable(old, old.userNs, CAP.SETUID)) {
    if (!idAllowed(ruid, old.uid, old.euid, old.suid) || !idAllowed(euid, old.uid, old.euid, old.suid) ||
      !idAllowed(suid, old.uid, old.euid, old.suid)) return -EPERM;
  }
  const next: Cred = {
    ...old,
    uid: ruid === KEEP ? old.uid : ruid,
    euid: euid === KEEP ? old.euid : euid,
    suid: suid === KEEP ? old.suid : suid,
    fsuid: euid === KEEP ? old.euid : euid,
  };
  return capEmulateSetxuid(next, old);
}

/** Mirrors __sys_setresgid() (no capability side effects). */
export function setresgid(old: Cred, rgid: number, egid: number, sgid: number): Cred | number {
  for (const v of [rgid, egid, sgid]) if (v !== KEEP && (!Number.isInteger(v) || v < 0)) return -EINVAL;
  if (!nsCapable(old, old.userNs, CAP.SETGID)) {
    if (!idAllowed(rgid, old.gid, old.egid, old.sgid) || !idAllowed(egid, old.gid, old.egid, old.sgid) ||
      !idAllowed(sgid, old.gid, old.egid, old.sgid)) return -EPERM;
  }
  return {
    ...old,
    gid: rgid === KEEP ? old.gid : rgid,
    egid: egid === KEEP ? old.egid : egid,
    sgid: sgid === KEEP ? old.sgid : sgid,
    fsgid: egid === KEEP ? old.egid : egid,
  };
}

/**
 * Mirrors capset(2) on the caller itself: effective must be a subset of permitted and permitted may
 * only shrink. Returns the new cred or -EPERM.
 */
export function capset(old: Cred, effective: bigint, permitted: bigint): Cred | number {
  if ((permitted & ~old.capPermitted) !== 0n) return -EPERM;
  if ((effective & ~permitted) !== 0n) return -EPERM;
  return { ...old, capEffective: effective, capPermitted: permitted };
}
