/**
 * Physical memory: NUMA nodes owning contiguous page-frame ranges, and the contents of every page.
 * Mirrors the node/pfn layout of include/linux/mmzone.h (pg_data_t node_start_pfn/node_spanned_pages)
 * and the copy primitives of mm/util.c (folio_copy/folio_mc_copy) at page granularity.
 *
 * Contents are exact and compact at once: a page holds either a repeated 32-bit fill pattern (4 bytes of
 * host memory; 0 is a zeroed page) or, once anything writes real bytes into it, its 4096 real bytes. So a
 * 1 GiB move of filled pages needs 1 MiB of host memory for contents, while a test that writes and reads
 * back data sees every byte. A torn copy (a DMA transfer stopped after k bytes) materialises the bytes of
 * the destination page, so the damage is visible byte for byte.
 */
export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
export const PMD_ORDER = 9;
/** Bytes mapped by one PMD entry (2 MiB on x86-64). */
export const PMD_SIZE = PAGE_SIZE << PMD_ORDER;
/** Order of a PMD-sized transparent huge page (include/linux/huge_mm.h). */
export const HPAGE_PMD_ORDER = PMD_ORDER;
export const HPAGE_PMD_NR = 1 << HPAGE_PMD_ORDER;
export const PUD_ORDER = 18;
export const HPAGE_PUD_NR = 1 << PUD_ORDER;
/** Largest buddy order (include/linux/mmzone.h MAX_PAGE_ORDER on x86-64). */
export const MAX_PAGE_ORDER = 10;

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

/**
 * What an invariant checker hears from device-side memory access (the DMA mapping layer calls it):
 * the pages a device writes, and the pages newly mapped for DMA. Null unless a checker is attached,
 * so a machine without one pays a null test per transfer.
 */
export interface DmaObserver {
  /** A device named `dev` writes [phys, phys + len). */
  deviceWrite(dev: string, phys: number, len: number): void;
  /** Pfns first..last were mapped for DMA (dma_map_*): from now on a device may write them. */
  dmaMapped(first: number, last: number): void;
}

export class PhysMem {
  readonly nodes: readonly MemNode[];
  /** The attached checker's device-access observer, or null. */
  dmaObserver: DmaObserver | null = null;
  /** Total page frames (pfn 0 .. totalPages-1). */
  readonly totalPages: number;
  /** Node id of each pfn. */
  readonly nodeOfPfn: Uint16Array;
  private readonly byId: Array<MemNode | undefined> = [];
  /** Fill pattern of each page without real bytes (0 = zeroes). */
  private readonly pattern: Uint32Array;
  /** 1 where the page's contents are real bytes in `bytes`. */
  private readonly hasBytes: Uint8Array;
  private readonly bytes = new Map<number, Uint8Array>();
  /** pageView()'s expansion of a pattern page, and the pattern it holds. */
  private readonly scratch = new Uint8Array(PAGE_SIZE);
  private readonly scratchWords = new Uint32Array(this.scratch.buffer);
  private scratchPattern = 0;
  /** Pages whose contents raise a machine check on read (hardware poison), 1 = poisoned. */
  readonly poisoned: Uint8Array;
  /** Node id of each CPU (cpu_to_node() without a search: every anonymous fault asks it). */
  private readonly nodeOfCpu: Int32Array;

  constructor(nodes: readonly MemNodeConfig[]) {
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
    this.nodeOfCpu = new Int32Array(cpu);
    for (const n of out) for (const c of n.cpus) this.nodeOfCpu[c] = n.id;
    this.totalPages = pfn;
    this.nodeOfPfn = new Uint16Array(pfn);
    for (const n of out) this.nodeOfPfn.fill(n.id, n.startPfn, n.startPfn + n.nrPages);
    this.pattern = new Uint32Array(pfn);
    this.hasBytes = new Uint8Array(pfn);
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
    if (Number.isInteger(cpu) && cpu >= 0 && cpu < this.nodeOfCpu.length) return this.nodeOfCpu[cpu]!;
    throw new RangeError(`no CPU ${cpu}`);
  }

