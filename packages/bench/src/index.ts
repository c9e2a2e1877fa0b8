export { runPoint, preparePoint, movePagesCall, FOLIO_SIZES, FOLIO_SIZE_NAMES, folioBytes, GiB } from "./workload.js";
export { firstFolioLatencies, probeFirstFolio, median, BATCH_START_TP, FOLIO_MOVED_TP } from "./first-folio.js";
export type { PointSpec, PointResult, WorkloadOptions, FolioSizeName } from "./workload.js";
