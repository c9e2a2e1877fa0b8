import { Cost } from "@mmemu/kernel";
import {
  DMA_COMPLETE, DMA_MAX_COOKIE, DMA_MIN_COOKIE, DMA_TRANS_NOERROR, dmaAsyncIsComplete,
  type DmaAsyncTxDescriptor, type DmaChan, type DmaengineResult, type DmaTxState,
} from "./dmaengine.js";
import type { DmaEngine } from "./registry.js";

/**
 * The provider-side cookie and callback helpers of drivers/dma/dmaengine.h: cookies are assigned
 * in submission order and completed in that order, and a callback invoked without a result gets
 * DMA_TRANS_NOERROR — the default that makes PTDMA errors invisible to clients (spec 4.5).
 */

/** The NOERROR result used when a driver passes none. */
export const DMA_RESULT_NOERROR: Readonly<DmaengineResult> = Object.freeze({ result: DMA_TRANS_NOERROR, residue: 0 });

/** Mirrors dma_cookie_init(). */
export function dmaCookieInit(chan: DmaChan): void {
  chan.cookie = DMA_MIN_COOKIE;
  chan.completedCookie = DMA_MIN_COOKIE;
}

/** Mirrors dma_cookie_assign(): the next cookie, wrapping from S32_MAX back to DMA_MIN_COOKIE. */
export function dmaCookieAssign(tx: DmaAsyncTxDescriptor): number {
  const chan = tx.chan;
  let cookie = chan.cookie + 1;
  if (cookie > DMA_MAX_COOKIE) cookie = DMA_MIN_COOKIE;
  tx.cookie = chan.cookie = cookie;
  return cookie;
}

/** Mirrors dma_cookie_complete(): the channel's completed cookie moves to this one; the tx forgets it. */
export function dmaCookieComplete(tx: DmaAsyncTxDescriptor): void {
  if (tx.cookie <= 0) throw new Error(`dma_cookie_complete on ${tx.chan.name}: descriptor has cookie ${tx.cookie} (not submitted, or completed twice)`);
  const chan = tx.chan;
  const e = chan.device.engine as DmaEngine;
  if (e.tpComplete.enabled) e.tpComplete.emit({ chan: chan.name, cookie: tx.cookie });
  chan.completedCookie = tx.cookie;
  tx.cookie = 0;
  e.stats.completed++;
}

/** Mirrors dma_cookie_status(): status from cookie order alone; residue 0. Never DMA_ERROR. */
export function dmaCookieStatus(chan: DmaChan, cookie: number, state: DmaTxState | null): number {
  const used = chan.cookie;
  const complete = chan.completedCookie;
  if (state !== null) {
    state.last = complete;
    state.used = used;
    state.residue = 0;
  }
  return dmaAsyncIsComplete(cookie, complete, used);
}

/** Mirrors dma_set_residue(). */
export function dmaSetResidue(state: DmaTxState | null, residue: number): void {
  if (state !== null) state.residue = residue;
}

/**
 * Mirrors dmaengine_desc_get_callback_invoke(): run the client's callback_result (preferred) or
 * callback, in whatever context the caller is in; a null result means NOERROR.
 */
export function dmaengineDescGetCallbackInvoke(tx: DmaAsyncTxDescriptor, result: DmaengineResult | null): void {
  const cbr = tx.callbackResult;
  const cb = tx.callback;
  if (cbr === null && cb === null) return;
  const chan = tx.chan;
  const e = chan.device.engine as DmaEngine;
  const res = result ?? DMA_RESULT_NOERROR;
  if (e.debug !== null) e.debug.callbackRun(tx);
  if (e.tpCallback.enabled) e.tpCallback.emit({ chan: chan.name, context: e.context, result: res.result });
  e.stats.callbacks++;
  if (cbr !== null) cbr(tx.callbackParam, res);
  else cb!(tx.callbackParam);
  e.chargeTask(Cost.DMA_CALLBACK, 1);
}

/** Mirrors dma_run_dependencies(): async_tx chains are not modelled, so nothing runs. */
export function dmaRunDependencies(_tx: DmaAsyncTxDescriptor): void {}

/** Mirrors dma_async_is_complete()'s use in the core: true when the cookie reads as complete. */
export function dmaCookieIsComplete(chan: DmaChan, cookie: number): boolean {
  return dmaAsyncIsComplete(cookie, chan.completedCookie, chan.cookie) === DMA_COMPLETE;
}
