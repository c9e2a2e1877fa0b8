import { DMA_CTRL_REUSE, DmaAsyncTxDescriptor, DmaChan, type DmaDevice, type DmaengineResult } from "./dmaengine.js";
import { DMA_RESULT_NOERROR, dmaCookieAssign, dmaCookieComplete, dmaengineDescGetCallbackInvoke, dmaCookieInit } from "./cookie.js";
import type { DmaEngine } from "./registry.js";

/**
 * The virtual-channel helper layer of drivers/dma/virt-dma.[ch]: descriptors move through the lists
 * allocated → submitted → issued → completed (→ freed), or to terminated on terminate_all.
 * Completion through vchanCookieComplete() defers callbacks to the channel's tasklet (or workqueue,
 * by the provider's callback context). Lists are intrusive and doubly linked, as list_head is, so a
 * descriptor moves between lists without allocation.
 */

/** A list_head node. */
export interface ListNode {
  next: ListNode;
  prev: ListNode;
}

/** Mirrors struct list_head used as a list head. */
export class ListHead implements ListNode {
  next: ListNode = this;
  prev: ListNode = this;
}

/** Mirrors list_empty(). */
export function listEmpty(head: ListHead): boolean {
  return head.next === head;
}

/** Mirrors list_add_tail(). */
export function listAddTail(node: ListNode, head: ListHead): void {
  const prev = head.prev;
  node.next = head;
  node.prev = prev;
  prev.next = node;
  head.prev = node;
}

/** Mirrors list_del() (the node points at itself afterwards, as list_del_init leaves it). */
export function listDel(node: ListNode): void {
  node.prev.next = node.next;
  node.next.prev = node.prev;
  node.next = node;
  node.prev = node;
}

/** Mirrors list_splice_tail_init(): move every node of `from` to the tail of `to`. */
export function listSpliceTailInit(from: ListHead, to: ListHead): void {
  if (listEmpty(from)) return;
  const first = from.next;
  const last = from.prev;
  const at = to.prev;
  at.next = first;
  first.prev = at;
  last.next = to;
  to.prev = last;
  from.next = from;
  from.prev = from;
}

/** Number of nodes on a list (debug and tests; O(n)). */
export function listCount(head: ListHead): number {
  let n = 0;
  for (let p = head.next; p !== head; p = p.next) n++;
  return n;
}

/** Mirrors struct virt_dma_desc: the tx plus its list node and result. */
export class VirtDmaDesc extends DmaAsyncTxDescriptor implements ListNode {
  next: ListNode = this;
  prev: ListNode = this;
  /**
   * Result passed to callback_result; virt-dma initialises it to NOERROR at prep. It points at the
   * shared frozen NOERROR record until a driver stores a failure (a fresh object), so the common case
   * allocates nothing per descriptor.
   */
  txResult: DmaengineResult = DMA_RESULT_NOERROR;
  /**
   * Odd while the descriptor is live (prepared, on a vchan list), even while it sits in the driver's
   * cache; it changes at every prep and free, so a stale reference (an in-flight hardware pointer)
   * is detectable by comparing generations.
   */
  gen = 0;

  constructor(chan: DmaChan) {
    super(chan);
  }

  /** Whether the descriptor is prepared and not yet freed. */
  get live(): boolean {
    return (this.gen & 1) === 1;
  }

  /** Mirrors vchan_tx_submit(). */
  override txSubmit(): number {
    return vchanTxSubmit(this);
  }
}

/** Mirrors struct virt_dma_chan. */
export class VirtDmaChan extends DmaChan {
  readonly descAllocated = new ListHead();
  readonly descSubmitted = new ListHead();
  readonly descIssued = new ListHead();
  readonly descCompleted = new ListHead();
  readonly descTerminated = new ListHead();
  /** The driver's desc_free: return a descriptor to its cache. */
  descFree: (vd: VirtDmaDesc) => void;
  taskletScheduled = false;
  /** Descriptors prepared and not yet freed (prep makes one live, desc_free ends it). */
  liveDescs = 0;
  /** Callbacks dropped because terminate_all emptied the completed list before the tasklet ran. */
  droppedCallbacks = 0;
  private readonly scratch = new ListHead();

