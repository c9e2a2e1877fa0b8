export { runPoint, preparePoint, movePages, readStatus, FOLIO_SIZES, FOLIO_SIZE_NAMES, folioBytes, GiB } from "./workload.js";
export { firstFolioLatencies, probeFirstFolio, median, BATCH_START_TP, FOLIO_MOVED_TP } from "./first-folio.js";
export type { PointSpec, PointResult, WorkloadOptions, FolioSizeName, PreparedPoint } from "./workload.js";
export { PointPool } from "./pool.js";
export { calibrate, evaluateCells, objectiveOf, isDmaParam } from "./calibrate.js";
export { readMeasurements, measurementCells, relError, MeasurementsSchema } from "./measurements.js";
export {
  seedPoints, cellSpec, scaledSpec, specKey, cellValue, throughputSpec, vanillaLatencySpec, offloadSpec,
  SEED_CHANNELS, SEED_VANILLA_N_4K, SEED_VANILLA_N_2M, SEED_OFFLOAD_N, SEED_OFFLOAD_CHANNELS,
} from "./points.js";
export type { CalibrateOptions, CalibrateResult, CellEval } from "./calibrate.js";
export type { Measurements, Cell, TableName } from "./measurements.js";
export type { ResultRecord, SeedPoint } from "./points.js";
export type { PoolResult } from "./pool.js";
export { runSeed, fidelity, formatSeedTables, BENCH_VERSION } from "./seed.js";
export { writeSeedReport, seedCharts } from "./report.js";
export { runSpeed, SPEED_POINTS } from "./speed.js";
export { predictRows, runPredict, formatPredict, PREDICT_VANILLA_SIZES, PREDICT_OFFLOAD_SIZES } from "./predict.js";
export type { PredictRow } from "./predict.js";
export { benchCommand } from "./commands/bench.js";
export { componentOptions, componentsFrom } from "./commands/components.js";
export type { ComponentFlags } from "./commands/components.js";
export { calibrateCommand } from "./commands/calibrate-cmd.js";
export { tuneBatchCommand, recommendBatch } from "./commands/tune-batch.js";
export { profileCommand, loadProfileWith, parseSets, paramRows, formatParamsMarkdown, formatParamsText } from "./commands/profile.js";
export type { ParamRow } from "./commands/profile.js";
export type { SeedOutput, SeedRun } from "./seed.js";
export type { TuneRow } from "./commands/tune-batch.js";
export { EXIT, UsageError, runCli, outputPath, writeFileAtomic, writeFilesAtomic, AtomicStream, intOption } from "./output.js";
export { seedOption } from "./commands/bench.js";
export { formatDuration } from "./calibrate.js";
