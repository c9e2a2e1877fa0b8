/**
 * @mmemu/dcbm — the DMA Core Batch Migrator of the page-migration offload series
 * (drivers/migrate_offload/dcbm/dcbm.c): batch folio copies over dmaengine memcpy channels, with the
 * series' sysfs knobs, its CPU fallback on every error, and switches for the review's corrections.
 */
export { Dcbm, MAX_DMA_CHANNELS, DCBM_RING_LIMIT, DCBM_WAIT_TIMEOUT_NS } from "./dcbm.js";

export type { DcbmOptions, DcbmStats, DcbmVariant, DcbmAttr } from "./dcbm.js";
