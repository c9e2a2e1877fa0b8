/**
 * @mmemu/mm-core — physical memory per NUMA node, folios, page tables, VMAs, rmap, TLBs, LRU
 * isolation and migrate_pages()/migrate_pages_batch() (mm/migrate.c).
 */
export {
  PhysMem, mix32, patternDigest,
  PAGE_SHIFT, PAGE_SIZE, PMD_ORDER, HPAGE_PMD_NR, PUD_ORDER, HPAGE_PUD_NR, MAX_PAGE_ORDER, MAX_NUMNODES,
} from "./physmem.js";
export type { MemNode, MemNodeConfig } from "./physmem.js";
