/**
 * Kernel access to the calling task's user memory: mirrors access_ok(), get_user()/put_user() and
 * copy_from_user()/copy_to_user() (arch/x86/include/asm/uaccess.h, lib/usercopy.c). Every access goes
 * through the caller's page tables and TLB exactly like a user access, so it faults pages in (a read of
 * an untouched anonymous page sees the zero page, a write allocates), meets migration entries and waits,
 * and fails with -EFAULT where the user could not read or write.
 *
 * The hot path of move_pages reads its `pages` and `nodes` arrays through {@link UserArrayReader}s: one
 * page-table walk and one bulk copy per user page, then plain loads per entry, so a 262,144-entry call
 * does 768 walks instead of half a million. A reader's snapshot is dropped whenever the kernel writes
 * user memory or virtual time passes, so it never returns a value a real get_user() would not.
 */
import { ConcurrencyModelError, EFAULT } from "@mmemu/kernel";
import { folioWaitUnlock, PAGE_SIZE, PG, VM_FAULT, type Machine, type Task } from "@mmemu/mm-core";

/** TASK_SIZE_MAX on x86-64 with 4-level paging: the first address user space can never map. */
export const TASK_SIZE_MAX = 0x7fff_ffff_f000;

/** Mirrors access_ok(): the range lies entirely below TASK_SIZE_MAX. */
export function accessOk(addr: number, size: number): boolean {
  return addr >= 0 && size >= 0 && addr + size <= TASK_SIZE_MAX;
}

/** One task's view of its own user memory, as kernel code running on its behalf sees it. */
export class UserAccess {
  /** Bumped on every kernel write to user memory; readers compare it to drop stale snapshots. */
  gen = 0;
  private readonly scratch = new Uint8Array(PAGE_SIZE);
  private readonly scratchView = new DataView(this.scratch.buffer);
  /** The first int of scratch: a single status write allocates no view. */
  private readonly scratchInt = this.scratch.subarray(0, 4);

  constructor(
    readonly m: Machine,
    /** The mm-core context of the task whose memory this is (current). */
    readonly task: Task,
  ) {}

  /**
   * The frame backing user address `addr` for a read or write, faulting as a user access would; a
   * migration entry sleeps until the folio is unlocked (migration_entry_wait) and retries. -EFAULT when
   * the access cannot be satisfied.
   */
  frame(addr: number, write: boolean): number {
    if (!accessOk(addr, 1) || this.task.mm === null) return -EFAULT;
    const m = this.m;
    const page = addr - (addr % PAGE_SIZE);
    for (;;) {
      const r = m.memory.userAccessFrame(this.task, page, write);
      if (r >= 0) return r;
      if (r === VM_FAULT.LOCK_WAIT) {
        // Sleep in mmap_read_lock() until the writer is done, then fault again.
        const lock = m.memory.faultWaitLock!;
        lock.downRead();
        lock.upRead();
        continue;
      }
      if (r !== VM_FAULT.MIGRATION_WAIT) return -EFAULT;
      const folio = m.folios.folioOf(m.memory.faultWaitPfn);
      if (m.folios.test(folio, PG.locked)) {
        // A concurrent call nested on a migration that holds this folio's lock: only that migration's
        // return unlocks it, and the model resumes it only after this call ends (docs/concurrency.md).
        if (m.sim.taskDepth > 0) {
          throw new ConcurrencyModelError(`migration_entry_wait(${folio}) at 0x${page.toString(16)} would sleep until a migration that started earlier and is itself sleeping unlocks the folio; ` +
            "the model runs a concurrent call to its end before the call it interrupted resumes, so it cannot run this interleaving");
        }
        let woken = false;
        folioWaitUnlock(m, folio, () => { woken = true; });
        m.sim.runUntil(() => woken, undefined, `migration_entry_wait(${folio})`);
      }
    }
  }

  /**
   * Walk [addr, addr+len) one page piece at a time, resolving each page for a read or write and handing
   * (frame, offset in page, piece length, bytes done so far) to `piece`. Returns the bytes not reached.
   */
  private eachPiece(addr: number, len: number, write: boolean, piece: (pfn: number, off: number, chunk: number, done: number) => void): number {
    if (!accessOk(addr, len)) return len;
    let done = 0;
    while (done < len) {
      const a = addr + done;
      const off = a % PAGE_SIZE;
      const chunk = Math.min(len - done, PAGE_SIZE - off);
      const pfn = this.frame(a, write);
      if (pfn < 0) return len - done;
      piece(pfn, off, chunk, done);
      done += chunk;
    }
    return 0;
  }

  /**
   * Mirrors copy_from_user(): copy `len` bytes at user `addr` into `out` at `outOff`, page by page.
   * Returns the number of bytes NOT copied (0 on success), as the kernel does.
   */
  copyFromUser(out: Uint8Array, outOff: number, addr: number, len: number): number {
    return this.eachPiece(addr, len, false, (pfn, off, chunk, done) => {
      this.m.mem.readInto(pfn * PAGE_SIZE + off, out, outOff + done, chunk);
    });
  }

  /**
   * Mirrors copy_to_user(): copy `len` bytes of `src` from `srcOff` to user `addr`. Bytes in pages before
   * a faulting one are written (x86 copies up to the fault). Returns the number of bytes NOT copied.
   */
  copyToUser(addr: number, src: Uint8Array, srcOff: number, len: number): number {
    return this.eachPiece(addr, len, true, (pfn, off, chunk, done) => {
      this.gen++;
      const whole = done === 0 && srcOff === 0 && chunk === src.length;
      this.m.mem.write(pfn * PAGE_SIZE + off, whole ? src : src.subarray(srcOff + done, srcOff + done + chunk));
    });
  }

