/**
 * @mmemu/ptdma — AMD PTDMA (drivers/dma/amd/ptdma): the device model and the Linux driver
 * (ptdma-dev.c, ptdma-dmaengine.c, ptdma-pci.c) with switchable quirks.
 */
export {
  CMD_QUEUE_PRIO_OFFSET, CMD_REQID_CONFIG_OFFSET, CMD_TIMEOUT_OFFSET, CMD_PT_VERSION, CMD_CONFIG_OFFSET,
  CMD_CLK_GATE_CTL_OFFSET, CMD_Q_STATUS_INCR, CMD_Q_CONTROL_BASE, CMD_Q_TAIL_LO_BASE, CMD_Q_HEAD_LO_BASE,
  CMD_Q_INT_ENABLE_BASE, CMD_Q_INTERRUPT_STATUS_BASE, CMD_Q_STATUS_BASE, CMD_Q_INT_STATUS_BASE, CMD_Q_ABORT_BASE,
  CMD_Q_RUN, CMD_Q_HALT, CMD_Q_SIZE_SHIFT, CMD_Q_LEN, Q_DESC_SIZE, INT_COMPLETION, INT_ERROR, INT_QUEUE_STOPPED,
  INT_EMPTY_QUEUE, SUPPORTED_INTERRUPTS, CMD_DESC_DW0_VAL, PT_ENGINE_PASSTHRU,
  PT_ERR_ILLEGAL_ENGINE, PT_ERR_ILLEGAL_BUFFER_LENGTH, PT_ERR_IDMA0_AXI_SLVERR, PT_ERR_IDMA0_AXI_DECERR,
  PT_ERR_ODMA0_AXI_SLVERR, PT_ERR_ODMA0_AXI_DECERR,
  cmdQError, qSizeVal, ptErrorName, ptErrorIsRead, ptErrorIsWrite, encodePtdmaDesc, encodePtdmaDescWords, decodePtdmaDesc,
} from "./ptdma-regs.js";
export { PTDMA_PARAMS, PTDMA_SECTION, PTDMA_DEFAULT_SWITCHES, ptdmaParams, ptdmaSwitches } from "./ptdma-params.js";
export { PtdmaFunction, ptdmaFaults } from "./ptdma-hw.js";
export { PtDevice } from "./ptdma-dev.js";
export { PtDmaDevice, PtDmaChan, PtDmaDesc } from "./ptdma-dmaengine.js";
export { createPtdmaEngines, ZEN3_2S_PTDMA_PLACEMENTS } from "./ptdma-pci.js";

export type { PtdmaDesc } from "./ptdma-regs.js";
export type { PtdmaParams, PtdmaParamOverrides, PtdmaSwitches } from "./ptdma-params.js";
export type { PtdmaHwStats, PtdmaFaults, PtdmaHwOptions } from "./ptdma-hw.js";
export type { PtCmdQueue, PtDeviceStats } from "./ptdma-dev.js";
export type { PtdmaPlacement, PtdmaProbeOptions, PtdmaEngine } from "./ptdma-pci.js";
