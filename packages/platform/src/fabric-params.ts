import { defineParamSection, type ParamTable, type ParamValues } from "@mmemu/kernel";

/** The fabric's physical parameters (profile section `fabric`). */
export const FABRIC_PARAMS = {
  node_mem_bw: {
    unit: "GB/s", default: 150, min: 1, max: 2000,
    doc: "Memory-controller bandwidth of one NUMA node, shared by every read and write that node serves (a same-node copy crosses it twice).",
    source: "spec dma-hardware.md 5.4: Zen 3 8-channel DDR4-3200 is ~204 GB/s peak; ~150 GB/s sustained assumed [U].",
  },
  xsocket_link_bw: {
    unit: "GB/s", default: 65, min: 1, max: 2000,
    doc: "Cross-socket (xGMI) bandwidth per direction, shared by every copy whose source and destination sit on different sockets.",
    source: "[D] the dcbm 2M rows at 16 channels: first-folio latency grows by ~27.5 us per 2 MiB folio (N >= 8192 pages), of which the CPU work before the copy is ~7-9 us, so 16 engines on 8 quadrants (~140 GB/s together) copy at ~100-115 GB/s: the link, the one server they all cross. xGMI on Milan is 3 or 4 x16 links per socket pair at 16-18 GT/s, 96-144 GB/s per direction raw, less packet and protocol overhead (75-145 GB/s plausible). zen3-ptdma-base fixes it at 110: fitted in 75..145 it went to 116 against cpu.pmd_unmap (the data fix only the sum of the CPU work and the copy per folio) and predicted worse out of sample (docs/timing.md).",
  },
  iod_quadrant_bw: {
    unit: "GB/s", default: 0, min: 0, max: 2000,
    doc: "Bandwidth of one I/O-die quadrant shared by its pair of PTDMA engines; 0 means not modelled (no such server).",
    source: "[D] dcbm 2M: 1 channel 12.7 GB/s, 2 channels 14.4, 4 channels 27.0 (the first two engines share quadrant 0, the next two quadrant 1): two engines of a quadrant share ~15-17 GB/s. 0 disables the server.",
  },
  copy_ref_latency: {
    unit: "ns", default: 200, min: 1, max: 100_000,
    doc: "Load-to-use memory latency at which one CPU thread copies at cpu.cpu_copy_bw (the farther of the two nodes of the copies cpu_copy_bw was measured on). A thread keeps a fixed number of cache-line misses in flight, so a copy touching a node of longer latency (a CXL memory node's mem_latency) runs at cpu_copy_bw x copy_ref_latency / that latency (Little's law); nodes without a mem_latency do not scale.",
    source: "[U] Zen 3 2P: ~110-120 ns to local and ~190-210 ns to the other socket's DRAM (AnandTech's and Chips and Cheese's EPYC 7003 latency measurements); cpu_copy_bw is fitted on node 0 -> node 1 copies, so the remote figure.",
  },
} as const satisfies ParamTable;

/** The fabric's profile section (declared here, with the model it times). */
export const FABRIC_SECTION = defineParamSection("fabric", "Shared bandwidth servers: node memory controllers, the cross-socket link, I/O-die quadrants; how memory latency limits a CPU copy", FABRIC_PARAMS);

export type FabricParams = ParamValues<typeof FABRIC_PARAMS>;
