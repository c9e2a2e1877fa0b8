import { Completion, EINVAL, EIO, ENODEV, type KernelCore } from "@mmemu/kernel";
import { PAGE_SIZE } from "@mmemu/mm-core";
import {
  DMA_ATTR_NO_KERNEL_MAPPING, DMA_ATTR_SKIP_CPU_SYNC, DMA_CTRL_ACK, DMA_FROM_DEVICE, DMA_MEMCPY, DMA_PREP_INTERRUPT,
  DMA_TO_DEVICE, SgTable, dmaAsyncIssuePending, dmaCapMaskOf, dmaMapSgtable, dmaSubmitError, dmaUnmapSgtable,
  dmaengineGetDmaDevice, dmaenginePrepDmaMemcpy, dmaengineSubmit, dmaengineTerminateSync, isErrPtr, sgAllocTable,
  sgDmaAddress, sgDmaLen, sgSetPage, type DmaChan, type DmaEngine,
} from "@mmemu/dmaengine";

/**
 * The copy step of dcbm (drivers/migrate_offload/dcbm/dcbm.c, v4 style) exactly as spec 4.8
 * describes it, used by the flow test and the benchmark: request up to N channels by mask, one sg
 * table per channel per side, dma_map_sgtable(), one memcpy per segment with the callback (and
 * DMA_PREP_INTERRUPT) only on the last, issue_pending on every channel, wait 10 s per channel, then
 * unmap and release — or terminate_sync, unmap and release on failure.
 */
export interface FolioPair {
  readonly srcPfn: number;
  readonly dstPfn: number;
  /** Base pages in the folio. */
  readonly nr: number;
}

/** dcbm's MAX_DMA_CHANNELS. */
const MAX_DMA_CHANNELS = 16;
const WAIT_NS = 10_000_000_000;

interface DmaWork {
  chan: DmaChan;
  src: SgTable;
  dst: SgTable;
  mapped: number;
  done: Completion;
}

function dmaCallback(w: DmaWork): void {
  w.done.complete();
}

/** Copy `folios` with up to `nrDmaChan` channels; 0 on success or -errno (the caller falls back to CPU copy). */
export function dcbmCopyBatch(core: KernelCore, engine: DmaEngine, folios: readonly FolioPair[], nrDmaChan: number): number {
  const maxCh = Math.min(nrDmaChan, folios.length, MAX_DMA_CHANNELS);
  const mask = dmaCapMaskOf(DMA_MEMCPY);
  const works: DmaWork[] = [];
  for (let i = 0; i < maxCh; i++) {
    const chan = engine.dmaRequestChanByMask(mask, "dcbm");
    if (isErrPtr(chan)) break;
    works.push({ chan, src: new SgTable(core), dst: new SgTable(core), mapped: 0, done: new Completion(core.sim) });
  }
  if (works.length === 0) return -ENODEV;
  let ret = 0;
  const per = Math.floor(folios.length / works.length);
  const extra = folios.length % works.length;
  let next = 0;
  for (let w = 0; w < works.length && ret === 0; w++) {
    const work = works[w]!;
    const n = per + (w < extra ? 1 : 0);
    if (sgAllocTable(work.src, n) !== 0 || sgAllocTable(work.dst, n) !== 0) {
      ret = -EINVAL;
      break;
    }
    for (let i = 0; i < n; i++) {
      const f = folios[next++]!;
      sgSetPage(work.src, i, f.srcPfn, f.nr * PAGE_SIZE, 0);
      sgSetPage(work.dst, i, f.dstPfn, f.nr * PAGE_SIZE, 0);
    }
    const dev = dmaengineGetDmaDevice(work.chan);
    const attrs = DMA_ATTR_SKIP_CPU_SYNC | DMA_ATTR_NO_KERNEL_MAPPING;
    ret = dmaMapSgtable(dev, work.src, DMA_TO_DEVICE, attrs);
    if (ret !== 0) break;
    work.mapped = 1;
    ret = dmaMapSgtable(dev, work.dst, DMA_FROM_DEVICE, attrs);
    if (ret !== 0) break;
    work.mapped = 2;
    if (work.src.nents !== work.dst.nents) {
      ret = -EINVAL; // an IOMMU merged the two sides differently
      break;
    }
    const last = work.src.nents - 1;
    for (let i = 0; i <= last; i++) {
      const flags = DMA_CTRL_ACK | (i === last ? DMA_PREP_INTERRUPT : 0);
      const tx = dmaenginePrepDmaMemcpy(work.chan, sgDmaAddress(work.dst, i), sgDmaAddress(work.src, i), sgDmaLen(work.src, i), flags);
      if (tx === null) {
        ret = -EIO;
        break;
      }
      if (i === last) {
        tx.callback = dmaCallback;
        tx.callbackParam = work;
      }
      if (dmaSubmitError(dmaengineSubmit(tx))) {
        ret = -EIO;
        break;
      }
    }
  }
  if (ret === 0) {
    for (const w of works) dmaAsyncIssuePending(w.chan);
    for (const w of works) {
      if (w.done.waitTimeout(WAIT_NS) === 0) {
        ret = -EIO; // the 10 s timeout
        break;
      }
    }
  }
  for (const w of works) {
    if (ret !== 0 && w.mapped > 0) dmaengineTerminateSync(w.chan);
    const dev = dmaengineGetDmaDevice(w.chan);
    if (w.mapped >= 2) dmaUnmapSgtable(dev, w.dst, DMA_FROM_DEVICE);
    if (w.mapped >= 1) dmaUnmapSgtable(dev, w.src, DMA_TO_DEVICE);
    engine.dmaReleaseChannel(w.chan);
  }
  return ret;
}
