import { Cost, EINVAL, type KernelCore } from "@mmemu/kernel";
import { PAGE_SIZE } from "@mmemu/mm-core";
import type { Device } from "./dma-mapping.js";

/**
 * Scatter-gather tables after include/linux/scatterlist.h (struct sg_table, struct scatterlist).
 * Entries live in parallel typed arrays instead of one object each, so a 1 GiB batch of 4 KiB folios
 * (262 144 entries per side) costs a few typed arrays, and a table can be refilled without allocation.
 * `origNents` entries describe CPU pages; after dma_map_sgtable() the first `nents` entries' DMA
 * address/length hold the mapped segments, which an IOMMU may have merged (nents <= origNents).
 */
export class SgTable {
  /** Entries the table describes (orig_nents). */
  origNents = 0;
  /** Mapped DMA segments (nents), 0 while unmapped. */
  nents = 0;
  /** Page frame of each entry (page frames stay below 2^31). */
  pfn: Int32Array = new Int32Array(0);
  /** Byte offset into the first page of each entry. */
  offset: Int32Array = new Int32Array(0);
  /** Length in bytes of each entry. */
  length: Float64Array = new Float64Array(0);
  /** sg_dma_address() of each mapped segment. */
  dmaAddress: Float64Array = new Float64Array(0);
  /** sg_dma_len() of each mapped segment. */
  dmaLength: Float64Array = new Float64Array(0);
  /** Device and direction of the live mapping, if any. */
  mappedBy: Device | null = null;
  mappedDir = -1;
  /** Meter for DMA_SG_ENTRY (allocating and filling entries); null charges nothing. */
  readonly core: KernelCore | null;

  constructor(core: KernelCore | null = null) {
    this.core = core;
  }
}

/** Largest table this emulator accepts (one entry per 4 KiB page of 16 GiB). */
export const SG_MAX_ENTRIES = 1 << 22;

/**
 * Mirrors sg_alloc_table(): size the table for `nents` entries (reusing its arrays when they are big
 * enough). Returns 0, or -EINVAL for a count outside 1..SG_MAX_ENTRIES or a table still mapped.
 */
export function sgAllocTable(sgt: SgTable, nents: number): number {
  if (!Number.isInteger(nents) || nents < 1 || nents > SG_MAX_ENTRIES) return -EINVAL;
  if (sgt.mappedBy !== null) return -EINVAL;
  if (sgt.pfn.length < nents) {
    sgt.pfn = new Int32Array(nents);
    sgt.offset = new Int32Array(nents);
    sgt.length = new Float64Array(nents);
    sgt.dmaAddress = new Float64Array(nents);
    sgt.dmaLength = new Float64Array(nents);
  }
  sgt.origNents = nents;
  sgt.nents = 0;
  sgt.core?.cost.charge(Cost.DMA_SG_ENTRY, nents);
  return 0;
}

/** Mirrors sg_free_table(). A mapped table must be unmapped first. */
export function sgFreeTable(sgt: SgTable): void {
  if (sgt.mappedBy !== null) throw new Error(`sg_free_table: table is still mapped for ${sgt.mappedBy.name}; dma_unmap_sgtable() first`);
  sgt.origNents = 0;
  sgt.nents = 0;
}

/** Mirrors sg_set_page(): entry `i` covers `len` bytes from `offset` into page `pfn`. */
export function sgSetPage(sgt: SgTable, i: number, pfn: number, len: number, offset: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= sgt.origNents) throw new RangeError(`sg_set_page: entry ${i} is outside the table (0..${sgt.origNents - 1})`);
  if (!Number.isInteger(pfn) || pfn < 0 || pfn > 0x7fffffff) throw new RangeError(`sg_set_page: pfn must be an integer in 0..2^31-1, got ${pfn}`);
  if (!Number.isInteger(len) || len < 1 || len > 0xffffffff) throw new RangeError(`sg_set_page: length must be an integer in 1..2^32-1 bytes, got ${len}`);
  if (!Number.isInteger(offset) || offset < 0 || offset >= PAGE_SIZE) throw new RangeError(`sg_set_page: offset must be an integer in 0..${PAGE_SIZE - 1}, got ${offset}`);
  sgt.pfn[i] = pfn;
  sgt.length[i] = len;
  sgt.offset[i] = offset;
}

/** Mirrors sg_phys(): the physical address of entry `i`. */
export function sgPhys(sgt: SgTable, i: number): number {
  return sgt.pfn[i]! * PAGE_SIZE + sgt.offset[i]!;
}

/** Mirrors sg_dma_address(). */
export function sgDmaAddress(sgt: SgTable, i: number): number {
  return sgt.dmaAddress[i]!;
}

/** Mirrors sg_dma_len(). */
export function sgDmaLen(sgt: SgTable, i: number): number {
  return sgt.dmaLength[i]!;
}
