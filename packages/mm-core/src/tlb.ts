/**
 * Per-CPU TLBs and the batched-flush machinery. Mirrors arch/x86/mm/tlb.c (flush_tlb_mm_range,
 * arch_tlbbatch_flush) and the unmap-batch parts of mm/rmap.c (struct tlbflush_unmap_batch,
 * set_tlb_ubc_flush_pending, try_to_unmap_flush, flush_tlb_batched_pending).
 *
 * Each CPU caches a small number of translations (mm, virtual page) -> (pfn, writable). Entries are
 * filled only by emulated user accesses, so a translation that survives an unmap without a flush is
 * observable: an access through it reaches the old frame, exactly the hazard the flush prevents.
 */
import type { Machine } from "./machine.js";
import type { MmStruct } from "./mm-types.js";
import { PAGE_SIZE } from "./physmem.js";

/** Entries per CPU (an L1 dTLB is 64 entries on Zen 3). */
export const TLB_ENTRIES = 64;

/** Buckets of each CPU's counting filter over its cached virtual pages. */
const FILTER_BUCKETS = 1024;

function bucket(vpn: number): number {
  const v = vpn | 0;
  return (v ^ (v >>> 10)) & (FILTER_BUCKETS - 1);
}

export class Tlbs {
  readonly nrCpus: number;
  private readonly mmId: Int32Array;
  private readonly vpn: Float64Array;
  private readonly pfn: Int32Array;
  private readonly writable: Uint8Array;
  private readonly victim: Int32Array;
  /** Valid entries per CPU, so flushing an empty TLB (the common case in bulk runs) costs nothing. */
  private readonly valid: Int32Array;
  /**
   * Per CPU, how many cached entries hash to each bucket of their virtual page: flushing a page no
   * entry hashes to (migration unmapping page after page) costs one lookup instead of a full scan.
   */
  private readonly cached: Uint8Array;
  /** Full or ranged flushes performed on each CPU (statistics). */
  readonly flushes: Float64Array;

  constructor(nrCpus: number) {
    this.nrCpus = nrCpus;
    const n = nrCpus * TLB_ENTRIES;
    this.mmId = new Int32Array(n).fill(-1);
    this.vpn = new Float64Array(n);
    this.pfn = new Int32Array(n);
    this.writable = new Uint8Array(n);
    this.victim = new Int32Array(nrCpus);
    this.valid = new Int32Array(nrCpus);
    this.cached = new Uint8Array(nrCpus * FILTER_BUCKETS);
    this.flushes = new Float64Array(nrCpus);
  }

  /** The cached translation of (mm, vpn) on a CPU: the pfn, or -1 on a miss. */
  lookup(cpu: number, mm: number, vpn: number, write: boolean): number {
    const base = cpu * TLB_ENTRIES;
    for (let i = base; i < base + TLB_ENTRIES; i++) {
      if (this.mmId[i] === mm && this.vpn[i] === vpn) {
        if (write && this.writable[i] === 0) return -1;
        return this.pfn[i]!;
      }
    }
    return -1;
  }

  /** Cache a translation after a page-table walk (round-robin replacement). */
  fill(cpu: number, mm: number, vpn: number, pfn: number, writable: boolean): void {
    const base = cpu * TLB_ENTRIES;
    let slot = -1;
    for (let i = base; i < base + TLB_ENTRIES; i++) {
      if (this.mmId[i] === mm && this.vpn[i] === vpn) {
        slot = i;
        break;
      }
    }
    if (slot < 0) {
      slot = base + this.victim[cpu]!;
      this.victim[cpu] = (this.victim[cpu]! + 1) % TLB_ENTRIES;
      if (this.mmId[slot] === -1) this.valid[cpu]!++;
      else this.cached[cpu * FILTER_BUCKETS + bucket(this.vpn[slot]!)]!--;
      this.cached[cpu * FILTER_BUCKETS + bucket(vpn)]!++;
    }
    this.mmId[slot] = mm;
    this.vpn[slot] = vpn;
    this.pfn[slot] = pfn;
    this.writable[slot] = writable ? 1 : 0;
  }

