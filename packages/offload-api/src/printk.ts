import type { KernelCore } from "@mmemu/kernel";

/**
 * The kernel log: printk() into a per-machine ring buffer (kernel/printk/printk.c's log_buf, read back
 * as dmesg would print it) and the ratelimit state behind pr_*_ratelimited() (lib/ratelimit.c). Lines
 * carry the virtual time they were logged at, so a test can say "the fallback warning came after the
 * 10 s timeout" and a reader of `dmesg()` sees the same order of events the kernel would have logged.
 */

/** Log levels of include/linux/kern_levels.h. */
export const KERN_EMERG = 0;
export const KERN_ALERT = 1;
export const KERN_CRIT = 2;
export const KERN_ERR = 3;
export const KERN_WARNING = 4;
export const KERN_NOTICE = 5;
export const KERN_INFO = 6;
export const KERN_DEBUG = 7;
export const KERN_LEVEL_NAMES: readonly string[] = ["emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"];

/** One record of the log buffer (struct printk_info + its text). */
export interface LogLine {
  /** Sequence number, from 0 for the machine's first line (never reused, so drops are visible). */
  readonly seq: number;
  /** Virtual time in ns. */
  readonly ts: number;
  readonly level: number;
  readonly text: string;
}

/** Mirrors DEFAULT_RATELIMIT_INTERVAL (5 * HZ) in virtual ns. */
export const DEFAULT_RATELIMIT_INTERVAL = 5_000_000_000;
/** Mirrors DEFAULT_RATELIMIT_BURST. */
export const DEFAULT_RATELIMIT_BURST = 10;

/**
 * Mirrors struct ratelimit_state: at most `burst` messages per `interval`; when a new interval opens
 * after suppressions, "<name>: N callbacks suppressed" is logged first, as ___ratelimit() does.
 * The kernel keeps one static state per call site; in mmemu the owner of the call site (a driver
 * instance on one machine) keeps it, so machines do not share limits.
 */
export class RatelimitState {
  /** Start of the current interval (virtual ns), -1 before the first message. */
  begin = -1;
  printed = 0;
  missed = 0;
  constructor(
    /** What the suppression message is attributed to (the kernel prints the function name). */
    readonly name: string,
    readonly interval = DEFAULT_RATELIMIT_INTERVAL,
    readonly burst = DEFAULT_RATELIMIT_BURST,
  ) {
    if (!(interval >= 0) || !Number.isInteger(burst) || burst < 0) throw new RangeError(`ratelimit ${name}: interval must be >= 0 ns and burst an integer >= 0`);
  }
}

/** Lines kept by default: about what a 128 KiB log_buf holds at ~80 bytes a line. */
export const LOG_BUF_LINES = 1 << 11;

export class KernelLog {
  /** Lines dropped because the ring was full (oldest first). */
  dropped = 0;
  private readonly ring: LogLine[] = [];
  private head = 0;
  private nextSeq = 0;

  constructor(
    private readonly core: KernelCore,
    readonly capacity = LOG_BUF_LINES,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`kernel log: capacity must be an integer >= 1, got ${capacity}`);
  }

  /** Mirrors printk(): append one line at the current virtual time. */
  printk(level: number, text: string): void {
    const line: LogLine = { seq: this.nextSeq++, ts: this.core.sim.now, level, text };
    if (this.ring.length < this.capacity) {
      this.ring.push(line);
      return;
    }
    this.ring[this.head] = line;
    this.head = (this.head + 1) % this.capacity;
    this.dropped++;
  }

  /** Mirrors pr_err(). */
  prErr(text: string): void {
    this.printk(KERN_ERR, text);
  }

  /** Mirrors pr_warn(). */
  prWarn(text: string): void {
    this.printk(KERN_WARNING, text);
  }

  /** Mirrors pr_info(). */
  prInfo(text: string): void {
    this.printk(KERN_INFO, text);
  }

  /** Mirrors pr_debug() with dynamic debug enabled. */
  prDebug(text: string): void {
    this.printk(KERN_DEBUG, text);
  }

  /** Mirrors __ratelimit(): whether a message may be printed now (counts suppressions otherwise). */
  ratelimit(rs: RatelimitState): boolean {
    const now = this.core.sim.now;
    if (rs.interval === 0) return true;
    if (rs.begin < 0) rs.begin = now;
    if (now > rs.begin + rs.interval) {
      if (rs.missed > 0) this.printk(KERN_WARNING, `${rs.name}: ${rs.missed} callbacks suppressed`);
      rs.begin = now;
      rs.printed = 0;
      rs.missed = 0;
    }
    if (rs.printed < rs.burst) {
      rs.printed++;
      return true;
    }
    rs.missed++;
    return false;
  }

  /** Mirrors printk_ratelimited() with the caller's state (pr_warn_ratelimited() is level KERN_WARNING). Returns whether it printed. */
  printkRatelimited(rs: RatelimitState, level: number, text: string): boolean {
    if (!this.ratelimit(rs)) return false;
    this.printk(level, text);
    return true;
  }

  /** The lines still in the buffer, oldest first. */
  lines(): LogLine[] {
    return this.ring.length < this.capacity ? this.ring.slice() : [...this.ring.slice(this.head), ...this.ring.slice(0, this.head)];
  }

  /** Lines whose text contains `needle`. */
  grep(needle: string): LogLine[] {
    return this.lines().filter((l) => l.text.includes(needle));
  }

  /** The buffer as `dmesg` prints it: `[    1.234567] text`, one line each. */
  dmesg(): string {
    return this.lines().map(formatLogLine).join("\n");
  }

  /** Mirrors `dmesg --clear`. */
  clear(): void {
    this.ring.length = 0;
    this.head = 0;
  }
}

/** `[ssssss.uuuuuu] text`, the timestamp format of printk with printk.time=1. */
export function formatLogLine(l: LogLine): string {
  const us = Math.floor(l.ts / 1000);
  const secs = Math.floor(us / 1_000_000);
  return `[${String(secs).padStart(5)}.${String(us % 1_000_000).padStart(6, "0")}] ${l.text}`;
}

const logs = new WeakMap<KernelCore, KernelLog>();

/** The kernel log of a machine's kernel core (created on first use). */
export function kernelLog(core: KernelCore): KernelLog {
  let log = logs.get(core);
  if (log === undefined) {
    log = new KernelLog(core);
    logs.set(core, log);
  }
  return log;
}
