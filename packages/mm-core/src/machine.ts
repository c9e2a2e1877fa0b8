/**
 * One emulated machine: its kernel core, physical memory, memmap, page allocator, CPUs and TLBs, the
 * address-space registries, hugetlb pools, LRU lists and the migration settings. Folio lifecycle
 * (alloc, get, put, free) and LRU isolation live here because every other part needs them; they mirror
 * mm/page_alloc.c, mm/swap.c (folio_put, folio_add_lru) and mm/vmscan.c (folio_isolate_lru).
 */
import { Cost, KernelCore, RwSemaphore, WaitQueue, type CostMeter, type CostKind, type FaultPoint } from "@mmemu/kernel";
import { MemMap, PG } from "./folio.js";
import { AddressSpace, AnonVma, MmStruct } from "./mm-types.js";
import { PageAllocator } from "./page-alloc.js";
import { Watermarks, WMARK_LOW, WMARK_MIN, ZONE_MOVABLE } from "./zone.js";
import type { Mempolicy } from "./mempolicy.js";
import { MAX_NUMNODES, PhysMem, PMD_ORDER, type MemNodeConfig } from "./physmem.js";
import { Tlbs, TlbUnmapBatch } from "./tlb.js";
import { MemoryManager } from "./memory-manager.js";
import { SwapDevice } from "./swap.js";
import { defineMigrateTracepoints, type MigrateTracepoints } from "./trace.js";

export interface MachineOptions {
  /** NUMA nodes: id, memory in 4 KiB pages, CPUs. */
  readonly nodes: readonly MemNodeConfig[];
  /** Seed for every PRNG stream. @default 1 */
  readonly seed?: number;
  /** A timing model; omitted, nothing costs time. */
  readonly costs?: CostMeter;
  /** Huge pages reserved per node for hugetlbfs (nr_hugepages), by node id. @default none */
  readonly hugetlbPages?: Readonly<Record<number, number>>;
  /** ZONE_MOVABLE pages at the top of each node (movablecore=), by node id. @default none */
  readonly movablePages?: Readonly<Record<number, number>>;
  /** vm.min_free_kbytes as written by the user; omitted, the kernel's boot value for these zones. */
  readonly minFreeKbytes?: number;
  /** vm.watermark_scale_factor (1..3000). @default 10 */
  readonly watermarkScaleFactor?: number;
}

/** Migration settings that the series and its testing patches turn into runtime knobs. */
export interface MigrationSettings {
  /** NR_MAX_BATCHED_MIGRATION in base pages (HPAGE_PMD_NR = 512 in mainline; the series' testing patch uses up to HPAGE_PUD_NR). */
  nrMaxBatchedMigration: number;
  /**
   * Batch-copy semantics of the offload series: "v5" (all-or-nothing per batch, already_copied
   * re-applied on every move pass) or "v6" (per-folio FOLIO_CONTENT_COPIED marks consumed on first
   * read; a retry re-copies).
   */
  offloadSemantics: "v5" | "v6";
  /**
   * migrate_pages() unmaps a batch, flushes the TLB once and then moves the batch (migrate_pages_batch(),
   * Huang Ying's batched TLB flushing, after 6.1). false: the per-folio unmap_and_move() loop of 6.1, one
   * flush per page and up to 10 passes over the list. @default true
   */
  migratePagesBatch: boolean;
}

/** Mirrors enum vm_event_item entries for migration (include/linux/vm_event_item.h). */
export interface VmEvents {
  /** NUMA_PAGE_MIGRATE: pages moved by NUMA balancing (MR_NUMA_MISPLACED). */
  numa_pages_migrated: number;
  pgmigrate_success: number;
  pgmigrate_fail: number;
  thp_migration_success: number;
  thp_migration_fail: number;
  thp_migration_split: number;
}