  /** Drop every translation of an mm on one CPU (flush_tlb_mm on that CPU). */
  flushMm(cpu: number, mm: number): void {
    this.flushes[cpu]!++;
    if (this.valid[cpu] === 0) return;
    const base = cpu * TLB_ENTRIES;
    for (let i = base; i < base + TLB_ENTRIES; i++) {
      if (this.mmId[i] === mm) {
        this.mmId[i] = -1;
        this.valid[cpu]!--;
        this.cached[cpu * FILTER_BUCKETS + bucket(this.vpn[i]!)]!--;
      }
    }
  }

  /** Drop every user translation on one CPU (the non-global full flush of arch_tlbbatch_flush). */
  flushAll(cpu: number): void {
    this.flushes[cpu]!++;
    if (this.valid[cpu] === 0) return;
    this.mmId.fill(-1, cpu * TLB_ENTRIES, (cpu + 1) * TLB_ENTRIES);
    this.valid[cpu] = 0;
    this.cached.fill(0, cpu * FILTER_BUCKETS, (cpu + 1) * FILTER_BUCKETS);
  }

  /** Drop the translations of [vpnStart, vpnEnd) of an mm on one CPU (flush_tlb_mm_range). */
  flushRange(cpu: number, mm: number, vpnStart: number, vpnEnd: number): void {
    this.flushes[cpu]!++;
    if (this.valid[cpu] === 0) return;
    if (vpnEnd - vpnStart === 1) {
      if (this.cached[cpu * FILTER_BUCKETS + bucket(vpnStart)] === 0) return;
    } else if (vpnEnd - vpnStart <= 8) {
      let maybe = false;
      for (let v = vpnStart; v < vpnEnd && !maybe; v++) maybe = this.cached[cpu * FILTER_BUCKETS + bucket(v)] !== 0;
      if (!maybe) return;
    }
    const base = cpu * TLB_ENTRIES;
    for (let i = base; i < base + TLB_ENTRIES; i++) {
      if (this.mmId[i] === mm && this.vpn[i]! >= vpnStart && this.vpn[i]! < vpnEnd) {
        this.mmId[i] = -1;
        this.valid[cpu]!--;
        this.cached[cpu * FILTER_BUCKETS + bucket(this.vpn[i]!)]!--;
      }
    }
  }

  /** Whether any CPU still caches a translation to a frame in [pfn, pfn+nr) (invariant checks). */
  cpusCaching(pfn: number, nr: number): number[] {
    const out: number[] = [];
    for (let cpu = 0; cpu < this.nrCpus; cpu++) {
      const base = cpu * TLB_ENTRIES;
      for (let i = base; i < base + TLB_ENTRIES; i++) {
        if (this.mmId[i] !== -1 && this.pfn[i]! >= pfn && this.pfn[i]! < pfn + nr) {
          out.push(cpu);
          break;
        }
      }
    }
    return out;
  }
}

/**
 * Mirrors struct tlbflush_unmap_batch (current->tlb_ubc): the CPUs that may cache translations whose
 * PTEs were cleared without a flush.
 */
export class TlbUnmapBatch {
  flushRequired = false;
  writable = false;
  /** CPUs to flush (arch_tlbflush_unmap_batch.cpumask) x86 flushes all user translations on them. */
  readonly cpumask: Uint8Array;
  /** The same bytes as 32-bit words, zero-padded (see MmStruct.cpumaskWords). */
  readonly cpumaskWords: Uint32Array;
  /**
   * The mm whose whole mask was last or-ed in, and its weight then (null once flushed): or-ing it again
   * while its weight is unchanged would change nothing, and every folio of a batch comes from it.
   */
  orMm: MmStruct | null = null;
  orWeight = 0;

  constructor(nrCpus: number) {
    const buf = new ArrayBuffer((nrCpus + 3) & ~3);
    this.cpumask = new Uint8Array(buf, 0, nrCpus);
    this.cpumaskWords = new Uint32Array(buf);
  }
}

/**
 * Mirrors flush_tlb_mm_range(): flush a range of an mm on the CPUs it ran on, without charging (munmap,
 * mprotect and fault paths).
 */
export function tlbFlushMmRange(m: Machine, mm: MmStruct, start: number, end: number): void {
  const mask = mm.cpumask;
  for (let cpu = 0; cpu < mask.length; cpu++) {
    if (mask[cpu] !== 0) m.tlbs.flushRange(cpu, mm.id, Math.floor(start / PAGE_SIZE), Math.ceil(end / PAGE_SIZE));
  }
  // flush_tlb_batched_pending(): a PTE change must not race with batched, unflushed clears.
  mm.tlbFlushBatched = false;
}
