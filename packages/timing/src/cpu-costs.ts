/**
 * CPU-side cost parameters: one declared parameter per costed event of the functional path
 * (`Cost` in @mmemu/kernel), in nanoseconds per unit, except the CPU copy, which is a bandwidth.
 * Defaults are starting values from spec dma-hardware.md 5.4 and kernel-migration.md, or from the
 * structure of the published move_pages() data; the shipped zen3-ptdma profile overrides the
 * calibrated ones (see docs/timing.md for the fit).
 */
import { Cost, COST_NAMES, defineParamSection, type CostKind, type ParamTable } from "@mmemu/kernel";

const U = "[U] starting value, no public figure";

export const CPU_COST_PARAMS = {
  syscall: {
    unit: "ns", default: 1000, min: 0, max: 100_000,
    doc: "Entering and leaving one system call, with the Zen 3 speculation mitigations (per call).",
    source: `${U}; sub-microsecond on Zen 3 without mitigations, about 1 us with them.`,
  },
  lru_cache_disable: {
    unit: "ns", default: 60_000, min: 0, max: 10_000_000,
    doc: "lru_cache_disable() at the start of every move_pages() call: lru_add_drain_all() queues drain work on every CPU and waits for all of it (per call).",
    source: "[D] the vanilla n=1 point: one 4K folio per call costs ~100 us although its first-folio latency is ~24 us, so most of a call is fixed; fitted.",
  },
  page_lookup: {
    unit: "ns", default: 150, min: 0, max: 100_000,
    doc: "move_pages: reading one user entry, finding the VMA, folio_walk and the isolation attempt's fixed work (per entry).",
    source: "[U] starting value, no public figure. The data fix only page_lookup + folio_move (both once per folio; only each batch's first folio_move falls inside its first-folio window), so the fitted split carries little information (docs/timing.md).",
  },
  folio_isolate: {
    unit: "ns", default: 80, min: 0, max: 100_000,
    doc: "folio_isolate_lru(): lruvec lock, list removal, reference (per folio).",
    source: U,
  },
  migrate_batch: {
    unit: "ns", default: 500, min: 0, max: 1_000_000,
    doc: "Per migrate_pages_batch() call, outside its first-folio window: the migrate_pages()/migrate_pages_sync() round around it (list cutting and splicing, stats, the loop back for the next batch) (per call).",
    source: "[U] cutting the next batch off the list, splicing the results and the stats: well under 1 us of list work, 2 us at most with cold lines (the fit's range 0.1-2 us). The fit ends at 2 us, held there by the 2M short calls and dcbm's one-folio batches, which want more time per batch than the model gives them (docs/timing.md, sixth step of the validation): a mechanism the model lacks.",
  },
  folio_alloc: {
    unit: "ns", default: 150, min: 0, max: 1_000_000,
    doc: "alloc_migration_target(): one destination folio from the target node's pcp lists or buddy (per folio).",
    source: "[U] a pcp list pop (rmqueue_pcplist() under the pcp lock, prep_new_page()) is tens of ns; refills from the buddy under the zone lock are amortised over pcp->batch pages. zen3-ptdma-base fixes it at 60 ns: every 4K..2M folio pays it beside folio_unmap in the unmap phase, so the data fix only their sum (fitting both left one at a bound).",
  },
  folio_unmap: {
    unit: "ns", default: 150, min: 0, max: 1_000_000,
    doc: "migrate_folio_unmap() fixed work: folio locks, anon_vma reference, rmap walk setup (per folio).",
    source: U,
  },
  pte_unmap: {
    unit: "ns", default: 100, min: 0, max: 100_000,
    doc: "try_to_migrate_one() for one PTE: clear, rmap removal, install the migration entry (per PTE).",
    source: "[D] with pte_remap: the vanilla curve grows by ~0.57 us per 4 KiB page from 4K to 1M, copy included; fitted.",
  },
  pmd_unmap: {
    unit: "ns", default: 3000, min: 0, max: 1_000_000,
    doc: "set_pmd_migration_entry() for a PMD-mapped THP, excluding the immediate TLB flush it does (charged as a shootdown, TLB_FLUSH_IPI or TLB_FLUSH_LOCAL) (per PMD).",
    source: U,
  },
  tlb_flush_local: {
    unit: "ns", default: 300, min: 0, max: 1_000_000,
    doc: "A flush on the local CPU only: try_to_unmap_flush() with no other CPU in the batch, or an unbatched flush (per flush).",
    source: U,
  },
  tlb_flush_ipi: {
    unit: "ns", default: 3000, min: 0, max: 10_000_000,
    doc: "A shootdown that sends IPIs: flush_tlb_multi() sending and waiting for the slowest target's acknowledgement, with the targets awake or in a shallow C-state (per flush; see ipi_deep_exit).",
    source: "[D] 2M dcbm batches do one immediate PMD flush per folio (512 per GiB) and still reach 65 GB/s at 16 channels with first-folio latency 14.1 ms, so back-to-back shootdowns cost a few us; fitted.",
  },
  ipi_deep_exit: {
    unit: "ns", default: 20_000, min: 0, max: 1_000_000,
    doc: "Extra wait of a shootdown whose target CPUs had been idle long enough to enter the deep C-state (CC6): the IPI waits for the core to power up (per flush that finds them there; see ipi_deep_after).",
    source: "[D] vanilla first-folio latency of one 4K folio is ~24 us while its unmap, copy and move take ~1 us, and a single 2M folio's (194 us) exceeds the later batches' (173 us) by about as much; fitted.",
  },
  ipi_deep_after: {
    unit: "ns", default: 1_000_000, min: 0, max: 1_000_000_000,
    doc: "Idle time after which the CPUs this machine's shootdowns target (the benchmark's other mm CPU) are in the deep C-state: a shootdown less than this after the previous one finds them shallow. The idle governor picks the deep state only when it predicts a long idle, which a CPU woken by IPIs every few hundred us does not.",
    source: "[U] on the order of the deep state's target residency (hundreds of us on EPYC's ACPI C2); any value between the 2M vanilla batch interval (~190 us) and a few ms gives the same published cells. Not fitted.",
  },
  tlb_flush_ipi_cpu: {
    unit: "ns", default: 300, min: 0, max: 1_000_000,
    doc: "Each target CPU of a shootdown: the IPI send and its acknowledgement (per CPU).",
    source: U,
  },
  folio_move: {
    unit: "ns", default: 250, min: 0, max: 1_000_000,
    doc: "migrate_folio_move() fixed work: refcount checks, mapping switch, flags, LRU add (lru cache disabled), unlock, freeing src (per folio).",
    source: U,
  },
  pte_remap: {
    unit: "ns", default: 100, min: 0, max: 100_000,
    doc: "remove_migration_pte() for one PTE (per PTE).",
    source: "[D] see pte_unmap.",
  },
  pmd_remap: {
    unit: "ns", default: 1000, min: 0, max: 1_000_000,
    doc: "remove_migration_pmd() (per PMD).",
    source: U,
  },
  cpu_copy_bw: {
    unit: "GB/s", default: 12, min: 0.1, max: 500,
    doc: "folio_mc_copy() bandwidth of one CPU thread copying between the two sockets (CPU_COPY_BYTE is charged at 1/cpu_copy_bw ns per byte).",
    source: "[D] spec 5.4: 2 MiB vanilla runs at ~11 GB/s end to end; the 2M first-folio latency (~175-190 us, nearly all copy) bounds it; fitted.",
  },
  cpu_copy_page: {
    unit: "ns", default: 20, min: 0, max: 100_000,
    doc: "Per-page loop overhead of folio_mc_copy(): kmap, cond_resched() (per base page).",
    source: U,
  },
  folio_putback: {
    unit: "ns", default: 100, min: 0, max: 100_000,
    doc: "putback_movable_pages() for one folio (per folio).",
    source: U,
  },
  folio_split: {
    unit: "ns", default: 5000, min: 0, max: 10_000_000,
    doc: "Splitting a large folio (per folio).",
    source: U,
  },
  folio_undo: {
    unit: "ns", default: 300, min: 0, max: 1_000_000,
    doc: "Undoing an unmapped folio, excluding its PTE restores (per folio).",
    source: U,
  },
  offload_call: {
    unit: "ns", default: 100, min: 0, max: 1_000_000,
    doc: "migrate_offload_batch_copy(): SRCU read side and the static call into the migrator (per batch).",
    source: U,
  },
  dma_chan_request: {
    unit: "ns", default: 300, min: 0, max: 10_000_000,
    doc: "dma_request_chan_by_mask() taking a private channel, besides the walk (DMA_CHAN_CANDIDATE): dma_list_mutex, dma_chan_get() (try_module_get(), kref_get_unless_zero() on the device, no alloc_chan_resources for PTDMA), DMA_PRIVATE and privatecnt (per channel).",
    source: "[U] drivers/dma/dmaengine.c __dma_request_channel()/find_candidate()/dma_chan_get(): an uncontended mutex, two atomics and a few stores, hundreds of ns with cache misses; ptdma-dmaengine.c registers no device_alloc_chan_resources. Spec 5.4's 2000 ns was a guess.",
  },
  dma_chan_candidate: {
    unit: "ns", default: 40, min: 0, max: 100_000,
    doc: "private_candidate() on one device of dma_device_list during a channel request: the capability mask, the channel list, client_count (per device examined; the k-th channel a client holds makes its next request examine k + 1 devices).",
    source: "[U] dmaengine.c: __dma_request_channel() walks dma_device_list from its head and skips devices whose channel is held (find_candidate() returns -EPROBE_DEFER); about three cache lines per device, L2/L3 hits at 5-15 ns each (Zen 3 L3 ~13 ns).",
  },
  dma_chan_release: {
    unit: "ns", default: 500, min: 0, max: 10_000_000,
    doc: "dma_release_channel(): dma_list_mutex, dma_chan_put() with dmaengine_synchronize() and device_free_chan_resources() on the last reference, dma_device_put(), module_put(), privatecnt (per channel).",
    source: "[U] dmaengine.c dma_release_channel()/dma_chan_put(); for PTDMA the synchronize is vchan_synchronize() (tasklet_kill() of a tasklet PTDMA never schedules, a list splice under the vchan lock) and pt_free_chan_resources() is vchan_free_chan_resources() (descriptor lists already empty after the terminate): no RCU grace period or sleep, a few locks and atomics, hundreds of ns. Spec 5.4's 5000 ns assumed a costly synchronize.",
  },
  dma_sg_entry: {
    unit: "ns", default: 30, min: 0, max: 100_000,
    doc: "sg_alloc_table() and sg_set_page() for one entry (per entry).",
    source: U,
  },
  dma_map_entry: {
    unit: "ns", default: 100, min: 0, max: 100_000,
    doc: "dma_map_sgtable()/dma_unmap_sgtable() work per entry, excluding IOMMU page-table updates (per entry).",
    source: "spec 5.4 map_cost 200 ns per sg entry [U].",
  },
  dma_prep: {
    unit: "ns", default: 300, min: 0, max: 1_000_000,
    doc: "device_prep_dma_memcpy(): descriptor allocation and virt-dma list add (per descriptor).",
    source: "spec 5.4 prep_cost 300 ns [U].",
  },
  dma_submit: {
    unit: "ns", default: 100, min: 0, max: 1_000_000,
    doc: "dmaengine_submit(): cookie assignment under the channel lock (per descriptor).",
    source: "spec 5.4 submit_cost 100 ns [U].",
  },
  dma_issue_pending: {
    unit: "ns", default: 200, min: 0, max: 1_000_000,
    doc: "dma_async_issue_pending() excluding the MMIO writes a start does (per call).",
    source: U,
  },
  mmio_write: {
    unit: "ns", default: 100, min: 0, max: 100_000,
    doc: "A posted MMIO write issued from task context (per write).",
    source: "spec 5.4 mmio_write_cost 100 ns [U].",
  },
  mmio_read: {
    unit: "ns", default: 500, min: 0, max: 100_000,
    doc: "A non-posted MMIO read issued from task context (per read).",
    source: "spec 5.4 mmio_read_latency 500 ns [U].",
  },
  completion_wait: {
    unit: "ns", default: 2000, min: 0, max: 1_000_000,
    doc: "wait_for_completion(): scheduling out and being woken and scheduled back in (per wait that sleeps).",
    source: U,
  },
  work_queue: {
    unit: "ns", default: 3000, min: 0, max: 1_000_000,
    doc: "queue_work_on() plus flush_work() of one worker item (per item).",
    source: U,
  },
  page_fault: {
    unit: "ns", default: 1000, min: 0, max: 1_000_000,
    doc: "A user page fault: entry, page-table walk, handling, return (per fault).",
    source: U,
  },
  iommu_map_page: {
    unit: "ns", default: 40, min: 0, max: 100_000,
    doc: "IOMMU page-table update while mapping or unmapping for DMA, including its share of IOTLB invalidation (per IOMMU page: 4 KiB, or 2 MiB where a folio is mapped with a 2 MiB page).",
    source: U,
  },
  dma_callback: {
    unit: "ns", default: 100, min: 0, max: 100_000,
    doc: "A DMA completion callback (dcbm's is a counter decrement and complete()) (per callback).",
    source: "spec 5.4 callback_cost 100 ns [U].",
  },
  prep_compound_tail: {
    unit: "ns", default: 10, min: 0, max: 10_000,
    doc: "prep_compound_page() writing one tail struct page of a new large folio (compound_head, flags): one 64-byte memmap line, mostly a cache miss, streamed (per tail page; a 2 MiB folio has 511).",
    source: "[D] a 2 MiB folio's 511 tail struct pages are 32 KiB of memmap, streamed by one core at ~5-15 GB/s: 2-6 us, 4-12 ns per tail page, less where the lines are already cached (the fit's plausible range is 2-12 ns); fitted.",
  },
  free_tail_page: {
    unit: "ns", default: 10, min: 0, max: 10_000,
    doc: "free_pages_prepare() checking and clearing one tail struct page of a large folio being freed (free_tail_page_prepare(), flags): one memmap line (per tail page).",
    source: "[D] as prep_compound_tail; bounded above by the published dcbm 16-channel 2M run, which spends only ~4.7 us per folio after its first one moved (65.1 GB/s with 14.1 ms first-folio latency); fitted.",
  },
  warm_set_lines: {
    unit: "count", default: 2048, min: 1, max: 1_000_000,
    doc: "Cache lines of the working set the migration path reuses from folio to folio (the target zone's free lists and pcp, lruvec and memcg counters, the anon_vma, page-table upper levels, the path's code and stack) that are cold when a move_pages() call starts: the call sleeps in lru_cache_disable() (synchronize_rcu_expedited(), then flush_work() on every CPU's drain) while the other CPUs' drain work touches the shared lists and counters, and its core idles (a core in CC6 flushes its private caches).",
    source: "[U] at most the lines of the core's private L2 (Zen 3: 512 KiB, 8192 lines), which a core in CC6 flushes; the fit's range 256-8192.",
  },
  warm_set_lines_per_folio: {
    unit: "count", default: 4, min: 0, max: 1024,
    doc: "Distinct lines of that working set one folio's migration touches, spread over it: with a fraction w of the set warm a folio misses on (1 - w) of them, and each miss warms one line, so a call pays warm_set_lines misses in all, front-loaded on its first folios (per folio).",
    source: "[U] a handful of lines per folio (zone, pcp list head, lruvec, memcg per-node stats, anon_vma, PMD and PUD entries); the fit's range 1-16.",
  },
  warm_set_miss: {
    unit: "ns", default: 100, min: 0, max: 1000,
    doc: "Load-to-use time of one miss on that working set after the core's private caches were lost (per missing line).",
    source: "[U] fixed at 100 ns in zen3-ptdma-base: the data fix only the per-call total (warm_set_lines x warm_set_miss) and how fast it fades (warm_set_lines / warm_set_lines_per_folio). Zen 3: ~13 ns for an L2 miss served by the CCX's L3 (~46 cycles), ~90-120 ns from local DRAM or for a line another core complex holds, ~200 ns from the other socket (Chips and Cheese, AnandTech EPYC 7003 latency measurements); 100 ns takes the set's lines as written meanwhile by the other CPUs' drain work or evicted beyond the L3.",
  },
} as const satisfies ParamTable;

