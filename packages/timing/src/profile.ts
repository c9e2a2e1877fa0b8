/**
 * Hardware profiles: immutable data describing one machine for the emulator — topology, CPU-side
 * costs, dmaengine software costs, the IOMMU, the PTDMA engines' and SDXI functions' timing and
 * placement, and the shared bandwidth servers of the fabric. Every number is a declared parameter (unit, default, range, source)
 * of one of the tables below; a profile file only lists what differs from the defaults.
 *
 * Profiles are frozen (immer); a variant is derived in one line:
 *   const fast = deriveProfile(zen3, (p) => { p.ptdma.chan_bw = 20; });
 */
import { produce, freeze } from "immer";
import { z } from "zod";
import { checkParams, paramDefaults, type ParamTable } from "@mmemu/kernel";
import { FABRIC_PARAMS } from "@mmemu/platform";
import { DMAENGINE_PARAMS } from "@mmemu/dmaengine";
import { PTDMA_PARAMS } from "@mmemu/ptdma";
import { SDXI_PARAMS } from "@mmemu/sdxi";
import { CPU_COST_PARAMS } from "./cpu-costs.js";

/** The parameter tables a profile's sections are checked against, by section name. */
export const PROFILE_TABLES = {
  cpu: CPU_COST_PARAMS,
  dmaengine: DMAENGINE_PARAMS,
  ptdma: PTDMA_PARAMS,
  sdxi: SDXI_PARAMS,
  fabric: FABRIC_PARAMS,
} as const satisfies Record<string, ParamTable>;

export type ProfileSection = keyof typeof PROFILE_TABLES;
export const PROFILE_SECTIONS = Object.keys(PROFILE_TABLES) as readonly ProfileSection[];

type Values<T extends ParamTable> = { -readonly [K in keyof T]: number };

/** One NUMA node. */
export interface ProfileNode {
  readonly id: number;
  /** Socket (package); copies between sockets cross the link. */
  readonly socket: number;
  /** CPUs (hardware threads) of the node. */
  readonly cpus: number;
  /** Installed memory in GiB (documentation; emulated machines size memory to the workload). */
  readonly mem_gib: number;
}

/** Where one PTDMA engine sits: NUMA node and I/O-die quadrant (two engines share a quadrant). */
export interface ProfileEngine {
  readonly node: number;
  readonly quadrant: number;
}

/** Where one SDXI function sits (its NUMA node); functions are probed in this order, after the PTDMA engines. */
export interface ProfileSdxiFunction {
  readonly node: number;
}

/** What the calibration that produced a profile recorded (written by `mmemu calibrate`). */
export interface ProfileCalibration {
  /** The measurements file, as given. */
  readonly measurements: string;
  /** The command line that produced the profile. */
  readonly command: string;
  /** Profile the fit started from. */
  readonly base: string;
  /** Objective and error summary over the published cells. */
  readonly cells: number;
  readonly median_abs_error: number;
  readonly max_abs_error: number;
  readonly objective: number;
  readonly evaluations: number;
}

export interface HardwareProfile {
  readonly name: string;
  readonly description: string;
  readonly topology: {
    readonly nodes: readonly ProfileNode[];
    /** PTDMA engines in PCI enumeration order (dma_request_chan_by_mask() hands them out in this order). */
    readonly ptdma: readonly ProfileEngine[];
    /** SDXI functions (drivers/dma/sdxi), registered after the PTDMA engines. */
    readonly sdxi: readonly ProfileSdxiFunction[];
    /** The sdxi driver's `dma_channels` module parameter: channels (client contexts) per function. */
    readonly sdxi_dma_channels: number;
  };
  readonly iommu: {
    /** How device addresses reach memory: "off", "passthrough" or "translate" (IOVA mapping, segment merging). */
    readonly mode: "off" | "passthrough" | "translate";
    /** dma_get_max_seg_size() of the DMA engines, in bytes. */
    readonly max_seg_size: number;
  };
  readonly cpu: Readonly<Values<typeof CPU_COST_PARAMS>>;
  readonly dmaengine: Readonly<Values<typeof DMAENGINE_PARAMS>>;
  readonly ptdma: Readonly<Values<typeof PTDMA_PARAMS>>;
  readonly sdxi: Readonly<Values<typeof SDXI_PARAMS>>;
  readonly fabric: Readonly<Values<typeof FABRIC_PARAMS>>;
  /** Parameters calibration may change, as "section.name" (e.g. "ptdma.chan_bw"). */
  readonly free: readonly string[];
  /**
   * Where calibration may move a free parameter on this machine, by "section.name": the plausible
   * physical range [min, max] (inside the parameter's declared range, which stays what a profile may
   * set). A free parameter without an entry may move over its whole declared range.
   */
  readonly bounds: Readonly<Record<string, readonly [number, number]>>;
  readonly calibration?: ProfileCalibration;
}

