/**
 * @mmemu/dmaengine — the dmaengine core of include/linux/dmaengine.h and drivers/dma/dmaengine.c,
 * the virt-dma helpers of drivers/dma/virt-dma.[ch], scatterlists, the DMA mapping API (with the
 * dma-iommu glue onto the platform IOMMU of @mmemu/platform), and a dmatest-like client.
 */
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
} from "./dmaengine.js";
export {
  DMA_RESULT_NOERROR, dmaCookieInit, dmaCookieAssign, dmaCookieComplete, dmaCookieStatus, dmaSetResidue,
  dmaengineDescGetCallbackInvoke, dmaRunDependencies, dmaCookieIsComplete,
} from "./cookie.js";
export {
  ListHead, listEmpty, listAddTail, listDel, listSpliceTailInit, listCount,
  VirtDmaDesc, VirtDmaChan, DescCache, vchanInit, vchanTxSubmit, vchanTxPrep, vchanIssuePending, vchanNextDesc,
  vchanCookieComplete, vchanTerminateVdesc, vchanVdescFini, vchanGetAllDescriptors, vchanDmaDescFreeList,
  vchanFreeChanResources, vchanSynchronize,
} from "./virt-dma.js";
export { SgTable, SG_MAX_ENTRIES, sgAllocTable, sgFreeTable, sgSetPage, sgPhys, sgDmaAddress, sgDmaLen } from "./scatterlist.js";
export {
  DMA_BIDIRECTIONAL, DMA_TO_DEVICE, DMA_FROM_DEVICE, DMA_NONE, DMA_ATTR_WEAK_ORDERING, DMA_ATTR_WRITE_COMBINE,
  DMA_ATTR_NO_KERNEL_MAPPING, DMA_ATTR_SKIP_CPU_SYNC, DMA_MAPPING_ERROR,
  Device, DmaMapService, dmaMapSgtable, dmaUnmapSgtable, dmaMapPage, dmaUnmapPage, dmaMappingError,
  dmaSetMaskAndCoherent, dmaGetMaxSegSize, dmaSetMaxSegSize, dmaAllocCoherent, dmaFreeCoherent,
} from "./dma-mapping.js";
export { DmaEngine } from "./registry.js";
export { MmioMeter } from "./mmio.js";
export { DMAENGINE_PARAMS, DMAENGINE_SECTION } from "./params.js";
export { SoftDmaDevice } from "./soft-dma.js";
export { dmatestRun, dmatestEngine, dmatestBuild, dmatestModuleBuild, formatDmatestReport } from "./dmatest.js";
export { DmaengineDebug } from "./dma-debug.js";
export { dmaEngineModuleProblems } from "./engine-module.js";

export type {
  DmaengineResult, DmaTxState, DmaAsyncTxCallback, DmaAsyncTxCallbackResult, CallbackContext, ExecContext,
} from "./dmaengine.js";
export type { ListNode } from "./virt-dma.js";
export type { DeviceOptions, DmaCoherent, DmaMapStats } from "./dma-mapping.js";
export type { DmaEngineOptions, DmaFilterFn, DmaengineStats } from "./registry.js";
export type { SoftDmaOptions } from "./soft-dma.js";
export type { DmatestParams, DmatestResult, DmatestCase, DmatestEngineOptions, DmatestEngineReport, DmatestMachine, DmatestBuild } from "./dmatest.js";
export type { DmaEngineModule, DmaEngineProbeContext } from "./engine-module.js";
