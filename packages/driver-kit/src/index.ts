/**
 * @mmemu/driver-kit — the one package a plug-in imports: the stable API for writing a migrator or a
 * DMA engine model outside the repository.
 *
 * - plug-in module shapes: `defineMigrator`, `defineEngine` and their contexts;
 * - parameter declaration: `defineParamSection` (unit, default, range, source), so a device's own
 *   parameters appear in `mmemu profile show`, take `--set name.param=value` and can be calibrated;
 * - the migrator contract (mm/migrate_copy_offload.c) and module references, kernel log, kstrto*;
 * - the dmaengine provider and client API, virt-dma, scatterlists, DMA mapping (dma-iommu on top of
 *   the IOMMU model), MMIO costs;
 * - the kernel core: the fabric (device-side copies move bytes in virtual time), completions, fault
 *   points, tracepoints, errno, costs;
 * - the memory a copy touches: folios and their nodes (mm-core).
 */
export { defineEngine, defineMigrator, moduleParamValues, offloadingAttribute, registerDriverKitResolution } from "./plugin.js";
export type {
  ModuleParam, ModuleParams, ModuleParamValues, EngineModule, EngineProbeContext, MachineContext, MigratorContext, MigratorInstance, MigratorModule, PluginModule,
} from "./plugin.js";

// ---- parameters, the kernel core, the fabric ----------------------------------------------------
export { defineParamSection, paramDefaults, checkParams, sectionValues } from "@mmemu/kernel";
export type { ParamSection, ParamSpec, ParamTable, ParamUnit, ParamValues } from "@mmemu/kernel";
export { Completion, WaitQueue, Tracepoint, FaultPoint, Cost, KernelCore, PrngStream, TRACE_CTX_DEVICE, TRACE_CTX_TASK } from "@mmemu/kernel";
export {
  errnoName, EPERM, ENOENT, EINTR, EIO, ENXIO, EAGAIN, ENOMEM, EACCES, EFAULT, EBUSY, EEXIST, ENODEV, EINVAL,
  ENOSPC, ERANGE, ENOSYS, ENODATA, ETIME, EOVERFLOW, EOPNOTSUPP, ETIMEDOUT, ECANCELED,
} from "@mmemu/kernel";
export type { CostKind } from "@mmemu/kernel";

// ---- the platform: the fabric (bytes in virtual time) and the IOMMU (device-side DMA) ------------
export { Fabric, FABRIC_SECTION, Iommu, IOMMU_HUGE_PAGE } from "@mmemu/platform";
export type { FabricServerStats, IommuMode, IommuStats, DmaMaster, CoherentBuffer } from "@mmemu/platform";

// ---- memory -------------------------------------------------------------------------------------
export { PAGE_SHIFT, PAGE_SIZE, PMD_ORDER, HPAGE_PMD_NR, FOLIO_CONTENT_COPIED, PhysMem } from "@mmemu/mm-core";
export type { Machine } from "@mmemu/mm-core";
export type { HardwareProfile } from "@mmemu/timing";

// ---- the migrator contract (offload-api) ----------------------------------------------------------
export {
  MIGRATOR_NAME_LEN, MigrateCopyOffload, OffloadContractViolation,
  migrateOffloadInit, migrateOffloadOf, migrateOffloadSetSeries,
  migrateOffloadRegister, migrateOffloadUnregister, migrateOffloadStart, migrateOffloadStop,
  migrateOffloadSetReasonMask, migrateShouldOffload, migrateOffloadBatchCopy, migrateSetNrMaxBatchedMigration,
} from "@mmemu/offload-api";
export {
  MIGRATE_OFFLOAD_REASONS_ALLOWED, MIGRATE_OFFLOAD_V5_REASONS,
  migrateOffloadReasonMaskParse, migrateOffloadReasonMaskFormat,
} from "@mmemu/offload-api";
export { Module, MODULE_NAME_LEN, tryModuleGet, modulePut, moduleRefcount, moduleBeginUnload } from "@mmemu/offload-api";
export { SrcuStruct } from "@mmemu/offload-api";
export {
  KernelLog, RatelimitState, kernelLog, formatLogLine,
  KERN_EMERG, KERN_ALERT, KERN_CRIT, KERN_ERR, KERN_WARNING, KERN_NOTICE, KERN_INFO, KERN_DEBUG, KERN_LEVEL_NAMES,
  DEFAULT_RATELIMIT_INTERVAL, DEFAULT_RATELIMIT_BURST, LOG_BUF_LINES,
} from "@mmemu/offload-api";
export { kstrtoul, kstrtouint, kstrtoint, kstrtobool } from "@mmemu/offload-api";

export type { Migrator, OffloadCopyFn, OffloadSeries, MigrateOffloadStats } from "@mmemu/offload-api";
export type { ModuleState } from "@mmemu/offload-api";
export type { LogLine } from "@mmemu/offload-api";

