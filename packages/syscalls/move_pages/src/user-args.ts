/**
 * Helpers that play the user-space side of a syscall: place argument arrays (pointers, ints, node
 * bitmaps) in a process's memory and read results back, through the same page tables and faults as any
 * user access. Used by tests, the scenario runner and the package README; not kernel code.
 */
import { MAP_ANONYMOUS, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE, alignUp } from "@mmemu/mm-core";
import type { TaskStruct, TaskTable } from "./sched.js";
import { UserAccess } from "./uaccess.js";

/** mmap a private read-write anonymous region of at least `bytes` bytes in the task's mm; its address. */
export function mmapUserArea(tasks: TaskTable, task: TaskStruct, bytes: number): number {
  if (task.mm === null) throw new Error(`task ${task.pid} has no address space`);
  const len = alignUp(Math.max(1, bytes), PAGE_SIZE);
  const addr = tasks.m.memory.mmap(task.mm, { len, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS });
  if (addr < 0) throw new Error(`mmap of ${len} bytes failed with ${addr}`);
  return addr;
}

/**
 * Store little-endian values of `size` bytes at `addr` as the task would. Entries whose bytes cannot be
 * written (unmapped, read-only) are skipped: they are exactly the ones a syscall would find unreadable.
 * Returns the number of entries written.
 */
export function writeUserArray(tasks: TaskTable, task: TaskStruct, addr: number, values: ArrayLike<number | bigint>, size: 4 | 8): number {
  const ua = new UserAccess(tasks.m, task.ctx);
  const n = values.length;
  const buf = new Uint8Array(Math.min(n, PAGE_SIZE) * size + size);
  const view = new DataView(buf.buffer);
  let written = 0;
  let i = 0;
  // One copy per run of entries inside one page keeps a 262,144-entry array cheap to place.
  while (i < n) {
    const a = addr + i * size;
    const room = Math.max(1, Math.floor((PAGE_SIZE - (a % PAGE_SIZE)) / size));
    const run = Math.min(n - i, room);
    for (let k = 0; k < run; k++) {
      const v = values[i + k]!;
      if (size === 4) view.setInt32(k * 4, Number(v), true);
      else if (typeof v === "number" && v >= 0 && v <= Number.MAX_SAFE_INTEGER && Number.isInteger(v)) {
        // The common case (user addresses) without a bigint per entry; `>>> 0` is the low word of an
        // integer below 2^53 exactly (ToUint32), and cheaper than a floating-point remainder.
        const lo = v >>> 0;
        view.setUint32(k * 8, lo, true);
        view.setUint32(k * 8 + 4, (v - lo) / 4294967296, true);
      } else view.setBigUint64(k * 8, BigInt.asUintN(64, BigInt(v)), true);
    }
    if (ua.copyToUser(a, buf, 0, run * size) === 0) written += run;
    else {
      for (let k = 0; k < run; k++) if (ua.copyToUser(a + k * size, buf, k * size, size) === 0) written++;
    }
    i += run;
  }
  return written;
}

/**
 * A task's argument area: one large private mapping made on first use, handed out page by page, so the
 * arrays of successive calls never land in holes a caller made on purpose (munmap'd test pages).
 * `release()` gives back what was handed out since the last release (a caller's arrays are dead once its
 * call returned): the first mapping is reused from its start and any larger one is unmapped, so a long
 * run of calls keeps a constant footprint instead of mapping fresh memory for every call.
 */
export class UserArgArena {
  private next = 0;
  private end = 0;
  /** Mappings made, [address, length]; the first is kept across releases. */
  private readonly areas: Array<[number, number]> = [];

  constructor(
    private readonly tasks: TaskTable,
    private readonly task: TaskStruct,
    /** Bytes mapped at a time. @default 4 MiB */
    private readonly chunk = 1 << 22,
  ) {}

  /** Room for `bytes` bytes (page aligned); its user address. */
  alloc(bytes: number): number {
    const need = alignUp(Math.max(1, bytes), PAGE_SIZE);
    if (this.next + need > this.end) {
      const len = Math.max(this.chunk, need);
      this.next = mmapUserArea(this.tasks, this.task, len);
      this.end = this.next + len;
      this.areas.push([this.next, len]);
    }
    const a = this.next;
    this.next += need;
    return a;
  }

  /** Give back everything handed out: keep the first mapping for reuse, unmap the others. */
  release(): void {
    const mm = this.task.mm;
    while (this.areas.length > 1) {
      const [addr, len] = this.areas.pop()!;
      if (mm !== null) this.tasks.m.memory.munmap(mm, addr, len);
    }
    const first = this.areas[0];
    if (first === undefined || mm === null) {
      this.areas.length = 0;
      this.next = this.end = 0;
      return;
    }
    this.next = first[0];
    this.end = first[0] + first[1];
  }

  /** Store `values` (entries of `size` bytes) in fresh room; their address. */
  place(values: ArrayLike<number | bigint>, size: 4 | 8): number {
    const a = this.alloc(values.length * size);
    writeUserArray(this.tasks, this.task, a, values, size);
    return a;
  }
}

/** Read `n` little-endian signed 32-bit ints at `addr` as the task would; null for an unreadable one. */
export function readUserInts(tasks: TaskTable, task: TaskStruct, addr: number, n: number): Array<number | null> {
  const ua = new UserAccess(tasks.m, task.ctx);
  const out: Array<number | null> = new Array(n);
  const buf = new Uint8Array(PAGE_SIZE + 4);
  const view = new DataView(buf.buffer);
  let i = 0;
  while (i < n) {
    const a = addr + i * 4;
    const room = Math.max(1, Math.floor((PAGE_SIZE - (a % PAGE_SIZE)) / 4));
    const run = Math.min(n - i, room);
    if (ua.copyFromUser(buf, 0, a, run * 4) === 0) {
      for (let k = 0; k < run; k++) out[i + k] = view.getInt32(k * 4, true);
    } else {
      for (let k = 0; k < run; k++) out[i + k] = ua.copyFromUser(buf, 0, a + k * 4, 4) === 0 ? view.getInt32(0, true) : null;
    }
    i += run;
  }
  return out;
}

/** A node bitmap as unsigned longs (what migrate_pages and mbind read): bit n set for each node. */
export function nodeBitmapLongs(nodes: readonly number[], maxnode: number): bigint[] {
  const longs = new Array<bigint>(Math.max(1, Math.ceil(maxnode / 64))).fill(0n);
  for (const n of nodes) {
    const w = Math.floor(n / 64);
    if (w >= longs.length) throw new RangeError(`node ${n} does not fit in a ${maxnode}-bit mask`);
    longs[w] = longs[w]! | (1n << BigInt(n % 64));
  }
  return longs;
}
