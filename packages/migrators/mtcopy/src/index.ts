/**
 * @mmemu/mtcopy — the multi-threaded CPU batch copier of the page-migration offload series' V2/V3
 * postings (drivers/migoffcopy/mtcopy/copy_pages.c, migrator "CPU_MT_COPY"): work items on chosen
 * CPUs running in parallel in virtual time, with the /sys/kernel/cpu_mt knobs.
 */
export { Mtcopy, MAX_NUM_COPY_THREADS, CPU_ID_LIST_SPREAD, CPU_ID_LIST_FILL, MTCOPY_PARAMS, MTCOPY_SECTION } from "./mtcopy.js";

export type { MtcopyOptions, MtcopyParams, MtcopyStats, MtcopyAttr } from "./mtcopy.js";
