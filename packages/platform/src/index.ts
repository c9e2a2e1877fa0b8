/**
 * @mmemu/platform — the machine's hardware below the kernel: the memory and interconnect fabric
 * (fair-share bandwidth servers, the NUMA node/socket/link topology and its parameters) and the IOMMU
 * (IOVA allocator, IO page table, IOTLB, and the device-side DMA that device models perform).
 */
export { BandwidthServers, FABRIC_MAX_PATH } from "./fair-share.js";
export { Fabric } from "./fabric.js";
export { FABRIC_PARAMS, FABRIC_SECTION } from "./fabric-params.js";
export { IovaDomain } from "./iommu/iova.js";
export { IommuDomain, IOMMU_HUGE_PAGE, iommuPagesOf } from "./iommu/io-pgtable.js";
export { iotlbPages } from "./iommu/iotlb.js";
export { Iommu, IOMMU_MODES } from "./iommu/iommu.js";

export type { FabricServerStats } from "./fair-share.js";
export type { FabricNode, FabricOptions } from "./fabric.js";
export type { FabricParams } from "./fabric-params.js";
export type { IommuMode, DmaMaster, CoherentBuffer, IommuStats } from "./iommu/iommu.js";
