/**
 * The one narrow interface between the functional path and the timing model (gem5's functional vs
 * timing split). Kernel code calls `cost.charge(Cost.X, units)` where the work happens; it never
 * computes a duration itself. A timing model (package @mmemu/timing) turns a hardware profile into
 * nanoseconds per unit for each kind and advances the current task's virtual clock. The default meter
 * charges nothing, so semantics can be tested without any timing.
 *
 * Like the kernel's `enum vm_event_item`, the list names the costed events of every layer in one place.
 */
export const Cost = {
  /** Entering and leaving a system call (per call). */
  SYSCALL: 0,
  /** lru_cache_disable(): lru_add_drain_all() schedules drain work on every CPU (per call). */
  LRU_CACHE_DISABLE: 1,
  /** move_pages: one user entry read, VMA lookup, folio_walk and isolation attempt (per entry). */
  PAGE_LOOKUP: 2,
  /** Isolating one folio from the LRU (per folio). */
  FOLIO_ISOLATE: 3,
  /** Entering migrate_pages_batch(): list setup, stats (per call). */
  MIGRATE_BATCH: 4,
  /** Allocating a destination folio (per folio). */
  FOLIO_ALLOC: 5,
  /** migrate_folio_unmap() fixed work: locks, anon_vma ref, rmap walk setup (per folio). */
  FOLIO_UNMAP: 6,
  /** Replacing one PTE with a migration entry (per PTE). */
  PTE_UNMAP: 7,
  /** Replacing one PMD mapping with a PMD migration entry, including its flush (per PMD). */
  PMD_UNMAP: 8,
  /** try_to_unmap_flush() on the local CPU only (per flush). */
  TLB_FLUSH_LOCAL: 9,
  /** try_to_unmap_flush() sending shootdown IPIs (per flush, plus TLB_FLUSH_IPI_CPU per target). */
  TLB_FLUSH_IPI: 10,
  /** One remote CPU acknowledging a shootdown (per CPU). */
  TLB_FLUSH_IPI_CPU: 11,
  /** migrate_folio_move() fixed work: refcount freeze, mapping switch, flags, LRU add, free src (per folio). */
  FOLIO_MOVE: 12,
  /** Restoring one PTE from a migration entry (per PTE). */
  PTE_REMAP: 13,
  /** Restoring one PMD mapping (per PMD). */
  PMD_REMAP: 14,
  /** CPU copy of folio contents, folio_mc_copy() (per byte). */
  CPU_COPY_BYTE: 15,
  /** Per-page loop overhead of folio_mc_copy(): kmap, cond_resched (per base page). */
  CPU_COPY_PAGE: 16,
  /** Putting a folio back on the LRU (per folio). */
  FOLIO_PUTBACK: 17,
  /** Splitting a large folio (per folio). */
  FOLIO_SPLIT: 18,
  /** Undoing an unmapped folio (per folio, PTE restores charged separately). */
  FOLIO_UNDO: 19,
  /** Calling the registered migrator for a batch (SRCU read side, static call) (per call). */
  OFFLOAD_CALL: 20,
  /** dma_request_chan_by_mask() (per channel). */
  DMA_CHAN_REQUEST: 21,
  /** dma_release_channel() (per channel). */
  DMA_CHAN_RELEASE: 22,
  /** sg_alloc_table() and filling entries (per entry). */
  DMA_SG_ENTRY: 23,
  /** dma_map_sgtable()/dma_unmap_sgtable() per mapped entry (per entry). */
  DMA_MAP_ENTRY: 24,
  /** device_prep_dma_memcpy() (per descriptor). */
  DMA_PREP: 25,
  /** dmaengine_submit(): cookie assignment (per descriptor). */
  DMA_SUBMIT: 26,
  /** dma_async_issue_pending() (per call). */
  DMA_ISSUE_PENDING: 27,
  /** A posted MMIO write from the CPU (per write). */
  MMIO_WRITE: 28,
  /** A non-posted MMIO read from the CPU (per read). */
  MMIO_READ: 29,
  /** wait_for_completion(): sleeping and being woken (per wait). */
  COMPLETION_WAIT: 30,
  /** A multi-threaded copy worker being queued and joined (per work item). */
  WORK_QUEUE: 31,
  /** Page-table walk and fault handling on a user access (per fault). */
  PAGE_FAULT: 32,
  /** IOMMU page-table update while mapping or unmapping for DMA (per 4 KiB page). */
  IOMMU_MAP_PAGE: 33,
  /** A DMA completion callback run by the dmaengine core or a driver (per callback). */
  DMA_CALLBACK: 34,
  /** prep_compound_tail(): a large folio's tail struct page initialised at allocation (per tail page). */
  PREP_COMPOUND_TAIL: 35,
  /** free_tail_page_prepare(): a large folio's tail struct page checked and cleared at free (per tail page). */
  FREE_TAIL_PAGE: 36,
  /**
   * The lines of the migration's reused working set (zone and pcp, lruvec, memcg, anon_vma, page-table
   * upper levels, the path's text) one folio's unmap touches (per folio; a timing model prices them by
   * how much of that set is still cold since the call slept in lru_cache_disable()).
   */
  FOLIO_WARM_SET: 37,
  /**
   * private_candidate() on one DMA device while __dma_request_channel() walks dma_device_list from its
   * head (per device examined: the devices whose channels this client already holds come first).
   */
  DMA_CHAN_CANDIDATE: 38,
} as const;

