/**
 * Physical memory: NUMA nodes owning contiguous page-frame ranges, and the contents of every page.
 * Mirrors the node/pfn layout of include/linux/mmzone.h (pg_data_t node_start_pfn/node_spanned_pages)
 * and the copy primitives of mm/util.c (folio_copy/folio_mc_copy) at page granularity.
 *
 * Contents come in two modes. "bytes" keeps every byte (for tests that read data back); "fingerprint"
 * keeps one 32-bit digest per base page, so a 1 GiB move needs 1 MiB of host memory for contents. A
 * write in fingerprint mode folds the written bytes into the digest; a full-page copy copies the digest;
 * a partial copy (a torn DMA transfer) yields a digest that matches neither side.
 */
export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
export const PMD_ORDER = 9;
export const HPAGE_PMD_NR = 1 << PMD_ORDER;
export const PUD_ORDER = 18;
export const HPAGE_PUD_NR = 1 << PUD_ORDER;
/** Largest buddy order (include/linux/mmzone.h MAX_PAGE_ORDER on x86-64). */
export const MAX_PAGE_ORDER = 10;

export type ContentMode = "bytes" | "fingerprint";

/** Refuse the bytes mode above this much emulated memory: the host would need as many real bytes. */
export const MAX_BYTES_MODE_PAGES = (1 << 30) / PAGE_SIZE;

export interface MemNodeConfig {
  /** Node id (0..MAX_NUMNODES-1); ids may have gaps. */
  readonly id: number;
  /** Memory in 4 KiB pages; 0 makes a memoryless node (CPUs only). */
  readonly pages: number;
  /** CPUs on this node. @default 1 */
  readonly cpus?: number;
}

/** Mirrors a pg_data_t: a node and the pfn range it spans. */
export interface MemNode {
  readonly id: number;
  readonly startPfn: number;
  readonly nrPages: number;
  /** CPU ids on the node. */
  readonly cpus: readonly number[];
}

/** Mirrors MAX_NUMNODES for CONFIG_NODES_SHIFT=10 on x86-64 distributions. */
export const MAX_NUMNODES = 1024;

