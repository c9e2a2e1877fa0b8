import type { KernelCore, ParamSection } from "@mmemu/kernel";
import type { Fabric, IommuMode } from "@mmemu/platform";
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
  /** The engine's profile section: its hardware parameters (unit, default, range, source). */
  readonly section: ParamSection;
  /** Create and register the engine's functions; returns the registered dmaengine devices. */
  probe(ctx: DmaEngineProbeContext): DmaDevice[];
}

/** Check that `x` has the DmaEngineModule shape; the problems, each naming the export (empty when it fits). */
export function dmaEngineModuleProblems(x: unknown): string[] {
  if (typeof x !== "object" || x === null) return ["is not an object"];
  const o = x as Record<string, unknown>;
  const out: string[] = [];
  if (typeof o["name"] !== "string" || !/^[a-z][a-z0-9_-]{0,31}$/.test(o["name"])) out.push("name must be a lower-case identifier of 1..32 characters");
  const sec = o["section"] as Record<string, unknown> | null | undefined;
  if (typeof sec !== "object" || sec === null || typeof sec["name"] !== "string" || typeof sec["table"] !== "object") out.push("section must be a parameter section (defineParamSection(name, doc, table))");
  if (typeof o["probe"] !== "function") out.push("probe must be a function (ctx) => DmaDevice[]");
  return out;
}