  constructor(device: DmaDevice, descFree: (vd: VirtDmaDesc) => void) {
    super(device);
    this.descFree = descFree;
    dmaCookieInit(this);
  }

  /** The tasklet body; public for the event queue. */
  runTasklet(): void {
    vchanComplete(this, this.scratch);
  }
}

/** Mirrors vchan_init(): attach the channel to its device. */
export function vchanInit(vc: VirtDmaChan, device: DmaDevice): void {
  if (vc.device !== device) throw new Error("vchan_init: channel was created for another device");
  device.channels.push(vc);
}

/** Mirrors vchan_tx_submit(): assign the cookie and move to submitted. */
export function vchanTxSubmit(tx: DmaAsyncTxDescriptor): number {
  const vd = tx as VirtDmaDesc;
  const cookie = dmaCookieAssign(vd);
  listDel(vd);
  listAddTail(vd, (vd.chan as VirtDmaChan).descSubmitted);
  return cookie;
}

/** Mirrors vchan_tx_prep(): initialise a descriptor and put it on the allocated list. */
export function vchanTxPrep(vc: VirtDmaChan, vd: VirtDmaDesc, flags: number): VirtDmaDesc {
  vd.chan = vc;
  vd.flags = flags;
  vd.cookie = 0;
  vd.callback = null;
  vd.callbackResult = null;
  vd.callbackParam = null;
  vd.txResult = DMA_RESULT_NOERROR;
  if ((vd.gen & 1) === 0) {
    vd.gen++;
    vc.liveDescs++;
  }
  listAddTail(vd, vc.descAllocated);
  return vd;
}

/** Mirrors vchan_issue_pending(): move submitted to issued; true if anything is issued. */
export function vchanIssuePending(vc: VirtDmaChan): boolean {
  listSpliceTailInit(vc.descSubmitted, vc.descIssued);
  return !listEmpty(vc.descIssued);
}

/** Mirrors vchan_next_desc(): the oldest issued descriptor, or null. */
export function vchanNextDesc(vc: VirtDmaChan): VirtDmaDesc | null {
  const n = vc.descIssued.next;
  return n === vc.descIssued ? null : (n as VirtDmaDesc);
}

function engineOf(vc: VirtDmaChan): DmaEngine {
  return vc.device.engine as DmaEngine;
}

function taskletEvent(vc: VirtDmaChan): void {
  vc.runTasklet();
}

/** Schedule the channel's tasklet (or work item) if it is not already pending. */
function scheduleTasklet(vc: VirtDmaChan): void {
  if (vc.taskletScheduled) return;
  vc.taskletScheduled = true;
  const e = engineOf(vc);
  const delay = vc.device.callbackContext === "workqueue" ? e.params.workqueue_latency : e.params.tasklet_latency;
  e.core.sim.schedule(delay, taskletEvent, vc);
}

/**
 * Mirrors vchan_cookie_complete(): complete the cookie now, queue the descriptor for its callback and
 * schedule the tasklet.
 */
export function vchanCookieComplete(vd: VirtDmaDesc): void {
  const vc = vd.chan as VirtDmaChan;
  dmaCookieComplete(vd);
  listDel(vd);
  listAddTail(vd, vc.descCompleted);
  scheduleTasklet(vc);
}

/** Mirrors vchan_terminate_vdesc(): park the active descriptor on the terminated list. */
export function vchanTerminateVdesc(vd: VirtDmaDesc): void {
  const vc = vd.chan as VirtDmaChan;
  listDel(vd);
  listAddTail(vd, vc.descTerminated);
}