/** Mirrors struct task_struct's parts migration looks at. */
export class Task {
  /** PF_MEMALLOC: in direct reclaim/compaction (folio lock trylock failures become -EAGAIN). */
  memalloc = false;
  /** current->tlb_ubc */
  readonly tlbUbc: TlbUnmapBatch;
  /** task->comm and task->pid as traces show them (the syscall layer's task names its context). */
  comm = "kworker/u:0";
  tracePid: number;
  /** current->mempolicy (set_mempolicy); null: MPOL_DEFAULT, the local node. */
  mempolicy: Mempolicy | null = null;
  /** current->il_prev: the node of the last interleaved allocation (MAX_NUMNODES - 1 after a reset). */
  ilPrev = MAX_NUMNODES - 1;
  constructor(
    readonly pid: number,
    public mm: MmStruct | null,
    /** CPU the task runs on. */
    public cpu: number,
    nrCpus: number,
  ) {
    this.tlbUbc = new TlbUnmapBatch(nrCpus);
    this.tracePid = pid;
  }
}

export class Machine {
  readonly core: KernelCore;
  readonly mem: PhysMem;
  readonly folios: MemMap;
  readonly alloc: PageAllocator;
  readonly tlbs: Tlbs;
  readonly nrCpus: number;
  /** The shared zero page (ZERO_PAGE(0)). */
  readonly zeroPfn: number;
  readonly anonVmas: AnonVma[] = [];
  readonly spaces: AddressSpace[] = [];
  readonly mms: MmStruct[] = [];
  readonly settings: MigrationSettings = { nrMaxBatchedMigration: 512, offloadSemantics: "v5", migratePagesBatch: true };
  readonly vmEvents: VmEvents = {
    numa_pages_migrated: 0,
    pgmigrate_success: 0,
    pgmigrate_fail: 0,
    thp_migration_success: 0,
    thp_migration_fail: 0,
    thp_migration_split: 0,
  };
  /**
   * Mirrors enum numa_stat_item (NUMA_HIT ... NUMA_OTHER), summed over nodes, in base pages: counted by
   * zone_statistics() on every page allocation against the preferred node and the allocating CPU's node.
   */
  readonly numaStat = { numa_hit: 0, numa_miss: 0, numa_foreign: 0, numa_interleave: 0, numa_local: 0, numa_other: 0 };
  /** NR_ISOLATED_ANON and NR_ISOLATED_FILE per node id, in base pages. */
  readonly nrIsolatedAnon: Float64Array;
  readonly nrIsolatedFile: Float64Array;
  /** Free hugetlb folios per node id (the hstate free lists), head pfns. */
  readonly hugetlbFree: number[][] = [];
  /** Hugetlb folios per node id (nr_hugepages). */
  readonly hugetlbTotal: number[] = [];
  /** Per-node LRU list heads/tails (one list per node; mmemu does not split active/inactive). */
  private readonly lruHead: Int32Array;
  private readonly lruTail: Int32Array;
  readonly lruSize: Float64Array;
  /** Wait queues of folios that have sleepers (only folios with PG.waiters have one). */
  readonly folioWaiters = new Map<number, WaitQueue>();
  /** Tasks by pid (the migrating context and emulated threads). */
  readonly tasks: Task[] = [];
  /** The task whose context kernel code runs in (current). */
  current: Task;
  /** Hook points filled in by other layers (see offload-api). */
  readonly hooks: MachineHooks;
  readonly tp: MigrateTracepoints;
  readonly faults: {
    readonly pageAlloc: FaultPoint;
    readonly migrateAlloc: FaultPoint;
    readonly folioTrylock: FaultPoint;
    readonly extraRef: FaultPoint;
    readonly copyHwpoison: FaultPoint;
  };
  /** Address-space operations and faults. */
  readonly memory: MemoryManager;
  /** The swap device. */
  readonly swap: SwapDevice;
  /** The invariant checker, when enabled (tests). */
  checker: MigrationObserver | null = null;
  /** min_free_kbytes, watermark_scale_factor, lowmem_reserve_ratio and the zone watermarks they set. */
  readonly watermarks: Watermarks;
  private nextIds = { anonVma: 1, space: 1, mm: 1, pid: 1 };