/** A mutable draft, as a derive recipe sees it. */
export type ProfileDraft = {
  -readonly [K in keyof HardwareProfile]: HardwareProfile[K] extends readonly (infer E)[]
    ? E[]
    : HardwareProfile[K] extends object ? { -readonly [J in keyof HardwareProfile[K]]: HardwareProfile[K][J] } : HardwareProfile[K];
};

const numbers = z.record(z.string(), z.unknown());

/** The shape of a profile file (sections may be partial; defaults fill them). */
export const ProfileFileSchema = z.object({
  name: z.string().min(1),
  description: z.string().default(""),
  topology: z.object({
    nodes: z.array(z.object({
      id: z.number().int().min(0),
      socket: z.number().int().min(0),
      cpus: z.number().int().min(1),
      mem_gib: z.number().positive(),
    }).strict()).min(1),
    ptdma: z.array(z.object({ node: z.number().int().min(0), quadrant: z.number().int().min(0).max(3) }).strict()).default([]),
    sdxi: z.array(z.object({ node: z.number().int().min(0) }).strict()).default([]),
    sdxi_dma_channels: z.number().int().min(1).max(64).default(1),
  }).strict(),
  iommu: z.object({
    mode: z.enum(["off", "passthrough", "translate"]),
    max_seg_size: z.number().int().min(4096),
  }).strict().default({ mode: "translate", max_seg_size: 65536 }),
  cpu: numbers.default({}),
  dmaengine: numbers.default({}),
  ptdma: numbers.default({}),
  sdxi: numbers.default({}),
  fabric: numbers.default({}),
  free: z.array(z.string()).default([]),
  bounds: z.record(z.string(), z.tuple([z.number(), z.number()])).default({}),
  calibration: z.object({
    measurements: z.string(),
    command: z.string(),
    base: z.string(),
    cells: z.number(),
    median_abs_error: z.number(),
    max_abs_error: z.number(),
    objective: z.number(),
    evaluations: z.number(),
  }).strict().optional(),
}).strict();

export type ProfileFile = z.input<typeof ProfileFileSchema>;

/** A profile that failed validation; `problems` name each offending field or parameter. */
export class ProfileError extends Error {
  constructor(readonly profile: string, readonly problems: readonly string[]) {
    super(`invalid hardware profile "${profile}":\n  ${problems.join("\n  ")}`);
    this.name = "ProfileError";
  }
}

/** Every problem of a (complete or partial) profile object, each naming the field or parameter. */
export function profileProblems(input: unknown): string[] {
  const parsed = ProfileFileSchema.safeParse(input);
  if (!parsed.success) {
    return parsed.error.issues.map((i) => `${i.path.length > 0 ? i.path.join(".") : "(profile)"}: ${i.message}`);
  }
  const p = parsed.data;
  const problems: string[] = [];
  for (const s of PROFILE_SECTIONS) problems.push(...checkParams(PROFILE_TABLES[s], p[s], s));
  const ids = new Set<number>();
  for (const n of p.topology.nodes) {
    if (ids.has(n.id)) problems.push(`topology.nodes: node ${n.id} is declared twice`);
    ids.add(n.id);
  }
  p.topology.ptdma.forEach((e, i) => {
    if (!ids.has(e.node)) problems.push(`topology.ptdma.${i}.node: node ${e.node} is not in topology.nodes`);
  });
  p.topology.sdxi.forEach((e, i) => {
    if (!ids.has(e.node)) problems.push(`topology.sdxi.${i}.node: node ${e.node} is not in topology.nodes`);
  });
  for (const f of p.free) {
    const [section, name, extra] = f.split(".");
    const table = (PROFILE_TABLES as Record<string, ParamTable>)[section ?? ""];
    if (table === undefined || name === undefined || extra !== undefined || table[name] === undefined) {
      problems.push(`free: "${f}" does not name a parameter (expected section.name with section one of ${PROFILE_SECTIONS.join(", ")})`);
    }
  }
  for (const [f, [lo, hi]] of Object.entries(p.bounds)) {
    const [section, name] = f.split(".");
    const spec = (PROFILE_TABLES as Record<string, ParamTable>)[section ?? ""]?.[name ?? ""];
    if (spec === undefined) problems.push(`bounds: "${f}" does not name a parameter`);
    else if (!(lo <= hi) || lo < spec.min || hi > spec.max) problems.push(`bounds.${f}: [${lo}, ${hi}] must be an interval inside the declared range [${spec.min}, ${spec.max}]`);
  }
  return problems;
}

