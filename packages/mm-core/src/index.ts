/**
 * @mmemu/mm-core — physical memory per NUMA node, folios, page tables, VMAs, rmap, TLBs, LRU
 * isolation and migrate_pages()/migrate_pages_batch() (mm/migrate.c).
 */
export {
  PhysMem, mix32, patternDigest,
  PAGE_SHIFT, PAGE_SIZE, PMD_ORDER, PMD_SIZE, HPAGE_PMD_ORDER, HPAGE_PMD_NR, PUD_ORDER, HPAGE_PUD_NR, MAX_PAGE_ORDER, MAX_NUMNODES,
} from "./physmem.js";
export { PageAllocator } from "./page-alloc.js";
export {
  Mempolicy, MPOL_DEFAULT, MPOL_PREFERRED, MPOL_BIND, MPOL_INTERLEAVE, MPOL_LOCAL, MPOL_PREFERRED_MANY,
  MPOL_WEIGHTED_INTERLEAVE, MPOL_MODE_NAMES, MPOL_F_STATIC_NODES, MPOL_F_RELATIVE_NODES, MPOL_F_NUMA_BALANCING,
  MPOL_MODE_FLAGS, NO_INTERLEAVE_INDEX, allocPagesMpol, getVmaPolicy, hugetlbAllocMpol, interleaveNid, interleaveNodes,
  vmaAllocFolio, vmaInterleaveIndex, mpolToStr, nodelistToStr,
} from "./mempolicy.js";
export { nodeReadMeminfo, nodeHugetlbCounters } from "./node-meminfo.js";
export {
  showNumaMap, showNumaMaps, smapsFields, smapsLines, pagemapEntry, PM_PFRAME_MASK, PM_SOFT_DIRTY, PM_MMAP_EXCLUSIVE, PM_UFFD_WP, PM_FILE, PM_SWAP,
  PM_PRESENT,
} from "./task-mmu.js";
export {
  Zone, Watermarks, ZONE_DMA, ZONE_DMA32, ZONE_NORMAL, ZONE_MOVABLE, MAX_NR_ZONES, ZONE_NAMES,
  WMARK_MIN, WMARK_LOW, WMARK_HIGH, WMARK_PROMO, DEFAULT_LOWMEM_RESERVE_RATIO, DEFAULT_WATERMARK_SCALE_FACTOR,
  calculateMinFreeKbytes, recommendedMinFreeKbytes, totalreservePages,
} from "./zone.js";
export {
  MemMap, PG, PG_MIGRATE_FLAGS, FOLIO_WAS_MAPPED, FOLIO_WAS_MLOCKED, FOLIO_ALREADY_COPIED, FOLIO_CONTENT_COPIED,
} from "./folio.js";
export { FolioList } from "./folio-list.js";
export {
  MmStruct, Vma, AnonVma, AddressSpace, PTE, VM, type SpecialMapping,
  PROT_NONE, PROT_READ, PROT_WRITE, PROT_EXEC,
  MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS, MAP_LOCKED, MAP_POPULATE, MAP_HUGETLB,
} from "./mm-types.js";
export { Machine, Task } from "./machine.js";
export { MemoryManager } from "./memory-manager.js";
export { VM_FAULT } from "./mm-types.js";
export { filePattern } from "./filemap.js";
export { alignUp, alignDown, isAligned } from "./align.js";
export { SwapDevice } from "./swap.js";
export { Tlbs, TlbUnmapBatch, TLB_ENTRIES, tlbFlushMmRange } from "./tlb.js";
export { rmapVmas, tryToMigrate, removeMigrationPtes, tryToUnmapFlush, folioMapcountByMm } from "./rmap.js";
export { trySplitFolio } from "./split.js";
export { splitVmaAt } from "./vma.js";
export {
  MIGRATE_ASYNC, MIGRATE_SYNC_LIGHT, MIGRATE_SYNC, MIGRATE_MODE_NAMES, MR, MR_TYPES, MIGRATE_REASON_NAMES,
  NR_MAX_MIGRATE_PAGES_RETRY, NR_MAX_MIGRATE_ASYNC_RETRY, NR_MAX_MIGRATE_SYNC_RETRY,
  folioTrylock, folioLock, folioUnlock, folioWaitUnlock, folioExpectedRefCount,
} from "./migrate-util.js";
export {
  migratePages, allocMigrationTarget, isolateFolioToList, folioIsolateHugetlb, putbackMovablePages,
  foliosMcCopy, folioMcCopy, newMigratePagesStats, lastMigrateStats,
} from "./migrate.js";
export { defineMigrateTracepoints, TLB_FLUSH_REASON, x86PteHex } from "./trace.js";
export { formatVmstat, vmstatCounters } from "./vmstat.js";

export type { MemNode, MemNodeConfig, DmaObserver } from "./physmem.js";
export type { MachineOptions, MigrationSettings, VmEvents, MachineHooks, OffloadHook, MigrationObserver } from "./machine.js";
export type { MmapArgs } from "./mmap.js";
export { TASK_SIZE } from "./mmap.js";
export type { ThpPolicy } from "./huge-memory.js";
export type { MigrateMode } from "./migrate-util.js";
export type { MigratePagesStats, NewFolioFn, FreeFolioFn, MigrationTargetControl } from "./migrate.js";
export type { MigrateTracepoints, TlbFlushReason } from "./trace.js";
export { InvariantChecker, InvariantViolation } from "./checker.js";
export { hugeZeroFolio, isHugeZeroPmd } from "./huge-zero.js";
export { isPrivateHugetlb } from "./hugetlb-fault.js";
export { ksmScan } from "./ksm.js";
export { mapDeviceCoherentPage, makeDevicePrivateEntry } from "./memremap.js";
export { mmapPfnRange } from "./pfnmap.js";
export { mapVdso, VDSO_TEXT_PAGES, VVAR_PAGES } from "./special-mapping.js";
export { setupStack, STACK_TOP } from "./stack.js";
export { madvisePageout } from "./pageout.js";
export type { CheckerOptions, BatchAuditor } from "./checker.js";
export type { SmapsFields } from "./task-mmu.js";
export type { KsmScanResult } from "./ksm.js";