export type CostKind = (typeof Cost)[keyof typeof Cost];

/** Number of cost kinds; timing models size their per-kind tables with it. */
export const NR_COST_KINDS = Object.keys(Cost).length;

/** Names by kind, for reports ("PTE_UNMAP"). */
export const COST_NAMES: readonly string[] = (() => {
  const names: string[] = [];
  for (const [name, kind] of Object.entries(Cost)) names[kind] = name;
  return names;
})();

/** What the functional path calls. */
export interface CostMeter {
  /** Charge `units` of work of `kind` to the running task. */
  charge(kind: CostKind, units: number): void;
  /**
   * The running task copies `bytes` from node `srcNode` to node `dstNode` with the CPU. A meter that
   * models shared bandwidth runs the copy through it (so CPU copies compete with DMA and with each
   * other); without this method the copy is charged as Cost.CPU_COPY_BYTE.
   */
  cpuCopy?(srcNode: number, dstNode: number, bytes: number): void;
}

/** The meter used when no timing model is attached: nothing costs anything. */
export const FREE_COSTS: CostMeter = { charge() {} };

/**
 * A plain timing model for tests and teaching: every unit of every kind costs the same number of
 * nanoseconds, so virtual time passes while kernel code works and device or thread events can interleave
 * with it. Real runs use the calibrated model in @mmemu/timing.
 */
export class UniformCosts implements CostMeter {
  /** Units charged per kind. */
  readonly units: Float64Array = new Float64Array(NR_COST_KINDS);
  constructor(
    private readonly sim: { phase: number; advance(ns: number): void },
    readonly nsPerUnit: number,
  ) {}

  charge(kind: CostKind, units: number): void {
    this.units[kind]! += units;
    this.sim.phase = PHASE_OF_COST[kind]!;
    if (kind === Cost.CPU_COPY_BYTE) return; // bytes are counted; the per-page charge stands for the copy
    this.sim.advance(this.nsPerUnit * units);
  }
}

/**
 * Where virtual time goes, in the stages of a move_pages() call and of migrate_pages_batch(). Every
 * nanosecond the clock advances is attributed to the phase current at that moment (Sim.phase), so the
 * parts of a run add up to its total exactly. A charge sets the phase of its kind; a sleep after it
 * (wait_for_completion after Cost.COMPLETION_WAIT, the CPU copy's fabric wait after CPU_COPY_PAGE)
 * stays in that phase.
 */