/** Validate a profile file's content and fill every section with defaults; the result is frozen. */
export function resolveProfile(input: unknown): HardwareProfile {
  const problems = profileProblems(input);
  const name = typeof (input as { name?: unknown })?.name === "string" ? (input as { name: string }).name : "(unnamed)";
  if (problems.length > 0) throw new ProfileError(name, problems);
  const p = ProfileFileSchema.parse(input);
  const out: HardwareProfile = {
    name: p.name,
    description: p.description,
    topology: { nodes: p.topology.nodes, ptdma: p.topology.ptdma, sdxi: p.topology.sdxi, sdxi_dma_channels: p.topology.sdxi_dma_channels },
    iommu: p.iommu,
    cpu: { ...paramDefaults(CPU_COST_PARAMS), ...(p.cpu as Record<string, number>) } as HardwareProfile["cpu"],
    dmaengine: { ...paramDefaults(DMAENGINE_PARAMS), ...(p.dmaengine as Record<string, number>) } as HardwareProfile["dmaengine"],
    ptdma: { ...paramDefaults(PTDMA_PARAMS), ...(p.ptdma as Record<string, number>) } as HardwareProfile["ptdma"],
    sdxi: { ...paramDefaults(SDXI_PARAMS), ...(p.sdxi as Record<string, number>) } as HardwareProfile["sdxi"],
    fabric: { ...paramDefaults(FABRIC_PARAMS), ...(p.fabric as Record<string, number>) } as HardwareProfile["fabric"],
    free: p.free,
    bounds: p.bounds as Record<string, readonly [number, number]>,
    ...(p.calibration ? { calibration: p.calibration } : {}),
  };
  return freeze(out, true);
}

/**
 * Derive a variant: the recipe edits a draft (immer), the result is validated and frozen; the base is
 * untouched. Validation errors name the parameter.
 */
export function deriveProfile(base: HardwareProfile, recipe: (draft: ProfileDraft) => void): HardwareProfile {
  const next = produce(base, (d) => {
    recipe(d as unknown as ProfileDraft);
  });
  if (next === base) return base;
  const problems = profileProblems(next);
  if (problems.length > 0) throw new ProfileError(next.name, problems);
  // immer shares untouched sections with the base and freezes the result deeply.
  return next;
}

/**
 * The profile as a file: only what differs from the defaults (plus topology), so a file reads as the
 * list of decisions it makes.
 */
export function profileToFile(p: HardwareProfile): ProfileFile {
  const diff = (table: ParamTable, values: Readonly<Record<string, number>>): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const [k, spec] of Object.entries(table)) if (values[k] !== spec.default) out[k] = values[k]!;
    return out;
  };
  return {
    name: p.name,
    description: p.description,
    topology: {
      nodes: p.topology.nodes.map((n) => ({ ...n })),
      ptdma: p.topology.ptdma.map((e) => ({ ...e })),
      // Only machines with SDXI functions say so, so PTDMA-only files stay as they were.
      ...(p.topology.sdxi.length > 0 ? { sdxi: p.topology.sdxi.map((e) => ({ ...e })), sdxi_dma_channels: p.topology.sdxi_dma_channels } : {}),
    },
    iommu: { ...p.iommu },
    cpu: diff(CPU_COST_PARAMS, p.cpu),
    dmaengine: diff(DMAENGINE_PARAMS, p.dmaengine),
    ptdma: diff(PTDMA_PARAMS, p.ptdma),
    ...(Object.keys(diff(SDXI_PARAMS, p.sdxi)).length > 0 ? { sdxi: diff(SDXI_PARAMS, p.sdxi) } : {}),
    fabric: diff(FABRIC_PARAMS, p.fabric),
    free: [...p.free],
    bounds: Object.fromEntries(Object.entries(p.bounds).map(([k, v]) => [k, [v[0], v[1]] as [number, number]])),
    ...(p.calibration ? { calibration: { ...p.calibration } } : {}),
  };
}

/** Read one parameter by "section.name". */
export function getParam(p: HardwareProfile, path: string): number {
  const [section, name] = path.split(".") as [ProfileSection, string];
  const v = (p[section] as Record<string, number> | undefined)?.[name];
  if (typeof v !== "number") throw new RangeError(`profile ${p.name}: no parameter "${path}"`);
  return v;
}

/** The declared spec of a parameter by "section.name". */
export function paramSpec(path: string) {
  const [section, name] = path.split(".") as [ProfileSection, string];
  const spec = (PROFILE_TABLES[section] as ParamTable | undefined)?.[name];
  if (spec === undefined) throw new RangeError(`no parameter "${path}"`);
  return spec;
}

/** A variant with several parameters set by "section.name". */
export function withParams(p: HardwareProfile, values: Readonly<Record<string, number>>): HardwareProfile {
  return deriveProfile(p, (d) => {
    for (const [path, v] of Object.entries(values)) {
      const [section, name] = path.split(".") as [ProfileSection, string];
      (d[section] as Record<string, number>)[name] = v;
    }
  });
}
