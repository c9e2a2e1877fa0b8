import { checkParams, defineParamSection, paramDefaults, type ParamTable, type ParamValues } from "@mmemu/kernel";
import type { CallbackContext } from "@mmemu/dmaengine";

/**
 * Timing of one PTDMA engine and its interrupt path (spec dma-hardware.md 5.4). No public per-engine
 * figures exist (spec 7.2); every default is a starting value, chosen so that one channel moving
 * 4 KiB descriptors takes about 1.5 µs per descriptor end to end and 2 MiB ones run near 14 GB/s
 * (spec 1.13), to be calibrated against the move_pages() data.
 */
export const PTDMA_PARAMS = {
  doorbell_to_fetch: {
    unit: "ns", default: 150, min: 0, max: 100_000, integer: true,
    doc: "From the CONTROL.RUN (doorbell) write until the engine starts fetching the descriptor at HEAD.",
    source: "spec 5.4 doorbell_to_fetch 200 ns, lowered toward the 1-channel 4K point [U].",
  },
  desc_fetch: {
    unit: "ns", default: 250, min: 0, max: 100_000, integer: true,
    doc: "One read of host memory by the engine, request to data: the 32-byte descriptor from the ring, and again the first source data of every copy (the engine writes nothing before that read returns: the pipeline fill).",
    source: "spec 5.4 desc_fetch_latency 300 ns [U]; a DRAM read through the IOMMU and the I/O die, 0.2-1 us plausible (the fit's range). Paid twice per descriptor in the serial chain with msi_latency, irq_handler_fixed and mmio_read_latency, which the data fix only as a sum.",
  },
  desc_setup: {
    unit: "ns", default: 100, min: 0, max: 100_000, integer: true,
    doc: "Per-descriptor engine overhead between decode and the first data beat.",
    source: "spec 5.4 desc_setup 200 ns, lowered toward the 1-channel 4K point [U].",
  },
  chan_bw: {
    unit: "GB/s", default: 14, min: 0.1, max: 200,
    doc: "Copy bandwidth of one engine alone; the engine is a fabric server of this capacity.",
    source: "[D] spec 1.13: dcbm 1 channel moves 2 MiB folios at 12.6 GB/s end to end, so the engine copies at >13 GB/s; with two engines per quadrant, 1 vs 2 channels (12.7 vs 14.4 GB/s) separate it from the quadrant's share.",
  },
  iotlb_miss: {
    unit: "ns", default: 150, min: 0, max: 10_000, integer: true,
    doc: "Engine stall per IOMMU translation a descriptor needs (per IOMMU page touched, per side): an IOTLB miss and the IOMMU's page walk. A 2 MiB folio mapped with a 2 MiB IOMMU page needs one per side; smaller folios one per 4 KiB page (iotlbPages() in @mmemu/platform). Zero without a translating IOMMU.",
    source: "[D] the published 1-channel dcbm rates: 256K and 1M folios move at ~6.5 GB/s in the copy phase and 2M at ~14, i.e. ~0.3 us more per 4 KiB page, two translations; about one DRAM access per walk with the upper levels cached. Fitted by mmemu calibrate.",
  },
  completion_writeback: {
    unit: "ns", default: 100, min: 0, max: 100_000, integer: true,
    doc: "From the last data beat to HEAD advancing and INTERRUPT_STATUS latching.",
    source: "spec 5.4 completion_writeback 100 ns [U].",
  },
  msi_latency: {
    unit: "ns", default: 300, min: 0, max: 1_000_000, integer: true,
    doc: "From the interrupt condition to the hard-IRQ handler's entry (MSI write, APIC, entry code).",
    source: "[U] spec 5.4 msi_latency 700 ns (range 500-3000, the fit's range). It enters the model only through msi_latency + irq_handler_fixed + 3 x mmio_read_latency (any split with the same sum gives every published point bit-identical), which the 1-channel rates fix with the descriptor fetch and pipeline fill (~9 us between descriptors) and nothing splits: where the fit leaves the three (a corner of that flat direction) carries no information; their sum does.",
  },
  irq_handler_fixed: {
    unit: "ns", default: 100, min: 0, max: 100_000, integer: true,
    doc: "Fixed CPU work between the MSI reaching the CPU and the next descriptor's start, excluding MMIO: hard-IRQ entry and exit (with the speculation mitigations), handle_edge_irq(), pt_core_irq_handler(), the virt-dma completion and pt_cmd_callback() starting the next descriptor under the channel lock.",
    source: "spec 5.4 irq_handler_fixed 300 ns [U] for the handler alone; with the generic entry/exit path of an interrupt on a mitigated Zen 3 kernel on the order of 1-2 us [U]. Fitted in zen3-ptdma within 100..3000 ns; only msi_latency + irq_handler_fixed + 3 x mmio_read_latency is identified (see msi_latency).",
  },
  mmio_read_latency: {
    unit: "ns", default: 150, min: 0, max: 10_000, integer: true,
    doc: "One non-posted MMIO read as seen by the IRQ handler (pt_check_status_trans() does three before the completion routine).",
    source: "[U] spec 5.4 mmio_read_latency 500 ns (range 300-1000, the fit's range); a non-posted read of a register of the I/O die. Part of the per-descriptor chain with msi_latency and irq_handler_fixed, which the data fix only as a sum (see msi_latency).",
  },
  mmio_write_cost: {
    unit: "ns", default: 50, min: 0, max: 10_000, integer: true,
    doc: "CPU time of one posted MMIO write issued from the IRQ handler before its next access; the handler issues three before the next descriptor's TAIL_LO doorbell (INT_ENABLE=0, the W1C ack, INT_ENABLE). Task-context writes are charged as Cost.MMIO_WRITE instead.",
    source: "spec 5.4 mmio_write_cost 100 ns [U].",
  },
} as const satisfies ParamTable;

