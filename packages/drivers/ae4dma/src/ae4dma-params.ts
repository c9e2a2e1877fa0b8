import { checkParams, defineParamSection, paramDefaults, type ParamTable, type ParamValues } from "@mmemu/driver-kit";

/**
 * Timing of one AE4DMA function (spec dma-hardware.md 5.4). No public AE4DMA figures exist (spec 7.4);
 * every default is a starting value taken from the PTDMA model of the same I/O die where the spec
 * says to reuse it, and marked [U].
 */
export const AE4DMA_PARAMS = {
  functions_per_node: {
    unit: "count", default: 0, min: 0, max: 4, integer: true,
    doc: "AE4DMA functions probed on each NUMA node (as the machine's PCI enumeration would find them); 0 probes none, so a profile that does not ask for AE4DMA gets none.",
    source: "[V] spec 2.1: 2-socket EPYC 9004 (Genoa) shows 8 functions, 4 per node; which CPUs carry AE4DMA is [U], and no shipped profile places it.",
  },
  max_hw_q: {
    unit: "count", default: 16, min: 1, max: 16, integer: true,
    doc: "Hardware queues enabled per function (the module parameter max_hw_q); one dmaengine channel and one MSI-X vector each.",
    source: "[V] ae4dma-pci.c: max_hw_q 1..16 (the driver's default is 1; the emulator enables all 16 so one function can serve dcbm's 16 channels).",
  },
  doorbell_to_fetch: {
    unit: "ns", default: 150, min: 0, max: 100_000, integer: true,
    doc: "From the WR_IDX write (doorbell) until the engine starts fetching at RD_IDX.",
    source: "[U] the PTDMA model's value (spec 5.4: 200 ns suggested).",
  },
  desc_fetch: {
    unit: "ns", default: 250, min: 0, max: 100_000, integer: true,
    doc: "Reading one 32-byte descriptor from the ring; overlapped with the previous copy of the same queue (prefetch).",
    source: "[U] the PTDMA model's value (spec 5.4: 300 ns suggested).",
  },
  desc_setup: {
    unit: "ns", default: 100, min: 0, max: 100_000, integer: true,
    doc: "Per-descriptor engine (firmware) work between decode and the first data beat, overlapped like the fetch.",
    source: "[U] the PTDMA model's value; AE4 is firmware-assisted (spec 2.5), so this may be larger.",
  },
  engine_bw: {
    unit: "GB/s", default: 14, min: 0.1, max: 200,
    doc: "Copy bandwidth of one function, shared by its queues (a fabric server of this capacity).",
    source: "[U] spec 5.4: AE4 unknown, reuse the PTDMA figure (~14 GB/s).",
  },
  iotlb_miss: {
    unit: "ns", default: 150, min: 0, max: 10_000, integer: true,
    doc: "Stall per IOMMU translation a descriptor needs (per IOMMU page touched, per side); zero without a translating IOMMU.",
    source: "[U] the PTDMA model's fitted value (same IOMMU).",
  },
  completion_writeback: {
    unit: "ns", default: 100, min: 0, max: 100_000, integer: true,
    doc: "From the last data beat to the status byte in the descriptor and RD_IDX advancing.",
    source: "[U] spec 5.4 completion_writeback 100 ns.",
  },
  msi_latency: {
    unit: "ns", default: 300, min: 0, max: 1_000_000, integer: true,
    doc: "From INTR_STS latching to the queue's hard-IRQ handler running.",
    source: "[U] the PTDMA model's value (spec 5.4: 700 ns suggested, 500-3000).",
  },
  irq_handler: {
    unit: "ns", default: 250, min: 0, max: 100_000, integer: true,
    doc: "The hard-IRQ handler: read INTR_STS (one MMIO read), ack it (one posted write), wake the queue's worker.",
    source: "[U] one MMIO read (150 ns in the PTDMA model) plus fixed work.",
  },
  worker_per_desc: {
    unit: "ns", default: 100, min: 0, max: 100_000, integer: true,
    doc: "CPU time of the completion worker per retired descriptor (status check, cookie, list work), besides the callback.",
    source: "[U] a starting value.",
  },
} as const satisfies ParamTable;

/** AE4DMA's profile section (`ae4dma.*` in profiles, `--set ae4dma.NAME=value`). */
export const AE4DMA_SECTION = defineParamSection("ae4dma", "AMD AE4DMA functions (drivers/dma/amd/ae4dma): queues, descriptor and interrupt timing", AE4DMA_PARAMS);

export type Ae4dmaParams = ParamValues<typeof AE4DMA_PARAMS>;
export type Ae4dmaParamOverrides = Readonly<Partial<Record<keyof typeof AE4DMA_PARAMS, number>>>;

/** Resolve overrides against the table; every problem is reported by name. */
export function ae4dmaParams(over: Ae4dmaParamOverrides = {}): Ae4dmaParams {
  const problems = checkParams(AE4DMA_PARAMS, over, "ae4dma");
  if (problems.length > 0) throw new RangeError(`invalid AE4DMA parameters:\n  ${problems.join("\n  ")}`);
  return { ...paramDefaults(AE4DMA_PARAMS), ...over } as Ae4dmaParams;
}
