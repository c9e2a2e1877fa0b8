/**
 * Kernel-version switches. move_pages(2) changed behaviour several times (spec move-pages.md §12 and
 * §16); mmemu models three kernels and turns each into a set of feature flags, so the syscall code tests
 * a flag, never a version number.
 *
 * - "6.1": `follow_page(FOLL_GET | FOLL_DUMP)` lookup, `page_mapcount()` sharing test, hugetlb pages
 *   only by their head address (observed on 6.1.192); migrate_pages() moves one folio at a time.
 * - "6.12": `folio_walk` lookup (an untouched page is -ENOENT again), `folio_likely_mapped_shared()`
 *   (observed on 6.12.117; the sharing test is the 6.9-6.14 one).
 * - "mainline": 6.15 and later, `folio_maybe_mapped_shared()` with per-mm tracking of large folios.
 */
export const KERNEL_VERSIONS = ["6.1", "6.12", "mainline"] as const;
export type KernelVersion = (typeof KERNEL_VERSIONS)[number];

/** The sharing test behind -EACCES (section 6.2 of the spec). */
export type SharedTest = "page_mapcount" | "folio_likely_mapped_shared" | "folio_maybe_mapped_shared";

/** What differs between the modelled kernels. */
export interface KernelFeatures {
  readonly version: KernelVersion;
  /**
   * The page lookup is follow_page() with FOLL_DUMP (4.3 .. 6.11): a missing page table or pte_none in a
   * private anonymous VMA (or one without a fault handler) is -EFAULT instead of -ENOENT, and so is a
   * non-present PMD (a PMD migration entry) there.
   */
  readonly followPageDump: boolean;
  /** A present page in a VMA without any access right (PROT_NONE) is not found (-ENOENT) [R: 6.1]. */
  readonly protNoneNotFound: boolean;
  /** A hugetlb page addressed by a non-head address is -EACCES (before 6.7, Kefeng Wang). */
  readonly hugetlbTailEacces: boolean;
  /** Which sharing test decides -EACCES without MPOL_MF_MOVE_ALL. */
  readonly sharedTest: SharedTest;
  /**
   * migrate_pages() batches: unmap many folios, one TLB flush, move them (migrate_pages_batch()); without
   * it (6.1) each folio is unmapped with its own flush and moved before the next, in up to 10 passes.
   * Applied to the machine (`settings.migratePagesBatch`) by the TaskTable.
   */
  readonly migratePagesBatch: boolean;
  /** MPOL_MAX: 6 before MPOL_WEIGHTED_INTERLEAVE (6.9), 7 after; a mode at or above it is -EINVAL. */
  readonly mpolMax: number;
  /** MPOL_F_NUMA_BALANCING is accepted with MPOL_PREFERRED_MANY as well as MPOL_BIND (6.10). */
  readonly numaBalancingPreferredMany: boolean;
  /**
   * mbind's page scan counts every page it cannot queue and goes on (Hugh Dickins' rework, 6.7); before,
   * with MPOL_MF_STRICT, an unmovable page ended the walk after its page table, and PTE migration
   * entries were passed over.
   */
  readonly mbindCountsFailures: boolean;
  /**
   * mbind keeps mmap_lock for write, and migrate_pages(2) keeps it for read, through the migration
   * (before 6.7); later mbind drops it after the scan and migrate_to_node() holds it only to queue.
   */
  readonly mmapLockedMigration: boolean;
}

const FEATURES: Readonly<Record<KernelVersion, KernelFeatures>> = {
  "6.1": { version: "6.1", followPageDump: true, protNoneNotFound: true, hugetlbTailEacces: true, sharedTest: "page_mapcount", migratePagesBatch: false,
    mpolMax: 6, numaBalancingPreferredMany: false, mbindCountsFailures: false, mmapLockedMigration: true },
  "6.12": { version: "6.12", followPageDump: false, protNoneNotFound: false, hugetlbTailEacces: false, sharedTest: "folio_likely_mapped_shared", migratePagesBatch: true,
    mpolMax: 7, numaBalancingPreferredMany: true, mbindCountsFailures: true, mmapLockedMigration: false },
  mainline: { version: "mainline", followPageDump: false, protNoneNotFound: false, hugetlbTailEacces: false, sharedTest: "folio_maybe_mapped_shared", migratePagesBatch: true,
    mpolMax: 7, numaBalancingPreferredMany: true, mbindCountsFailures: true, mmapLockedMigration: false },
};

/** The feature set of a modelled kernel. */
export function kernelFeatures(version: KernelVersion = "mainline"): KernelFeatures {
  const f = FEATURES[version];
  if (f === undefined) throw new RangeError(`unknown kernel version "${version}"; known: ${KERNEL_VERSIONS.join(", ")}`);
  return f;
}