// ---- dmaengine: provider and client API, virt-dma, scatterlists, DMA mapping ---------------------
export {
  DMA_MEMCPY, DMA_MEMCPY_SG, DMA_XOR, DMA_PQ, DMA_XOR_VAL, DMA_PQ_VAL, DMA_MEMSET, DMA_MEMSET_SG, DMA_INTERRUPT,
  DMA_PRIVATE, DMA_ASYNC_TX, DMA_SLAVE, DMA_CYCLIC, DMA_INTERLEAVE, DMA_COMPLETION_NO_ORDER, DMA_REPEAT,
  DMA_LOAD_EOT, DMA_TX_TYPE_END, DMA_TX_TYPE_NAMES,
  DMA_PREP_INTERRUPT, DMA_CTRL_ACK, DMA_PREP_PQ_DISABLE_P, DMA_PREP_PQ_DISABLE_Q, DMA_PREP_CONTINUE, DMA_PREP_FENCE,
  DMA_CTRL_REUSE, DMA_PREP_CMD, DMA_PREP_REPEAT, DMA_PREP_LOAD_EOT,
  DMA_COMPLETE, DMA_IN_PROGRESS, DMA_PAUSED, DMA_ERROR, DMA_OUT_OF_ORDER, DMA_STATUS_NAMES,
  DMA_TRANS_NOERROR, DMA_TRANS_READ_FAILED, DMA_TRANS_WRITE_FAILED, DMA_TRANS_ABORTED, DMA_TRANS_RESULT_NAMES,
  DMA_RESIDUE_GRANULARITY_DESCRIPTOR, DMA_RESIDUE_GRANULARITY_SEGMENT, DMA_RESIDUE_GRANULARITY_BURST,
  DMA_MIN_COOKIE, DMA_MAX_COOKIE, EPROBE_DEFER,
  DmaCapMask, dmaCapZero, dmaCapSet, dmaCapClear, dmaHasCap, dmaCapMaskOf, dmaCapNames,
  DmaAsyncTxDescriptor, DmaChan, DmaDevice,
  dmaenginePrepDmaMemcpy, dmaenginePrepDmaMemcpySg, dmaenginePrepDmaInterrupt, dmaengineSubmit, dmaSubmitError,
  dmaAsyncIssuePending, dmaengineTxStatus, dmaAsyncIsComplete, dmaAsyncIsTxComplete, dmaengineTerminateAsync,
  dmaengineSynchronize, dmaengineTerminateSync, dmaenginePause, dmaengineResume, dmaengineGetDmaDevice, dmaSyncWait,
  isErrPtr,
} from "@mmemu/dmaengine";
export {
  DMA_RESULT_NOERROR, dmaCookieInit, dmaCookieAssign, dmaCookieComplete, dmaCookieStatus, dmaSetResidue,
  dmaengineDescGetCallbackInvoke, dmaRunDependencies, dmaCookieIsComplete,
} from "@mmemu/dmaengine";
export {
  ListHead, listEmpty, listAddTail, listDel, listSpliceTailInit, listCount,
  VirtDmaDesc, VirtDmaChan, DescCache, vchanInit, vchanTxSubmit, vchanTxPrep, vchanIssuePending, vchanNextDesc,
  vchanCookieComplete, vchanTerminateVdesc, vchanVdescFini, vchanGetAllDescriptors, vchanDmaDescFreeList,
  vchanFreeChanResources, vchanSynchronize,
} from "@mmemu/dmaengine";
export { SgTable, SG_MAX_ENTRIES, sgAllocTable, sgFreeTable, sgSetPage, sgPhys, sgDmaAddress, sgDmaLen } from "@mmemu/dmaengine";
export {
  DMA_BIDIRECTIONAL, DMA_TO_DEVICE, DMA_FROM_DEVICE, DMA_NONE, DMA_ATTR_WEAK_ORDERING, DMA_ATTR_WRITE_COMBINE,
  DMA_ATTR_NO_KERNEL_MAPPING, DMA_ATTR_SKIP_CPU_SYNC, DMA_MAPPING_ERROR,
  Device, DmaMapService, dmaMapSgtable, dmaUnmapSgtable, dmaMapPage, dmaUnmapPage, dmaMappingError,
  dmaSetMaskAndCoherent, dmaGetMaxSegSize, dmaSetMaxSegSize, dmaAllocCoherent, dmaFreeCoherent,
} from "@mmemu/dmaengine";
export { DmaEngine } from "@mmemu/dmaengine";
export { MmioMeter } from "@mmemu/dmaengine";
export { DMAENGINE_PARAMS, DMAENGINE_SECTION } from "@mmemu/dmaengine";
export { SoftDmaDevice } from "@mmemu/dmaengine";
export { dmatestRun } from "@mmemu/dmaengine";

export type {
  DmaengineResult, DmaTxState, DmaAsyncTxCallback, DmaAsyncTxCallbackResult, CallbackContext, ExecContext,
} from "@mmemu/dmaengine";
export type { ListNode } from "@mmemu/dmaengine";
export type { DeviceOptions, DmaCoherent, DmaMapStats } from "@mmemu/dmaengine";
export type { DmaEngineOptions, DmaFilterFn, DmaengineStats } from "@mmemu/dmaengine";
export type { SoftDmaOptions } from "@mmemu/dmaengine";
export type { DmatestParams, DmatestResult } from "@mmemu/dmaengine";
