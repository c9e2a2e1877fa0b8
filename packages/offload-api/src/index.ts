/**
 * @mmemu/offload-api — the copy-offload registration core of the page-migration offload series
 * (mm/migrate_copy_offload.c, include/linux/migrate_copy_offload.h): struct migrator, register and
 * unregister with the series' rules, SRCU protection of copies in flight, V4/V5/V6 eligibility and
 * copy semantics, plus the small kernel facilities migrators need (module references, the kernel
 * log with ratelimiting, kstrto* parsing for sysfs-style knobs).
 */
export {
  MIGRATOR_NAME_LEN, MIGRATE_OFFLOAD_DESIGN_FALLBACKS, MigrateCopyOffload, OffloadContractViolation,
  migrateOffloadInit, migrateOffloadOf, migrateOffloadSetSeries,
  migrateOffloadRegister, migrateOffloadUnregister, migrateOffloadStart, migrateOffloadStop,
  migrateOffloadSetReasonMask, migrateShouldOffload, migrateOffloadBatchCopy, migrateSetNrMaxBatchedMigration,
} from "./migrate-copy-offload.js";
export {
  MIGRATE_OFFLOAD_REASONS_ALLOWED, MIGRATE_OFFLOAD_V5_REASONS,
  migrateOffloadReasonMaskParse, migrateOffloadReasonMaskFormat,
} from "./reason-mask.js";
export { Module, MODULE_NAME_LEN, tryModuleGet, modulePut, moduleRefcount, moduleBeginUnload } from "./module.js";
export { SrcuStruct } from "./srcu.js";
export {
  KernelLog, RatelimitState, kernelLog, formatLogLine,
  KERN_EMERG, KERN_ALERT, KERN_CRIT, KERN_ERR, KERN_WARNING, KERN_NOTICE, KERN_INFO, KERN_DEBUG, KERN_LEVEL_NAMES,
  DEFAULT_RATELIMIT_INTERVAL, DEFAULT_RATELIMIT_BURST, LOG_BUF_LINES,
} from "./printk.js";
export { kstrtoul, kstrtouint, kstrtoint, kstrtobool } from "./kstrtox.js";

export type { Migrator, OffloadCopyFn, OffloadSeries, MigrateOffloadStats } from "./migrate-copy-offload.js";
export type { ModuleState } from "./module.js";
export type { LogLine } from "./printk.js";
