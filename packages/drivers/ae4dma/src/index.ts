/**
 * @mmemu/ae4dma — AMD AE4DMA (drivers/dma/amd/ae4dma): the multi-queue device model and its dmaengine
 * glue, written against the public driver API only (@mmemu/kernel and @mmemu/dmaengine).
 */
export {
  MAX_AE4_HW_QUEUES, AE4_Q_LEN, AE4_DESC_SIZE, AE4_Q_SZ, AE4_COMMON_CONFIG_OFF, AE4_Q_CONTROL_OFF, AE4_Q_INTR_EN_OFF,
  AE4_MAX_IDX_OFF, AE4_RD_IDX_OFF, AE4_WR_IDX_OFF, AE4_INTR_STS_OFF, AE4_Q_BASE_L_OFF, AE4_Q_BASE_H_OFF, AE4_Q_RUN,
  AE4_INTR_COMPLETION, AE4_DESC_DW0_VAL, AE4_DESC_SUBMITTED, AE4_DESC_VALIDATED, AE4_DESC_PROCESSED,
  AE4_DESC_COMPLETED, AE4_DESC_ERROR, AE4_ERR_INVALID_HEADER, AE4_ERR_INVALID_STATUS, AE4_ERR_LEN_ALIGN,
  AE4_ERR_SRC_ALIGN, AE4_ERR_DST_ALIGN, AE4_ERR_INVALID_DESC, AE4_ERR_PTE_SRC, AE4_ERR_PTE_DST,
  ae4ErrorName, ae4ErrorIsRead, encodeAe4Desc, decodeAe4Desc, writeBackAe4Status,
} from "./ae4dma-regs.js";
export { AE4DMA_PARAMS, AE4DMA_SECTION, ae4dmaParams } from "./ae4dma-params.js";
export { Ae4dmaFunction, ae4dmaFaults } from "./ae4dma-hw.js";
export { Ae4DmaDevice, Ae4DmaChan, Ae4DmaDesc } from "./ae4dma-dmaengine.js";
export { createAe4dmaEngines } from "./ae4dma-pci.js";

export type { Ae4Desc } from "./ae4dma-regs.js";
export type { Ae4dmaParams, Ae4dmaParamOverrides } from "./ae4dma-params.js";
export type { Ae4dmaHwStats, Ae4dmaFaults, Ae4dmaHwOptions } from "./ae4dma-hw.js";
export type { Ae4GlueStats, Ae4GlueSwitches } from "./ae4dma-dmaengine.js";
export type { Ae4dmaProbeOptions, Ae4dmaEngine } from "./ae4dma-pci.js";