  constructor(opts: MachineOptions) {
    this.core = new KernelCore({ seed: opts.seed ?? 1, ...(opts.costs ? { costs: opts.costs } : {}) });
    this.mem = new PhysMem(opts.nodes);
    this.folios = new MemMap(this.mem);
    this.alloc = new PageAllocator(this.mem, opts.movablePages);
    this.nrCpus = this.mem.nrCpus;
    this.tlbs = new Tlbs(this.nrCpus);
    const maxId = Math.max(...this.mem.nodes.map((n) => n.id)) + 1;
    this.nrIsolatedAnon = new Float64Array(maxId);
    this.nrIsolatedFile = new Float64Array(maxId);
    this.lruHead = new Int32Array(maxId).fill(-1);
    this.lruTail = new Int32Array(maxId).fill(-1);
    this.lruSize = new Float64Array(maxId);
    this.anonVmas.push(null as unknown as AnonVma); // id 0 = none
    this.spaces.push(null as unknown as AddressSpace);
    this.tp = defineMigrateTracepoints(this.core.trace);
    const f = this.core.faults;
    this.faults = {
      pageAlloc: f.define("fail_page_alloc", "any folio allocation fails (mm/fail_page_alloc.c); target: the node asked for", "node"),
      migrateAlloc: f.define("migrate_alloc_dst", "allocating a migration destination folio fails (get_new_folio returns NULL); target: the source folio", "folio"),
      folioTrylock: f.define("folio_trylock", "folio_trylock() of a migration source finds the lock contended; target: the folio", "folio"),
      extraRef: f.define("migrate_extra_ref", "a transient extra reference (a concurrent get_page or GUP pin) on a source makes the expected-refcount check fail (-EAGAIN); target: the folio", "folio"),
      copyHwpoison: f.define("migrate_copy_hwpoison", "folio_mc_copy() hits a machine check on a poisoned source (-EHWPOISON); target: the folio", "folio"),
    };
    this.hooks = { offload: null };
    this.memory = new MemoryManager(this);
    this.watermarks = new Watermarks(this.alloc.zones, this.alloc.nodeZones);
    this.watermarks.init({
      khugepaged: this.memory.anonThp[PMD_ORDER] !== "never",
      ...(opts.minFreeKbytes !== undefined ? { minFreeKbytes: opts.minFreeKbytes } : {}),
      ...(opts.watermarkScaleFactor !== undefined ? { watermarkScaleFactor: opts.watermarkScaleFactor } : {}),
    });
    this.swap = new SwapDevice(this);
    // The shared zero page, reserved at boot on the first node with memory.
    const first = this.mem.nodes.find((n) => n.nrPages > 0)!;
    this.zeroPfn = this.alloc.alloc(first.id, 0);
    this.folios.flags[this.zeroPfn] = PG.zero | PG.allocated | PG.uptodate;
    this.folios.refcount[this.zeroPfn] = 1;
    for (const [nidStr, count] of Object.entries(opts.hugetlbPages ?? {})) this.setHugetlbPages(Number(nidStr), count);
    this.current = this.createTask(null, 0);
    // Events logged in task context name the current task and its CPU (the ftrace columns).
    this.core.trace.currentTask = () => ({ cpu: this.current.cpu, pid: this.current.tracePid, comm: this.current.comm });
  }

  get sim() {
    return this.core.sim;
  }

  /** Charge work to the running task through the timing model. */
  charge(kind: CostKind, units: number): void {
    this.core.cost.charge(kind, units);
  }

  // ---- registries -------------------------------------------------------------------------------

  createMm(): MmStruct {
    const id = this.nextIds.mm++;
    const mm = new MmStruct(id, this.nrCpus, new RwSemaphore(this.sim, `mmap_lock of mm ${id}`));
    this.mms[mm.id] = mm;
    return mm;
  }