/** Mirrors vchan_vdesc_fini(): free the descriptor, or put it back on allocated if DMA_CTRL_REUSE. */
export function vchanVdescFini(vd: VirtDmaDesc): void {
  const vc = vd.chan as VirtDmaChan;
  if ((vd.flags & DMA_CTRL_REUSE) !== 0 && vc.device.descriptorReuse) {
    listDel(vd);
    listAddTail(vd, vc.descAllocated);
    return;
  }
  listDel(vd);
  if ((vd.gen & 1) === 1) {
    vd.gen++;
    vc.liveDescs--;
  }
  vc.descFree(vd);
}

/** The tasklet: run callbacks of completed descriptors in order, then free them (vchan_complete()). */
function vchanComplete(vc: VirtDmaChan, head: ListHead): void {
  vc.taskletScheduled = false;
  listSpliceTailInit(vc.descCompleted, head);
  if (listEmpty(head)) return;
  const e = engineOf(vc);
  const prev = e.enterContext(vc.device.callbackContext === "workqueue" ? "workqueue" : "tasklet");
  try {
    while (!listEmpty(head)) {
      const vd = head.next as VirtDmaDesc;
      listDel(vd);
      dmaengineDescGetCallbackInvoke(vd, vd.txResult);
      vchanVdescFini(vd);
    }
  } finally {
    e.exitContext(prev);
  }
}

/** Mirrors vchan_get_all_descriptors(): move every list (allocated..terminated) onto `head`. */
export function vchanGetAllDescriptors(vc: VirtDmaChan, head: ListHead): void {
  for (let p = vc.descCompleted.next; p !== vc.descCompleted; p = p.next) vc.droppedCallbacks++;
  listSpliceTailInit(vc.descAllocated, head);
  listSpliceTailInit(vc.descSubmitted, head);
  listSpliceTailInit(vc.descIssued, head);
  listSpliceTailInit(vc.descCompleted, head);
  listSpliceTailInit(vc.descTerminated, head);
}

/** Mirrors vchan_dma_desc_free_list(): free every descriptor on `head`. */
export function vchanDmaDescFreeList(vc: VirtDmaChan, head: ListHead): void {
  while (!listEmpty(head)) {
    const vd = head.next as VirtDmaDesc;
    listDel(vd);
    if ((vd.gen & 1) === 1) {
      vd.gen++;
      vc.liveDescs--;
    }
    vd.cookie = 0;
    vc.descFree(vd);
  }
}

/** Mirrors vchan_free_chan_resources(). */
export function vchanFreeChanResources(vc: VirtDmaChan): void {
  const head = new ListHead();
  vchanGetAllDescriptors(vc, head);
  vchanDmaDescFreeList(vc, head);
}

/**
 * Mirrors vchan_synchronize(): tasklet_kill() — a scheduled tasklet still runs (finding nothing to
 * call back after terminate_all) — then free the terminated descriptors. Task context only.
 */
export function vchanSynchronize(vc: VirtDmaChan): void {
  const e = engineOf(vc);
  if (vc.taskletScheduled) e.core.sim.runUntil(() => !vc.taskletScheduled, undefined, `vchan_synchronize(${vc.name})`);
  const head = new ListHead();
  listSpliceTailInit(vc.descTerminated, head);
  vchanDmaDescFreeList(vc, head);
}

/**
 * A descriptor cache, after the kmem_cache a driver keeps for its descriptors: freed descriptors are
 * reused, so a long run allocates only as many as are ever in flight at once.
 */
export class DescCache<T extends VirtDmaDesc> {
  private readonly free: T[] = [];
  /** Descriptors ever created. */
  created = 0;
  constructor(private readonly make: () => T) {}

  /** Mirrors kmem_cache_zalloc(). */
  alloc(): T {
    const d = this.free.pop();
    if (d !== undefined) return d;
    this.created++;
    return this.make();
  }

  /** Mirrors kmem_cache_free(). */
  release(d: T): void {
    this.free.push(d);
  }
}
