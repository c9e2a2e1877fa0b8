import type { Fabric, KernelCore, ParamTable } from "@mmemu/kernel";
import type { IommuMode } from "./dma-mapping.js";
import type { DmaDevice } from "./dmaengine.js";
import type { DmaEngine } from "./registry.js";

/**
 * The shape of a DMA engine model as a module (a built-in driver package or a plug-in file): a name,
 * its declared hardware parameters, and a probe that creates its functions on a machine and registers
 * them with the machine's dmaengine core — what a PCI driver's probe() does for each function it
 * finds. The conformance kit (dmatest) and the machine builders take engines in this shape.
 */
export interface DmaEngineProbeContext {
  readonly core: KernelCore;
  readonly dma: DmaEngine;
  readonly fabric: Fabric;
  /** The NUMA nodes to place functions on, one function per entry, in PCI order. */
  readonly nodes: readonly number[];
  /** Overrides of the engine's declared parameters, by name (validated by the engine). */
  readonly params: Readonly<Record<string, number>>;
  /** IOMMU mode of every function. */
  readonly iommu: IommuMode;
}

export interface DmaEngineModule {
  /** Short name: `--engine NAME`, the prefix of its fault points and of its profile section. */
  readonly name: string;
  /** The engine's hardware parameters (unit, default, range, source). */
  readonly params: ParamTable;
  /** Create and register the engine's functions; returns the registered dmaengine devices. */
  probe(ctx: DmaEngineProbeContext): DmaDevice[];
}

/** Check that `x` has the DmaEngineModule shape; the problems, each naming the export (empty when it fits). */
export function dmaEngineModuleProblems(x: unknown): string[] {
  if (typeof x !== "object" || x === null) return ["is not an object"];
  const o = x as Record<string, unknown>;
  const out: string[] = [];
  if (typeof o["name"] !== "string" || !/^[a-z][a-z0-9_-]{0,31}$/.test(o["name"])) out.push("name must be a lower-case identifier of 1..32 characters");
  if (typeof o["params"] !== "object" || o["params"] === null) out.push("params must be a parameter table (an object, possibly empty)");
  if (typeof o["probe"] !== "function") out.push("probe must be a function (ctx) => DmaDevice[]");
  return out;
}