  createTask(mm: MmStruct | null, cpu: number): Task {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.nrCpus) throw new RangeError(`task: CPU ${cpu} does not exist (machine has ${this.nrCpus})`);
    const t = new Task(this.nextIds.pid++, mm, cpu, this.nrCpus);
    this.tasks[t.pid] = t;
    if (mm) mm.cpumaskSetCpu(cpu);
    return t;
  }

  createAnonVma(root: AnonVma | null): AnonVma {
    const av = new AnonVma(this.nextIds.anonVma++, root);
    this.anonVmas[av.id] = av;
    return av;
  }

  createAddressSpace(name: string, kind: "file" | "shmem", sizePages: number): AddressSpace {
    const as = new AddressSpace(this.nextIds.space++, name, kind, sizePages);
    this.spaces[as.id] = as;
    return as;
  }

  // ---- folio lifecycle --------------------------------------------------------------------------

  /**
   * Allocate a folio of 2^order pages on `nid`, falling back to other nodes by id order unless
   * `thisNode` (__GFP_THISNODE). Mirrors __alloc_pages(): the fast path takes a zone above its LOW
   * watermark; the slow path (kswapd woken) one above MIN. Reclaim and compaction are not modelled, so
   * below MIN (plus the lowmem reserve) the allocation fails, as on a node with nothing reclaimable;
   * the OOM killer is never the answer here (callers see -1). `highestZoneIdx` is gfp_zone(): ZONE_MOVABLE
   * for GFP_HIGHUSER_MOVABLE, ZONE_NORMAL for a migration target of a page outside ZONE_MOVABLE.
   * `nodemask` (a policy's nodes, by node id) limits every node tried. Returns the head pfn or -1.
   */
  folioAlloc(nid: number, order: number, thisNode: boolean, highestZoneIdx: number = ZONE_MOVABLE, nodemask: Uint8Array | null = null): number {
    if (this.faults.pageAlloc.armed && this.faults.pageAlloc.shouldFail(nid)) return -1;
    let pfn = this.alloc.getPageFromFreelist(nid, order, thisNode, WMARK_LOW, highestZoneIdx, nodemask);
    if (pfn < 0) pfn = this.alloc.getPageFromFreelist(nid, order, thisNode, WMARK_MIN, highestZoneIdx, nodemask);
    if (pfn < 0) return -1;
    this.zoneStatistics(nid, pfn, 1 << order);
    this.prepFolio(pfn, order);
    // prep_compound_page() writes every tail struct page: what makes a large folio's allocation grow with its size.
    if (order > 0) this.charge(Cost.PREP_COMPOUND_TAIL, (1 << order) - 1);
    return pfn;
  }

  /** Mirrors zone_statistics(): hit/miss/foreign against the preferred node, local/other against the CPU's. */
  private zoneStatistics(preferred: number, pfn: number, nr: number): void {
    const node = this.mem.nodeOfPfn[pfn]!;
    const st = this.numaStat;
    if (node === preferred) st.numa_hit += nr;
    else {
      st.numa_miss += nr;
      st.numa_foreign += nr;
    }
    if (node === this.mem.cpuToNode(this.current.cpu)) st.numa_local += nr;
    else st.numa_other += nr;
  }

  /** Set up a fresh folio's memmap slots (prep_new_page + folio_prep_large_rmappable). */
  private prepFolio(pfn: number, order: number): void {
    const f = this.folios;
    const nr = 1 << order;
    f.flags[pfn] = PG.allocated | (order > 0 ? PG.head | PG.largeRmappable : 0);
    f.order[pfn] = order;
    f.refcount[pfn] = 1;
    f.mapcount[pfn] = 0;
    f.mapping[pfn] = 0;
    f.index[pfn] = 0;
    f.migrateInfo[pfn] = 0;
    f.pincount[pfn] = 0;
    if (nr > 1) f.flags.fill(PG.allocated | PG.tail, pfn + 1, pfn + nr);
  }

  /** Mirrors alloc_hugetlb_folio on a node: a folio from the pool, or -1 when the pool is empty. */
  hugetlbAlloc(nid: number): number {
    const pool = this.hugetlbFree[nid];
    if (pool === undefined || pool.length === 0) return -1;
    const pfn = pool.pop()!;
    this.prepFolio(pfn, PMD_ORDER);
    this.folios.flags[pfn]! |= PG.hugetlb;
    this.folios.flags[pfn]! &= ~PG.largeRmappable;
    return pfn;
  }

  /** Set nr_hugepages on a node, growing the pool from the buddy allocator or shrinking free ones. */
  setHugetlbPages(nid: number, count: number): void {
    if (this.mem.node(nid) === undefined) throw new Error(`hugetlb: node ${nid} does not exist`);
    if (!Number.isInteger(count) || count < 0) throw new Error(`hugetlb: nr_hugepages must be a non-negative integer, got ${count}`);
    const pool = (this.hugetlbFree[nid] ??= []);
    this.hugetlbTotal[nid] ??= 0;
    while (this.hugetlbTotal[nid]! < count) {
      const pfn = this.alloc.alloc(nid, PMD_ORDER);
      if (pfn < 0) break; // as the kernel does: fewer than asked when memory is short
      pool.push(pfn);
      this.hugetlbTotal[nid]!++;
    }
    while (this.hugetlbTotal[nid]! > count && pool.length > 0) {
      this.alloc.free(pool.pop()!, PMD_ORDER);
      this.hugetlbTotal[nid]!--;
    }
  }

  /** folio_get() */
  folioGet(folio: number, n = 1): void {
    this.folios.refcount[folio]! += n;
  }

  /** folio_put(): drop references; the last one frees the folio. */
  folioPut(folio: number, n = 1): void {
    const rc = (this.folios.refcount[folio]! -= n);
    if (rc > 0) return;
    if (rc < 0) throw new Error(`folio_put: refcount of folio ${folio} went negative (${rc})`);
    this.freeFolio(folio);
  }

  /** __folio_put(): return the frames to the buddy allocator or the hugetlb pool. */
  private freeFolio(folio: number): void {
    const f = this.folios;
    // __page_cache_release(): the last reference takes the folio off the LRU.
    if ((f.flags[folio]! & PG.lru) !== 0) this.lruDel(folio);
    const order = f.order[folio]!;
    const nr = 1 << order;
    const hugetlb = (f.flags[folio]! & PG.hugetlb) !== 0;
    if (this.checker) this.checker.folioFreed(folio);
    // A single page is cleared with plain stores: fill() is a builtin call, twice per freed 4 KiB folio.
    if (nr === 1) f.flags[folio] = 0;
    else f.flags.fill(0, folio, folio + nr);
    f.mapcount[folio] = 0;
    f.mapping[folio] = 0;
    f.migrateInfo[folio] = 0;
    f.order[folio] = 0;
    if (nr === 1) this.mem.poisoned[folio] = 0;
    else this.mem.poisoned.fill(0, folio, folio + nr);
    if (hugetlb) {
      this.hugetlbFree[this.mem.nodeOfPfn[folio]!]!.push(folio); // free_huge_folio(): back to the pool, still compound
      return;
    }
    // free_pages_prepare() checks and clears every tail struct page (free_tail_page_prepare()).
    if (nr > 1) this.charge(Cost.FREE_TAIL_PAGE, nr - 1);
    this.alloc.free(folio, order);
  }

  // ---- LRU --------------------------------------------------------------------------------------

  /** folio_add_lru(): put a folio on its node's LRU. */
  lruAdd(folio: number): void {
    const f = this.folios;
    if ((f.flags[folio]! & PG.lru) !== 0) throw new Error(`folio ${folio} is already on the LRU`);
    const nid = this.mem.nodeOfPfn[folio]!;
    const tail = this.lruTail[nid]!;
    f.lruPrev[folio] = tail;
    f.lruNext[folio] = -1;
    if (tail !== -1) f.lruNext[tail] = folio;
    else this.lruHead[nid] = folio;
    this.lruTail[nid] = folio;
    this.lruSize[nid]! += 1 << f.order[folio]!;
    f.flags[folio]! |= PG.lru;
  }

  /** Unlink from the LRU (lruvec_del_folio). */
  lruDel(folio: number): void {
    const f = this.folios;
    const nid = this.mem.nodeOfPfn[folio]!;
    const p = f.lruPrev[folio]!;
    const n = f.lruNext[folio]!;
    if (p !== -1) f.lruNext[p] = n;
    else this.lruHead[nid] = n;
    if (n !== -1) f.lruPrev[n] = p;
    else this.lruTail[nid] = p;
    f.lruPrev[folio] = -1;
    f.lruNext[folio] = -1;
    this.lruSize[nid]! -= 1 << f.order[folio]!;
    f.flags[folio]! &= ~PG.lru;
  }

  /**
   * Mirrors folio_isolate_lru() plus the caller's NR_ISOLATED accounting: take the folio off the LRU
   * with one extra reference. False if it is not on the LRU (already isolated, or never added).
   */
  folioIsolateLru(folio: number): boolean {
    const f = this.folios;
    if ((f.flags[folio]! & PG.lru) === 0) return false;
    this.lruDel(folio);
    f.refcount[folio]!++;
    this.accountIsolated(folio, +1);
    return true;
  }

  /** Mirrors folio_putback_lru() with NR_ISOLATED decrement: back on the LRU, isolation ref dropped. */
  folioPutbackLru(folio: number): void {
    this.accountIsolated(folio, -1);
    this.lruAdd(folio);
    this.folioPut(folio);
  }

  /** node_stat_mod_folio(NR_ISOLATED_ANON + folio_is_file_lru(), ±nr). */
  accountIsolated(folio: number, sign: number): void {
    const f = this.folios;
    const nid = this.mem.nodeOfPfn[folio]!;
    const nr = sign << f.order[folio]!;
    if ((f.flags[folio]! & PG.swapbacked) !== 0) this.nrIsolatedAnon[nid]! += nr;
    else this.nrIsolatedFile[nid]! += nr;
  }

  /** Iterate the LRU of a node (for tests and statistics). */
  lruFolios(nid: number): number[] {
    const out: number[] = [];
    for (let p = this.lruHead[nid]!; p !== -1; p = this.folios.lruNext[p]!) out.push(p);
    return out;
  }
}