export const Phase = {
  /** Entering and leaving system calls, page faults and anything not in a named stage. */
  OTHER: 0,
  SYSCALL: 1,
  /** lru_cache_disable(), entry lookup and LRU isolation. */
  ISOLATION: 2,
  /** migrate_folio_unmap(): destination allocation, locks, migration entries. */
  UNMAP: 3,
  /** try_to_unmap_flush() and immediate flushes, with their shootdown IPIs. */
  TLB_FLUSH: 4,
  /** folio_mc_copy() on the migrating CPU, or waiting for copy threads (mtcopy). */
  CPU_COPY: 5,
  /** The offload call, channel requests, sg tables, DMA mapping, descriptor prep/submit, doorbells. */
  DMA_SUBMIT: 6,
  /** Sleeping until the DMA completions arrive, and completion callbacks. */
  DMA_WAIT: 7,
  /** migrate_folio_move(): mapping switch, remove_migration_ptes(), freeing the source. */
  MOVE_REMAP: 8,
  /** putback_movable_pages() and undoing failed folios. */
  PUTBACK: 9,
} as const;

export type PhaseId = (typeof Phase)[keyof typeof Phase];
export const NR_PHASES = Object.keys(Phase).length;

/** Report names by phase ("TLB flush"). */
export const PHASE_NAMES: readonly string[] = [
  "other", "syscall", "isolation", "unmap", "TLB flush", "CPU copy", "DMA submit", "DMA wait", "move/remap", "putback",
];

/** The phase each cost kind's time belongs to. */
export const PHASE_OF_COST: Uint8Array = (() => {
  const t = new Uint8Array(NR_COST_KINDS);
  const set = (p: PhaseId, ...kinds: CostKind[]) => { for (const k of kinds) t[k] = p; };
  set(Phase.SYSCALL, Cost.SYSCALL);
  set(Phase.ISOLATION, Cost.LRU_CACHE_DISABLE, Cost.PAGE_LOOKUP, Cost.FOLIO_ISOLATE);
  set(Phase.UNMAP, Cost.MIGRATE_BATCH, Cost.FOLIO_WARM_SET, Cost.FOLIO_ALLOC, Cost.PREP_COMPOUND_TAIL, Cost.FOLIO_UNMAP, Cost.PTE_UNMAP, Cost.PMD_UNMAP);
  set(Phase.TLB_FLUSH, Cost.TLB_FLUSH_LOCAL, Cost.TLB_FLUSH_IPI, Cost.TLB_FLUSH_IPI_CPU);
  set(Phase.CPU_COPY, Cost.CPU_COPY_BYTE, Cost.CPU_COPY_PAGE, Cost.WORK_QUEUE);
  set(Phase.DMA_SUBMIT, Cost.OFFLOAD_CALL, Cost.DMA_CHAN_REQUEST, Cost.DMA_CHAN_CANDIDATE, Cost.DMA_CHAN_RELEASE, Cost.DMA_SG_ENTRY, Cost.DMA_MAP_ENTRY,
    Cost.DMA_PREP, Cost.DMA_SUBMIT, Cost.DMA_ISSUE_PENDING, Cost.MMIO_WRITE, Cost.MMIO_READ, Cost.IOMMU_MAP_PAGE);
  set(Phase.DMA_WAIT, Cost.COMPLETION_WAIT, Cost.DMA_CALLBACK);
  set(Phase.MOVE_REMAP, Cost.FOLIO_MOVE, Cost.PTE_REMAP, Cost.PMD_REMAP, Cost.FREE_TAIL_PAGE);
  set(Phase.PUTBACK, Cost.FOLIO_PUTBACK, Cost.FOLIO_UNDO);
  set(Phase.OTHER, Cost.PAGE_FAULT, Cost.FOLIO_SPLIT);
  return t;
})();