  /**
   * Mirrors a run of put_user(value, (int *)base + i) for i in [start, start + nr): store_status(). Pages
   * are written in bulk; at the first entry that cannot be written the earlier ones stay written and
   * -EFAULT is returned.
   */
  putInts(base: number, start: number, nr: number, value: number): number {
    if (nr <= 0) return 0;
    const sv = this.scratchView;
    let i = start;
    const end = start + nr;
    while (i < end) {
      const a = base + i * 4;
      const off = a % PAGE_SIZE;
      if (off + 4 > PAGE_SIZE) {
        // An int straddling two pages: both must be writable (put_user faults as one access).
        if (this.frame(a, true) < 0 || this.frame(a + 4, true) < 0) return -EFAULT;
        sv.setInt32(0, value, true);
        if (this.copyToUser(a, this.scratch, 0, 4) !== 0) return -EFAULT;
        i++;
        continue;
      }
      const n = Math.min(end - i, Math.floor((PAGE_SIZE - off) / 4));
      const pfn = this.frame(a, true);
      if (pfn < 0) return -EFAULT;
      for (let k = 0; k < n; k++) sv.setInt32(k * 4, value, true);
      this.gen++;
      this.m.mem.write(pfn * PAGE_SIZE + off, n === 1 ? this.scratchInt : n * 4 === PAGE_SIZE ? this.scratch : this.scratch.subarray(0, n * 4));
      i += n;
    }
    return 0;
  }
}

/**
 * Reads entries of a user array (8-byte pointers or 4-byte ints) the way get_user() does, one user page
 * at a time. `get(i)` returns the value; after a fault `fault` is true and the value is 0.
 *
 * The snapshot of a page is valid while no kernel write to user memory happened (UserAccess.gen) and no
 * event ran (Sim.eventsRun): only an event (another emulated thread) could have changed the page.
 */
export class UserArrayReader {
  fault = false;
  /** Entries [lo, hi) lie wholly inside the snapshot and are word-aligned: the fast path. */
  private lo = 0;
  private hi = 0;
  /** Index into `words` of entry `lo`. */
  private wordBase = 0;
  private stampGen = -1;
  private stampEvents = -1;
  private winPage = -1;
  private winOk = false;
  private readonly win = new Uint8Array(PAGE_SIZE);
  private readonly words = new Uint32Array(this.win.buffer);
  private readonly view = new DataView(this.win.buffer);
  private readonly tmp = new Uint8Array(8);
  private readonly tmpView = new DataView(this.tmp.buffer);
  private readonly wordsPerEntry: number;
  private readonly sim: { readonly eventsRun: number };

  constructor(
    private readonly ua: UserAccess,
    /** User address of entry 0. */
    readonly base: number,
    /** Bytes per entry: 8 (pointer, unsigned long) or 4 (int). */
    readonly size: 4 | 8,
  ) {
    this.wordsPerEntry = size >> 2;
    this.sim = ua.m.sim;
  }

  /** Entry i; for size 8 the unsigned 64-bit value as a number (exact below 2^53), for size 4 a signed int. */
  get(i: number): number {
    if (i >= this.lo && i < this.hi && this.stampGen === this.ua.gen && this.stampEvents === this.sim.eventsRun) {
      this.fault = false;
      const w = this.wordBase + (i - this.lo) * this.wordsPerEntry;
      if (this.wordsPerEntry === 1) return this.words[w]! | 0;
      return this.words[w + 1]! * 4294967296 + this.words[w]!;
    }
    return this.slow(i);
  }

  private slow(i: number): number {
    this.fault = false;
    const ua = this.ua;
    const size = this.size;
    const a = this.base + i * size;
    if (!accessOk(a, size)) {
      this.fault = true;
      return 0;
    }
    const off = a % PAGE_SIZE;
    if (off + size > PAGE_SIZE) return this.getStraddling(a);
    const page = a - off;
    if (page !== this.winPage || this.stampGen !== ua.gen || this.stampEvents !== ua.m.sim.eventsRun) this.load(page, i, off);
    if (!this.winOk) {
      this.fault = true;
      return 0;
    }
    const v = this.view;
    if (size === 4) return v.getInt32(off, true);
    return v.getUint32(off + 4, true) * 4294967296 + v.getUint32(off, true);
  }

  private load(page: number, i: number, off: number): void {
    const ua = this.ua;
    this.winPage = page;
    this.lo = this.hi = 0;
    const pfn = ua.frame(page, false);
    // The walk itself may run events (a migration wait): stamp the snapshot after it.
    this.stampGen = ua.gen;
    this.stampEvents = ua.m.sim.eventsRun;
    this.winOk = pfn >= 0;
    if (!this.winOk) return;
    ua.m.mem.readInto(pfn * PAGE_SIZE, this.win, 0, PAGE_SIZE);
    if (off % 4 === 0) {
      // Entries of this array that lie wholly inside the page, counted from entry i.
      this.lo = Math.max(0, i - Math.floor(off / this.size));
      const loOff = off - (i - this.lo) * this.size;
      this.hi = this.lo + Math.floor((PAGE_SIZE - loOff) / this.size);
      this.wordBase = loOff >> 2;
    }
  }

  private getStraddling(a: number): number {
    if (this.ua.copyFromUser(this.tmp, 0, a, this.size) !== 0) {
      this.fault = true;
      return 0;
    }
    const v = this.tmpView;
    if (this.size === 4) return v.getInt32(0, true);
    return v.getUint32(4, true) * 4294967296 + v.getUint32(0, true);
  }
}