/** Hooks other layers install into a machine (static_call-like slots). */
export interface MachineHooks {
  /**
   * The copy-offload static key and call (mm/migrate_copy_offload.c), installed by the offload core;
   * null without it (a kernel built without CONFIG_MIGRATION_COPY_OFFLOAD). Whether a batch is offered
   * is the hook's doBatch(): key enabled and reason eligible.
   */
  offload: OffloadHook | null;
}

/** What migrate_pages_batch() needs from the offload infrastructure. */
export interface OffloadHook {
  /** migrate_offload_do_batch(reason) (V5) / migrate_should_offload(reason) (V6). */
  doBatch(reason: number): boolean;
  /**
   * migrate_offload_batch_copy(): copy `count` folio pairs (position-paired lists of head pfns).
   * Returns 0 when all were copied (V5), or -errno. Under V6 semantics the callee marks each copied
   * dst with FOLIO_CONTENT_COPIED and the return value is advisory.
   */
  batchCopy(dst: Int32Array, src: Int32Array, count: number): number;
  /** The name of the copier batchCopy() calls now (the active migrator), for checker messages. */
  copierName?(): string;
  /**
   * Folios of an offloaded batch that the CPU copies instead, counted once per batch by cause
   * ("movable_ops", "refcount" for V6's pre-check; the offload core adds its own causes).
   */
  noteFallback?(cause: string, nrFolios: number): void;
}

/** Callbacks the invariant checker receives from the migration path (enabled in tests). */
export interface MigrationObserver {
  /** migrate_pages_batch() calls seen so far: the batch number violation messages name. */
  readonly batchNo: number;
  folioFreed(folio: number): void;
  beforeCopy(dst: number, src: number, how: "cpu" | "batch"): void;
  /** A folio's move finished: dst is mapped where src was. */
  folioMoved(src: number, dst: number): void;
  afterFlush(): void;
  batchStart(): void;
  batchEnd(): void;
  /** The batch's pairs are handed to `copier` (after beforeCopy() for each). */
  offloadStart(copier: string, dst: Int32Array, src: Int32Array, count: number): void;
  /**
   * The copier returned `rc`. Under V6 (`v6`) the destinations it claims are those marked
   * FOLIO_CONTENT_COPIED; before V6 a return of 0 claims every pair.
   */
  offloadEnd(copier: string, dst: Int32Array, src: Int32Array, count: number, rc: number, v6: boolean): void;
  /**
   * A rule broken that another layer (offload core, dmaengine) found: recorded like the checker's own;
   * when the checker throws, it throws `kind` (default InvariantViolation).
   */
  report(msg: string, kind?: new (msg: string) => Error): void;
}