  /** Pages currently holding real bytes (host memory use is 4 KiB each). */
  get pagesWithBytes(): number {
    return this.bytes.size;
  }

  /**
   * A page's content digest: equal digests mean equal contents (with 2^-32 collision odds). A byte page
   * whose words all equal w digests like a page filled with w, so the two representations agree.
   */
  digest(pfn: number): number {
    if (this.hasBytes[pfn] === 0) return patternDigest(this.pattern[pfn]!);
    const b = this.bytes.get(pfn)!;
    const w0 = b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24);
    let uniform = true;
    let h = 0x12345;
    for (let i = 0; i < PAGE_SIZE; i += 4) {
      const w = b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
      if (w !== w0) uniform = false;
      h = mix32(h ^ w ^ Math.imul(i, 0x9e3779b1));
    }
    return uniform ? patternDigest(w0 >>> 0) : h || 1;
  }

  /** Copy whole pages: mirrors copy_highpage() over a folio. */
  copyPages(dstPfn: number, srcPfn: number, nr: number): void {
    if (this.bytes.size === 0) {
      if (nr === 1) this.pattern[dstPfn] = this.pattern[srcPfn]!;
      else this.pattern.copyWithin(dstPfn, srcPfn, srcPfn + nr);
      return;
    }
    for (let i = 0; i < nr; i++) this.copyPage(dstPfn + i, srcPfn + i);
  }

  /** Zero whole pages (clear_highpage): a fresh anonymous page. */
  zeroPages(pfn: number, nr: number): void {
    this.fillPages(pfn, nr, 0);
  }

  /** Fill whole pages with a repeating little-endian 32-bit pattern: a recognisable whole-page write. */
  fillPages(pfn: number, nr: number, pattern: number): void {
    // One page (every 4 KiB fault zeroes one) is a plain store rather than a fill() builtin call.
    if (nr === 1) this.pattern[pfn] = pattern >>> 0;
    else this.pattern.fill(pattern >>> 0, pfn, pfn + nr);
    if (this.bytes.size > 0) for (let i = 0; i < nr; i++) this.dropBytes(pfn + i);
  }

  /**
   * Byte-granular copy between physical addresses, as a DMA engine does. Whole aligned pages copy
   * compactly; a partial page materialises real bytes so a torn transfer is visible.
   */
  copyPhys(dstAddr: number, srcAddr: number, len: number): void {
    this.checkRange(dstAddr, len, "copyPhys dst");
    this.checkRange(srcAddr, len, "copyPhys src");
    // Whole aligned pages that do not overlap (a DMA descriptor of a folio): copy_highpage() per page.
    const dp0 = Math.floor(dstAddr / PAGE_SIZE);
    const sp0 = Math.floor(srcAddr / PAGE_SIZE);
    if (dp0 * PAGE_SIZE === dstAddr && sp0 * PAGE_SIZE === srcAddr && (len & (PAGE_SIZE - 1)) === 0 && len <= 0x7fffffff &&
      (dstAddr + len <= srcAddr || srcAddr + len <= dstAddr)) {
      this.copyPages(dp0, sp0, len / PAGE_SIZE);
      return;
    }
    let d = dstAddr;
    let s = srcAddr;
    let left = len;
    while (left > 0) {
      // Page numbers by exact division (addresses past 2^31 are doubles, where % is a slow fmod call).
      const dp = Math.floor(d / PAGE_SIZE);
      const sp = Math.floor(s / PAGE_SIZE);
      const dOff = d - dp * PAGE_SIZE;
      const sOff = s - sp * PAGE_SIZE;
      const chunk = Math.min(left, PAGE_SIZE - dOff, PAGE_SIZE - sOff);
      if (chunk === PAGE_SIZE) this.copyPage(dp, sp);
      else this.materialise(dp).set(this.pageView(sp).subarray(sOff, sOff + chunk), dOff);
      d += chunk;
      s += chunk;
      left -= chunk;
    }
  }

  /** Write bytes at a physical address (a CPU store or a device write). */
  write(addr: number, data: Uint8Array): void {
    this.checkRange(addr, data.length, "write");
    let off = 0;
    while (off < data.length) {
      const a = addr + off;
      const pOff = a % PAGE_SIZE;
      const pfn = (a - pOff) / PAGE_SIZE;
      const chunk = Math.min(data.length - off, PAGE_SIZE - pOff);
      this.materialise(pfn).set(data.subarray(off, off + chunk), pOff);
      off += chunk;
    }
  }

  /** Read bytes at a physical address. */
  read(addr: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.readInto(addr, out, 0, len);
    return out;
  }

  /**
   * Read `len` bytes at a physical address into `out` from `outOff`, allocating nothing (a reader that
   * loads page after page into one buffer: move_pages reads its argument arrays so).
   */
  readInto(addr: number, out: Uint8Array, outOff: number, len: number): void {
    this.checkRange(addr, len, "read");
    if (!Number.isInteger(outOff) || outOff < 0 || outOff + len > out.length) {
      throw new RangeError(`PhysMem.readInto: ${len} bytes do not fit the buffer of ${out.length} at ${outOff}`);
    }
    let off = 0;
    while (off < len) {
      const a = addr + off;
      const pOff = a % PAGE_SIZE;
      const pfn = (a - pOff) / PAGE_SIZE;
      const chunk = Math.min(len - off, PAGE_SIZE - pOff);
      out.set(this.pageView(pfn).subarray(pOff, pOff + chunk), outOff + off);
      off += chunk;
    }
  }

  /**
   * A page's contents to read once, allocating nothing: its own bytes, or its pattern expanded into a
   * scratch page that the next call may overwrite (pageBytes() gives a copy to keep).
   */
  private pageView(pfn: number): Uint8Array {
    if (this.hasBytes[pfn] !== 0) return this.bytes.get(pfn)!;
    const pattern = this.pattern[pfn]!;
    if (this.scratchPattern !== pattern) {
      this.scratchWords.fill(pattern);
      this.scratchPattern = pattern;
    }
    return this.scratch;
  }

  private copyPage(dst: number, src: number): void {
    if (this.hasBytes[src] === 0) {
      this.pattern[dst] = this.pattern[src]!;
      if (this.hasBytes[dst] !== 0) this.dropBytes(dst);
    } else {
      this.materialise(dst).set(this.bytes.get(src)!);
    }
  }

  /** The page's bytes (a fresh expansion for a pattern page; do not keep). */
  private pageBytes(pfn: number): Uint8Array {
    const b = this.bytes.get(pfn);
    if (b !== undefined) return b;
    const out = new Uint8Array(PAGE_SIZE);
    const p = this.pattern[pfn]!;
    if (p !== 0) new Uint32Array(out.buffer).fill(p);
    return out;
  }

  private materialise(pfn: number): Uint8Array {
    let b = this.bytes.get(pfn);
    if (b === undefined) {
      b = this.pageBytes(pfn);
      this.bytes.set(pfn, b);
      this.hasBytes[pfn] = 1;
    }
    return b;
  }

  private dropBytes(pfn: number): void {
    if (this.hasBytes[pfn] === 0) return;
    this.bytes.delete(pfn);
    this.hasBytes[pfn] = 0;
  }

  private checkRange(addr: number, len: number, what: string): void {
    if (!Number.isInteger(addr) || !Number.isInteger(len) || addr < 0 || len < 0 || addr + len > this.totalPages * PAGE_SIZE) {
      throw new RangeError(`PhysMem.${what}: [${addr}, +${len}) is outside physical memory (${this.totalPages * PAGE_SIZE} bytes)`);
    }
  }
}

/** Digest of a page filled with a 32-bit pattern (0 for a zeroed page). */
export function patternDigest(pattern: number): number {
  return pattern === 0 ? 0 : mix32(pattern ^ 0x5bd1e995) || 1;
}