/** PTDMA's profile section. */
export const PTDMA_SECTION = defineParamSection("ptdma", "AMD PTDMA engines (drivers/dma/amd/ptdma): queue, descriptor and interrupt timing", PTDMA_PARAMS);

export type PtdmaParams = ParamValues<typeof PTDMA_PARAMS>;
export type PtdmaParamOverrides = Readonly<Partial<Record<keyof typeof PTDMA_PARAMS, number>>>;

/** Resolve overrides against the table; every problem is reported by name. */
export function ptdmaParams(over: PtdmaParamOverrides = {}): PtdmaParams {
  const problems = checkParams(PTDMA_PARAMS, over, "ptdma");
  if (problems.length > 0) throw new RangeError(`invalid PTDMA parameters:\n  ${problems.join("\n  ")}`);
  return { ...paramDefaults(PTDMA_PARAMS), ...over } as PtdmaParams;
}

/**
 * Fidelity switches of the Linux glue (spec 5.7). Each default reproduces the driver as merged; the
 * alternative is what a fixed driver would do.
 */
export interface PtdmaSwitches {
  /**
   * false (driver): a hardware error is logged, the cookie completes and the callback sees
   * DMA_TRANS_NOERROR. true: tx_status says DMA_ERROR and callback_result gets READ/WRITE_FAILED.
   */
  readonly errorsVisibleToClient: boolean;
  /**
   * true (driver): `int_en` is one flag per device, overwritten by every prep with that descriptor's
   * DMA_PREP_INTERRUPT and read when a descriptor is started. false: interrupts are enabled for a
   * started descriptor unless no issued descriptor on the channel asked for one.
   */
  readonly intEnPerDevice: boolean;
  /** Where client callbacks run: "hardirq" (driver: inline in the IRQ handler or the tx_status caller), or deferred to a tasklet/workqueue. */
  readonly callbackContext: CallbackContext;
  /**
   * false (driver): terminate_all only acks INTERRUPT_STATUS and frees software descriptors; the
   * descriptor in the ring still runs and writes its destination. true: it clears RUN, aborts the
   * engine (writing whatever part of the copy had moved) and flushes the ring.
   */
  readonly terminateStopsHardware: boolean;
  /** Descriptors the glue keeps in the ring per channel: 1 (driver), up to 31 (ring size - 1). */
  readonly maxInFlight: number;
}

export const PTDMA_DEFAULT_SWITCHES: PtdmaSwitches = Object.freeze({
  errorsVisibleToClient: false,
  intEnPerDevice: true,
  callbackContext: "hardirq",
  terminateStopsHardware: false,
  maxInFlight: 1,
});

/** Resolve switch overrides; unknown names and wrong types are errors naming the switch. */
export function ptdmaSwitches(over: Readonly<Partial<PtdmaSwitches>> = {}): PtdmaSwitches {
  const known = Object.keys(PTDMA_DEFAULT_SWITCHES);
  const problems: string[] = [];
  for (const [k, v] of Object.entries(over)) {
    if (!known.includes(k)) {
      problems.push(`ptdma switch "${k}" is unknown (known: ${known.join(", ")})`);
      continue;
    }
    if (k === "callbackContext") {
      if (v !== "hardirq" && v !== "tasklet" && v !== "workqueue") problems.push(`ptdma switch callbackContext must be "hardirq", "tasklet" or "workqueue", got ${JSON.stringify(v)}`);
    } else if (k === "maxInFlight") {
      if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 31) problems.push(`ptdma switch maxInFlight must be an integer in 1..31 (ring of 32, one slot unused), got ${JSON.stringify(v)}`);
    } else if (typeof v !== "boolean") {
      problems.push(`ptdma switch ${k} must be a boolean, got ${JSON.stringify(v)}`);
    }
  }
  if (problems.length > 0) throw new RangeError(`invalid PTDMA switches:\n  ${problems.join("\n  ")}`);
  return { ...PTDMA_DEFAULT_SWITCHES, ...over };
}
