/**
 * @mmemu/sdxi — SNIA SDXI (the proposed drivers/dma/sdxi): the function model and the Linux
 * dmaengine provider.
 */
export {
  SDXI_MMIO_CTL0, SDXI_MMIO_CTL2, SDXI_MMIO_STS0, SDXI_MMIO_CAP0, SDXI_MMIO_CAP1, SDXI_MMIO_VERSION, SDXI_MMIO_CXT_L2,
  SDXI_MMIO_ERR_CTL, SDXI_MMIO_ERR_STS, SDXI_MMIO_ERR_CFG, SDXI_MMIO_ERR_WRT, SDXI_MMIO_ERR_RD,
  SDXI_GSR_RESET, SDXI_GSR_STOP_SF, SDXI_GSR_STOP_HD, SDXI_GSR_ACTIVE, SDXI_GSV_STOP, SDXI_GSV_INIT, SDXI_GSV_ACTIVE,
  SDXI_GSV_STOPG_SF, SDXI_GSV_STOPG_HD, SDXI_GSV_ERROR, SDXI_CXT_STOP_SW, SDXI_CXT_RUN, SDXI_CXT_ERR_FN,
  SDXI_DESC_SIZE, SDXI_RING_ENTRIES, SDXI_CST_BLK_SIZE, SDXI_MAX_CXT, SDXI_DSC_VL, SDXI_DSC_FE, SDXI_CST_ER,
  SDXI_GRP_DMAB, SDXI_GRP_ADMIN, SDXI_GRP_INTR, SDXI_DMAB_NOP, SDXI_DMAB_COPY, SDXI_STEP_DESC_FETCH, SDXI_STEP_DATA,
  encodeSdxiCopy, encodeSdxiGeneric, sdxiSetValid, sdxiOpcode, rd64, wr64,
} from "./sdxi-hw.js";
export { SDXI_PARAMS, SDXI_SECTION, SDXI_DEFAULT_SWITCHES, sdxiParams, sdxiSwitches } from "./sdxi-params.js";
export { SdxiFunction, sdxiFaults } from "./sdxi-fn.js";
export { SdxiDevice, SdxiCxt, SdxiDmaDevice, SdxiChan, SdxiDesc } from "./sdxi-dma.js";
export { createSdxiFunctions } from "./sdxi-pci.js";

export type { SdxiParams, SdxiParamOverrides, SdxiSwitches } from "./sdxi-params.js";
export type { SdxiFaults, SdxiFnStats, SdxiFnOptions } from "./sdxi-fn.js";
export type { SdxiProbeOptions, SdxiEngine } from "./sdxi-pci.js";