/**
 * The CPU cost model's profile section. Calibration fits the costs of the offload path (DMA mapping,
 * IOMMU, MMIO, completion) with the DMA stage, since only offloaded runs depend on them.
 */
export const CPU_COST_SECTION = defineParamSection("cpu", "CPU-side costs of the functional path (ns per event, the CPU copy as a bandwidth)", CPU_COST_PARAMS, {
  stage: (name) => (/^(dma_|iommu_|mmio_|offload_|completion_)/.test(name) ? "dma" : "cpu"),
});

export type CpuCostName = keyof typeof CPU_COST_PARAMS;

/** How a cost kind is priced: by a parameter in ns per unit, or by a bandwidth (ns per unit = 1 / GB/s). */
export interface CostPricing {
  readonly param: CpuCostName;
  readonly per: "ns" | "bandwidth";
}

/**
 * The parameter that prices each cost kind, by kind name. Kinds added to `Cost` later and not listed
 * here are charged nothing and reported by {@link unpricedCostKinds}; a test keeps this complete.
 */
export const COST_PRICING: Readonly<Record<string, CostPricing>> = {
  SYSCALL: { param: "syscall", per: "ns" },
  LRU_CACHE_DISABLE: { param: "lru_cache_disable", per: "ns" },
  PAGE_LOOKUP: { param: "page_lookup", per: "ns" },
  FOLIO_ISOLATE: { param: "folio_isolate", per: "ns" },
  MIGRATE_BATCH: { param: "migrate_batch", per: "ns" },
  FOLIO_ALLOC: { param: "folio_alloc", per: "ns" },
  FOLIO_UNMAP: { param: "folio_unmap", per: "ns" },
  PTE_UNMAP: { param: "pte_unmap", per: "ns" },
  PMD_UNMAP: { param: "pmd_unmap", per: "ns" },
  TLB_FLUSH_LOCAL: { param: "tlb_flush_local", per: "ns" },
  TLB_FLUSH_IPI: { param: "tlb_flush_ipi", per: "ns" },
  TLB_FLUSH_IPI_CPU: { param: "tlb_flush_ipi_cpu", per: "ns" },
  FOLIO_MOVE: { param: "folio_move", per: "ns" },
  PTE_REMAP: { param: "pte_remap", per: "ns" },
  PMD_REMAP: { param: "pmd_remap", per: "ns" },
  CPU_COPY_BYTE: { param: "cpu_copy_bw", per: "bandwidth" },
  CPU_COPY_PAGE: { param: "cpu_copy_page", per: "ns" },
  FOLIO_PUTBACK: { param: "folio_putback", per: "ns" },
  FOLIO_SPLIT: { param: "folio_split", per: "ns" },
  FOLIO_UNDO: { param: "folio_undo", per: "ns" },
  OFFLOAD_CALL: { param: "offload_call", per: "ns" },
  DMA_CHAN_REQUEST: { param: "dma_chan_request", per: "ns" },
  DMA_CHAN_RELEASE: { param: "dma_chan_release", per: "ns" },
  DMA_CHAN_CANDIDATE: { param: "dma_chan_candidate", per: "ns" },
  DMA_SG_ENTRY: { param: "dma_sg_entry", per: "ns" },
  DMA_MAP_ENTRY: { param: "dma_map_entry", per: "ns" },
  DMA_PREP: { param: "dma_prep", per: "ns" },
  DMA_SUBMIT: { param: "dma_submit", per: "ns" },
  DMA_ISSUE_PENDING: { param: "dma_issue_pending", per: "ns" },
  MMIO_WRITE: { param: "mmio_write", per: "ns" },
  MMIO_READ: { param: "mmio_read", per: "ns" },
  COMPLETION_WAIT: { param: "completion_wait", per: "ns" },
  WORK_QUEUE: { param: "work_queue", per: "ns" },
  PAGE_FAULT: { param: "page_fault", per: "ns" },
  IOMMU_MAP_PAGE: { param: "iommu_map_page", per: "ns" },
  DMA_CALLBACK: { param: "dma_callback", per: "ns" },
  PREP_COMPOUND_TAIL: { param: "prep_compound_tail", per: "ns" },
  FREE_TAIL_PAGE: { param: "free_tail_page", per: "ns" },
  FOLIO_WARM_SET: { param: "warm_set_miss", per: "ns" },
};

/** Cost kinds of @mmemu/kernel that no parameter prices (they cost nothing until one is declared). */
export function unpricedCostKinds(): string[] {
  return Object.keys(Cost).filter((name) => COST_PRICING[name] === undefined);
}

/** The pricing of a kind, or undefined. */
export function pricingOf(kind: CostKind): CostPricing | undefined {
  return COST_PRICING[COST_NAMES[kind]!];
}