/** A 32-bit mix (murmur3 finaliser) used to fold bytes into page digests. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class PhysMem {
  readonly nodes: readonly MemNode[];
  /** Total page frames (pfn 0 .. totalPages-1). */
  readonly totalPages: number;
  readonly mode: ContentMode;
  /** Node id of each pfn (dense, one byte per page would cap ids at 255; Uint16 keeps MAX_NUMNODES). */
  readonly nodeOfPfn: Uint16Array;
  private readonly byId: Array<MemNode | undefined> = [];
  /** Fingerprint mode: one digest per pfn. Bytes mode: unused. */
  private readonly fp: Uint32Array | null;
  /** Bytes mode: every byte. */
  private readonly bytes: Uint8Array | null;
  /** Pages whose contents raise a machine check on read (hardware poison). */
  readonly poisoned: Uint8Array;

  constructor(nodes: readonly MemNodeConfig[], mode: ContentMode) {
    if (nodes.length === 0) throw new Error("machine: at least one NUMA node is required");
    const seen = new Set<number>();
    let pfn = 0;
    let cpu = 0;
    const out: MemNode[] = [];
    for (const n of nodes) {
      if (!Number.isInteger(n.id) || n.id < 0 || n.id >= MAX_NUMNODES) throw new Error(`machine: node id ${n.id} must be an integer in [0, ${MAX_NUMNODES})`);
      if (seen.has(n.id)) throw new Error(`machine: node ${n.id} is declared twice`);
      seen.add(n.id);
      if (!Number.isInteger(n.pages) || n.pages < 0) throw new Error(`machine: node ${n.id} pages must be a non-negative integer, got ${n.pages}`);
      const ncpu = n.cpus ?? 1;
      if (!Number.isInteger(ncpu) || ncpu < 0) throw new Error(`machine: node ${n.id} cpus must be a non-negative integer, got ${ncpu}`);
      const cpus = Array.from({ length: ncpu }, () => cpu++);
      const node: MemNode = { id: n.id, startPfn: pfn, nrPages: n.pages, cpus };
      out.push(node);
      this.byId[n.id] = node;
      pfn += n.pages;
    }
    if (cpu === 0) throw new Error("machine: at least one CPU is required");
    if (pfn === 0) throw new Error("machine: at least one node must have memory");
    if (pfn >= 0x7fffffff) throw new Error(`machine: ${pfn} pages is more than the emulator's 2^31 page frames`);
    this.nodes = out;
    this.totalPages = pfn;
    this.mode = mode;
    this.nodeOfPfn = new Uint16Array(pfn);
    for (const n of out) this.nodeOfPfn.fill(n.id, n.startPfn, n.startPfn + n.nrPages);
    if (mode === "bytes") {
      if (pfn > MAX_BYTES_MODE_PAGES) {
        throw new Error(`machine: content mode "bytes" keeps every byte and is limited to ${MAX_BYTES_MODE_PAGES} pages (1 GiB); this machine has ${pfn}. Use "fingerprint".`);
      }
      this.bytes = new Uint8Array(pfn * PAGE_SIZE);
      this.fp = null;
    } else {
      this.fp = new Uint32Array(pfn);
      this.bytes = null;
    }
    this.poisoned = new Uint8Array(pfn);
  }

  /** The node with this id, or undefined. */
  node(id: number): MemNode | undefined {
    return this.byId[id];
  }

  /** Number of CPUs on the machine. */
  get nrCpus(): number {
    let n = 0;
    for (const node of this.nodes) n += node.cpus.length;
    return n;
  }

  /** Node id of the CPU. */
  cpuToNode(cpu: number): number {
    for (const n of this.nodes) if (n.cpus.includes(cpu)) return n.id;
    throw new RangeError(`no CPU ${cpu}`);
  }

  /** A page's content digest: equal digests mean equal contents (with 2^-32 collision odds). */
  digest(pfn: number): number {
    if (this.fp !== null) return this.fp[pfn]!;
    const b = this.bytes!;
    let h = 0;
    const base = pfn * PAGE_SIZE;
    let allZero = true;
    for (let i = 0; i < PAGE_SIZE; i += 4) {
      const w = b[base + i]! | (b[base + i + 1]! << 8) | (b[base + i + 2]! << 16) | (b[base + i + 3]! << 24);
      if (w !== 0) allZero = false;
      h = mix32(h ^ w ^ i);
    }
    return allZero ? 0 : h;
  }

  /** Copy whole pages: mirrors copy_highpage() over a folio. */
  copyPages(dstPfn: number, srcPfn: number, nr: number): void {
    if (this.fp !== null) {
      if (nr === 1) this.fp[dstPfn] = this.fp[srcPfn]!;
      else this.fp.copyWithin(dstPfn, srcPfn, srcPfn + nr);
    } else {
      this.bytes!.copyWithin(dstPfn * PAGE_SIZE, srcPfn * PAGE_SIZE, (srcPfn + nr) * PAGE_SIZE);
    }
  }

  /** Zero whole pages (clear_highpage) — a fresh anonymous page. */
  zeroPages(pfn: number, nr: number): void {
    if (this.fp !== null) this.fp.fill(0, pfn, pfn + nr);
    else this.bytes!.fill(0, pfn * PAGE_SIZE, (pfn + nr) * PAGE_SIZE);
  }

  /**
   * Byte-granular copy between physical addresses, as a DMA engine does. Page-aligned whole pages copy
   * digests exactly; a partial page in fingerprint mode gets a digest mixed from both sides (torn).
   */
  copyPhys(dstAddr: number, srcAddr: number, len: number): void {
    this.checkRange(dstAddr, len, "copyPhys dst");
    this.checkRange(srcAddr, len, "copyPhys src");
    if (this.bytes !== null) {
      this.bytes.copyWithin(dstAddr, srcAddr, srcAddr + len);
      return;
    }
    const fp = this.fp!;
    let d = dstAddr;
    let s = srcAddr;
    let left = len;
    while (left > 0) {
      const dOff = d % PAGE_SIZE;
      const chunk = Math.min(left, PAGE_SIZE - dOff, PAGE_SIZE - (s % PAGE_SIZE));
      const dp = Math.floor(d / PAGE_SIZE);
      const sp = Math.floor(s / PAGE_SIZE);
      if (chunk === PAGE_SIZE) fp[dp] = fp[sp]!;
      else fp[dp] = mix32(fp[dp]! ^ Math.imul(fp[sp]!, 0x9e3779b1) ^ (dOff << 12) ^ chunk);
      d += chunk;
      s += chunk;
      left -= chunk;
    }
  }

  /** Write bytes at a physical address (a CPU store or a device write). */
  write(addr: number, data: Uint8Array): void {
    this.checkRange(addr, data.length, "write");
    if (this.bytes !== null) {
      this.bytes.set(data, addr);
      return;
    }
    const fp = this.fp!;
    let off = 0;
    while (off < data.length) {
      const a = addr + off;
      const pfn = Math.floor(a / PAGE_SIZE);
      const pOff = a % PAGE_SIZE;
      const chunk = Math.min(data.length - off, PAGE_SIZE - pOff);
      let h = fp[pfn]! ^ Math.imul(pOff + 1, 0x27d4eb2d);
      for (let i = 0; i < chunk; i++) h = mix32(h ^ (data[off + i]! + (i << 8)));
      fp[pfn] = h === 0 ? 1 : h;
      off += chunk;
    }
  }

  /** Fill whole pages with a repeating 32-bit pattern (a recognisable write of a whole page). */
  fillPages(pfn: number, nr: number, pattern: number): void {
    if (this.fp !== null) {
      const d = pattern === 0 ? 0 : mix32(pattern ^ 0x5bd1e995) || 1;
      this.fp.fill(d, pfn, pfn + nr);
      return;
    }
    const view = new DataView(this.bytes!.buffer, pfn * PAGE_SIZE, nr * PAGE_SIZE);
    for (let i = 0; i < nr * PAGE_SIZE; i += 4) view.setUint32(i, pattern >>> 0, true);
  }

  /** Read bytes back; only the bytes mode keeps them. */
  read(addr: number, len: number): Uint8Array {
    if (this.bytes === null) throw new Error(`PhysMem.read: content mode is "fingerprint", which keeps digests, not bytes; use digest()`);
    this.checkRange(addr, len, "read");
    return this.bytes.slice(addr, addr + len);
  }

  private checkRange(addr: number, len: number, what: string): void {
    if (!(addr >= 0 && len >= 0 && addr + len <= this.totalPages * PAGE_SIZE) || !Number.isInteger(addr) || !Number.isInteger(len)) {
      throw new RangeError(`PhysMem.${what}: [${addr}, +${len}) is outside physical memory (${this.totalPages * PAGE_SIZE} bytes)`);
    }
  }
}
