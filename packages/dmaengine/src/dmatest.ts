import { Cost } from "@mmemu/kernel";
import { PAGE_SIZE } from "@mmemu/mm-core";
import {
  DMA_COMPLETE, DMA_CTRL_ACK, DMA_PREP_INTERRUPT, DMA_TRANS_NOERROR, dmaAsyncIsTxComplete, dmaAsyncIssuePending,
  dmaSubmitError, dmaSyncWait, dmaengineGetDmaDevice, dmaenginePrepDmaMemcpy, dmaengineSubmit, dmaengineTerminateSync,
  type DmaChan, type DmaengineResult,
} from "./dmaengine.js";
import { DMA_FROM_DEVICE, DMA_TO_DEVICE, dmaMapPage, dmaMappingError, dmaUnmapPage } from "./dma-mapping.js";
import type { DmaEngine } from "./registry.js";

/**
 * A small client after drivers/dma/dmatest.c: for each iteration it fills the source pages with a
 * fresh pattern, maps source and destination, prepares one memcpy, submits and issues it, waits for
 * the callback (or polls with dma_sync_wait() in polled mode), unmaps, and verifies the destination
 * page digests. Every failure class is counted separately so tests can tell them apart.
 */
export interface DmatestParams {
  /** A channel the caller holds. */
  readonly chan: DmaChan;
  /** First page of the source buffer. */
  readonly srcPfn: number;
  /** First page of the destination buffer. */
  readonly dstPfn: number;
  /** Bytes per transfer: a multiple of PAGE_SIZE, so digests can verify it. @default 4096 */
  readonly len?: number;
  /** @default 1 */
  readonly iterations?: number;
  /** Prepare without DMA_PREP_INTERRUPT and poll (dmatest's `polled`). @default false */
  readonly polled?: boolean;
  /** Wait per transfer in virtual ns (dmatest's `timeout`, 3000 ms). @default 3e9 */
  readonly timeoutNs?: number;
  /** Skip verification (dmatest's `noverify`). @default false */
  readonly noverify?: boolean;
}

/** What one run saw (every counter listed up front). */
export interface DmatestResult {
  iterations: number;
  completed: number;
  mapErrors: number;
  prepFailures: number;
  submitErrors: number;
  timeouts: number;
  /** tx_status said DMA_ERROR (or anything but COMPLETE after the callback). */
  statusErrors: number;
  /** The callback's dmaengine_result was not NOERROR. */
  callbackErrors: number;
  /** Destination pages whose digest differs from the source after a reported success. */
  verifyErrors: number;
  /** Virtual ns from the first prep to the last verify. */
  elapsedNs: number;
}

interface Done {
  fired: boolean;
  result: number;
}

function dmatestCallback(done: Done, res: DmaengineResult): void {
  done.fired = true;
  done.result = res.result;
}

/** Mirrors dmatest_func() for a memcpy test on one channel. */
export function dmatestRun(engine: DmaEngine, p: DmatestParams): DmatestResult {
  const len = p.len ?? PAGE_SIZE;
  const iters = p.iterations ?? 1;
  const timeout = p.timeoutNs ?? 3_000_000_000;
  if (!Number.isInteger(len) || len < PAGE_SIZE || len % PAGE_SIZE !== 0) throw new RangeError(`dmatest: len must be a positive multiple of ${PAGE_SIZE} bytes so digests can verify it, got ${len}`);
  if (!Number.isInteger(iters) || iters < 1) throw new RangeError(`dmatest: iterations must be an integer >= 1, got ${iters}`);
  if (!(timeout > 0)) throw new RangeError(`dmatest: timeoutNs must be > 0, got ${timeout}`);
  const npages = len / PAGE_SIZE;
  for (const [what, pfn] of [["srcPfn", p.srcPfn], ["dstPfn", p.dstPfn]] as const) {
    if (!Number.isInteger(pfn) || pfn < 0 || pfn + npages > engine.mem.totalPages) throw new RangeError(`dmatest: ${what} ${pfn} + ${npages} pages is outside physical memory (${engine.mem.totalPages} pages)`);
  }
  const chan = p.chan;
  const dev = dmaengineGetDmaDevice(chan);
  const mem = engine.mem;
  const sim = engine.core.sim;
  const r: DmatestResult = { iterations: iters, completed: 0, mapErrors: 0, prepFailures: 0, submitErrors: 0, timeouts: 0, statusErrors: 0, callbackErrors: 0, verifyErrors: 0, elapsedNs: 0 };
  const start = sim.now;
  const done: Done = { fired: false, result: DMA_TRANS_NOERROR };
  for (let it = 0; it < iters; it++) {
    mem.fillPages(p.srcPfn, npages, 0x5a000000 + it + 1);
    mem.fillPages(p.dstPfn, npages, 0xdead0000 + it + 1);
    const src = dmaMapPage(dev, p.srcPfn, 0, len, DMA_TO_DEVICE);
    if (dmaMappingError(dev, src)) {
      r.mapErrors++;
      continue;
    }
    const dst = dmaMapPage(dev, p.dstPfn, 0, len, DMA_FROM_DEVICE);
    if (dmaMappingError(dev, dst)) {
      dmaUnmapPage(dev, src, len, DMA_TO_DEVICE);
      r.mapErrors++;
      continue;
    }
    const flags = DMA_CTRL_ACK | (p.polled === true ? 0 : DMA_PREP_INTERRUPT);
    const tx = dmaenginePrepDmaMemcpy(chan, dst, src, len, flags);
    if (tx === null) {
      r.prepFailures++;
      dmaUnmapPage(dev, dst, len, DMA_FROM_DEVICE);
      dmaUnmapPage(dev, src, len, DMA_TO_DEVICE);
      continue;
    }
    done.fired = false;
    done.result = DMA_TRANS_NOERROR;
    if (p.polled !== true) {
      tx.callbackResult = dmatestCallback;
      tx.callbackParam = done;
    }
    const cookie = dmaengineSubmit(tx);
    if (dmaSubmitError(cookie)) {
      r.submitErrors++;
      dmaUnmapPage(dev, dst, len, DMA_FROM_DEVICE);
      dmaUnmapPage(dev, src, len, DMA_TO_DEVICE);
      continue;
    }
    let status: number;
    if (p.polled === true) {
      status = dmaSyncWait(chan, cookie);
    } else {
      dmaAsyncIssuePending(chan);
      engine.chargeTask(Cost.COMPLETION_WAIT, 1);
      sim.runUntil(() => done.fired, timeout, "dmatest wait");
      status = dmaAsyncIsTxComplete(chan, cookie);
    }
    // Polled waits end in DMA_ERROR on timeout too (dma_sync_wait()), so they count as status errors.
    const timedOut = p.polled !== true && !done.fired;
    if (timedOut) {
      r.timeouts++;
      dmaengineTerminateSync(chan);
    } else if (status !== DMA_COMPLETE) {
      r.statusErrors++;
      dmaengineTerminateSync(chan);
    } else if (done.result !== DMA_TRANS_NOERROR) {
      r.callbackErrors++;
    }
    dmaUnmapPage(dev, dst, len, DMA_FROM_DEVICE);
    dmaUnmapPage(dev, src, len, DMA_TO_DEVICE);
    if (timedOut || status !== DMA_COMPLETE) continue;
    r.completed++;
    if (p.noverify === true) continue;
    for (let i = 0; i < npages; i++) {
      if (mem.digest(p.dstPfn + i) !== mem.digest(p.srcPfn + i)) {
        r.verifyErrors++;
        break;
      }
    }
  }
  r.elapsedNs = sim.now - start;
  return r;
}
