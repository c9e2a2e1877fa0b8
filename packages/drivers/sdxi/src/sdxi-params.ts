import { checkParams, defineParamSection, paramDefaults, type ParamTable, type ParamValues } from "@mmemu/kernel";

/**
 * Timing of one SDXI function (spec dma-hardware.md 5.4). No SDXI silicon data is public (spec 7.6):
 * the engine figures reuse the PTDMA starting values and every default is [U].
 */
export const SDXI_PARAMS = {
  doorbell_to_fetch: { unit: "ns", default: 200, min: 0, max: 100_000, integer: true, doc: "From a doorbell write until the function reads Write_Index and starts fetching.", source: "spec 5.4 doorbell_to_fetch [U]." },
  desc_fetch: { unit: "ns", default: 300, min: 0, max: 100_000, integer: true, doc: "One read of host memory by the function, request to data: a 64-byte descriptor from the context's ring, and again the first source data of every copy (the data mover writes nothing before that read returns: the pipeline fill).", source: "spec 5.4 desc_fetch_latency [U]; the fill as in the PTDMA model." },
  desc_setup: { unit: "ns", default: 200, min: 0, max: 100_000, integer: true, doc: "Per-descriptor overhead between decode and the first data beat.", source: "spec 5.4 desc_setup [U]." },
  chan_bw: { unit: "GB/s", default: 14, min: 0.1, max: 400, doc: "Copy bandwidth of the function's data mover, shared by all its contexts (a fabric server).", source: "spec 5.4: no SDXI data; the PTDMA figure reused [U]." },
  completion_writeback: { unit: "ns", default: 100, min: 0, max: 100_000, integer: true, doc: "From the last data beat to the CST_BLK decrement (and Read_Index update).", source: "spec 5.4 completion_writeback [U]." },
  msi_latency: { unit: "ns", default: 700, min: 0, max: 1_000_000, integer: true, doc: "From a DSC_INTR (or an error-log interrupt) to the hard-IRQ handler's entry.", source: "spec 5.4 msi_latency [U]." },
  irq_handler_fixed: { unit: "ns", default: 300, min: 0, max: 100_000, integer: true, doc: "Fixed CPU work of the IRQ handler before it walks the issued list.", source: "spec 5.4 irq_handler_fixed [U]." },
  max_inflight: { unit: "count", default: 4, min: 1, max: 64, integer: true, doc: "Descriptors one context executes at once when completion order is outOfOrderWithoutFence (inOrder runs one).", source: "spec 5.4 AE4/SDXI pipelining, a starting value [U]." },
  state_change_latency: { unit: "ns", default: 10_000, min: 0, max: 1_000_000_000, integer: true, doc: "Time the function takes to move between global states (STOP, ACTIVE) after a GSR write.", source: "assumption; the driver polls every ~1 ms for up to 1 s (spec 3.2) [U]." },
  vl_poll_interval: { unit: "ns", default: 0, min: 0, max: 1_000_000_000, integer: true, doc: "How often a context stalled on a slot with VL=0 re-reads it; 0 = only on the next doorbell.", source: "spec 3.4: whether the function polls is unknown [U]." },
} as const satisfies ParamTable;

/** SDXI's profile section. */
export const SDXI_SECTION = defineParamSection("sdxi", "SDXI functions (drivers/dma/sdxi): descriptor ring and completion timing", SDXI_PARAMS);

export type SdxiParams = ParamValues<typeof SDXI_PARAMS>;
export type SdxiParamOverrides = Readonly<Partial<Record<keyof typeof SDXI_PARAMS, number>>>;

export function sdxiParams(over: SdxiParamOverrides = {}): SdxiParams {
  const problems = checkParams(SDXI_PARAMS, over, "sdxi");
  if (problems.length > 0) throw new RangeError(`invalid SDXI parameters:\n  ${problems.join("\n  ")}`);
  return { ...paramDefaults(SDXI_PARAMS), ...over } as SdxiParams;
}

/** Fidelity switches (spec 5.7 items 7-8). */
export interface SdxiSwitches {
  /**
   * true (the v4 plan): the IRQ handler reports a CST_BLK with ER as DMA_TRANS_ABORTED and tx_status
   * keeps saying DMA_ERROR. false (v3): the IRQ path completes it as a success; only a tx_status poll
   * that finds the descriptor before the interrupt sees DMA_ERROR.
   */
  readonly irqReportsErrors: boolean;
  /**
   * "inOrder": a context executes one descriptor at a time. "outOfOrderWithoutFence": descriptors
   * without FE run concurrently (up to max_inflight) and may complete, and signal, out of order.
   */
  readonly completionOrder: "inOrder" | "outOfOrderWithoutFence";
}

export const SDXI_DEFAULT_SWITCHES: SdxiSwitches = Object.freeze({ irqReportsErrors: true, completionOrder: "inOrder" });

export function sdxiSwitches(over: Readonly<Partial<SdxiSwitches>> = {}): SdxiSwitches {
  const known = Object.keys(SDXI_DEFAULT_SWITCHES);
  const problems: string[] = [];
  for (const [k, v] of Object.entries(over)) {
    if (!known.includes(k)) problems.push(`sdxi switch "${k}" is unknown (known: ${known.join(", ")})`);
    else if (k === "completionOrder" && v !== "inOrder" && v !== "outOfOrderWithoutFence") problems.push(`sdxi switch completionOrder must be "inOrder" or "outOfOrderWithoutFence", got ${JSON.stringify(v)}`);
    else if (k === "irqReportsErrors" && typeof v !== "boolean") problems.push(`sdxi switch irqReportsErrors must be a boolean, got ${JSON.stringify(v)}`);
  }
  if (problems.length > 0) throw new RangeError(`invalid SDXI switches:\n  ${problems.join("\n  ")}`);
  return { ...SDXI_DEFAULT_SWITCHES, ...over };
}
