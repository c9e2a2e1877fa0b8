/**
 * Hardware profiles: immutable data describing one machine for the emulator — topology, the IOMMU,
 * and one parameter section per loaded component (the CPU cost model, the fabric, the dmaengine core,
 * each device model and migrator). Every number is a parameter its component declared (unit, default,
 * range, source); the profile knows sections, not drivers, so a plug-in's section is checked, shown,
 * set with --set and fitted like a built-in one. A profile file only lists what differs from the defaults.
 *
 * Profiles are frozen (immer); a variant is derived in one line:
 *   const fast = deriveProfile(zen3, (p) => { p.params.ptdma.chan_bw = 20; });
 */
import { produce, freeze } from "immer";
import { z } from "zod";
import { checkParams, paramDefaults, ParamSchema, type ParamSection, type ParamSpec, type SectionValues } from "@mmemu/kernel";

/** The keys of a profile file that are not parameter sections (no section may take these names). */
export const PROFILE_KEYS = ["name", "description", "topology", "iommu", "free", "bounds", "calibration"] as const;

/**
 * The schema of profiles for a set of components: each component (the CPU cost model, the fabric, the
 * dmaengine core, every device model and migrator, built-in or plug-in) contributes its own section.
 */
export function profileSchema(sections: readonly ParamSection[]): ParamSchema {
  return new ParamSchema(sections, PROFILE_KEYS);
}

/** One NUMA node. */
export interface ProfileNode {
  readonly id: number;
  /** Socket (package); copies between sockets cross the link. */
  readonly socket: number;
  /** CPUs (hardware threads) of the node; 0 for a memory-only node (a CXL memory expander). */
  readonly cpus: number;
  /** Installed memory in GiB (documentation; emulated machines size memory to the workload). */
  readonly mem_gib: number;
  /** This node's memory bandwidth in GB/s (a memory tier's); default fabric.node_mem_bw. */
  readonly mem_bw?: number;
  /** This node's load-to-use memory latency in ns (a memory tier's); slows CPU copies beyond fabric.copy_ref_latency. */
  readonly mem_latency?: number;
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
  /** The sections this profile was validated against (the loaded components). */
  readonly schema: ParamSchema;
  /** Every section of the schema, every parameter filled (file values over declared defaults). */
  readonly params: SectionValues;
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
  -readonly [K in Exclude<keyof HardwareProfile, "schema" | "params">]: HardwareProfile[K] extends readonly (infer E)[]
    ? E[]
    : HardwareProfile[K] extends object ? { -readonly [J in keyof HardwareProfile[K]]: HardwareProfile[K][J] } : HardwareProfile[K];
} & { readonly schema: ParamSchema; params: Record<string, Record<string, number>> };

const numbers = z.record(z.string(), z.unknown());

/** The fixed keys of a profile file; the parameter sections come from the schema. */
const ProfileFileBase = z.object({
  name: z.string().min(1),
  description: z.string().default(""),
  topology: z.object({
    nodes: z.array(z.object({
      id: z.number().int().min(0),
      socket: z.number().int().min(0),
      cpus: z.number().int().min(0),
      mem_gib: z.number().positive(),
      mem_bw: z.number().positive().max(10_000).optional(),
      mem_latency: z.number().positive().max(100_000).optional(),
    }).strict()).min(1),
    ptdma: z.array(z.object({ node: z.number().int().min(0), quadrant: z.number().int().min(0).max(3) }).strict()).default([]),
    sdxi: z.array(z.object({ node: z.number().int().min(0) }).strict()).default([]),
    sdxi_dma_channels: z.number().int().min(1).max(64).default(1),
  }).strict(),
  iommu: z.object({
    mode: z.enum(["off", "passthrough", "translate"]),
    max_seg_size: z.number().int().min(4096),
  }).strict().default({ mode: "translate", max_seg_size: 65536 }),
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
});

const fileSchemas = new WeakMap<ParamSchema, ReturnType<typeof buildFileSchema>>();

function buildFileSchema(schema: ParamSchema) {
  const sections: Record<string, z.ZodDefault<typeof numbers>> = {};
  for (const s of schema.sections) sections[s.name] = numbers.default({});
  return ProfileFileBase.extend(sections).strict();
}

/** The zod shape of a profile file for a schema: the fixed keys and one optional object per section. */
export function profileFileSchema(schema: ParamSchema) {
  let f = fileSchemas.get(schema);
  if (f === undefined) {
    f = buildFileSchema(schema);
    fileSchemas.set(schema, f);
  }
  return f;
}

/** A profile file: the fixed keys and the sections (partial; defaults fill them). */
export type ProfileFile = z.input<typeof ProfileFileBase> & { readonly [section: string]: unknown };


/** A profile that failed validation; `problems` name each offending field or parameter. */
export class ProfileError extends Error {
  constructor(readonly profile: string, readonly problems: readonly string[], readonly file?: string) {
    super(`${file !== undefined ? `${file}: ` : ""}invalid hardware profile "${profile}":\n  ${problems.join("\n  ")}`);
    this.name = "ProfileError";
  }
}

/** Every problem of a (complete or partial) profile object, each naming the field or parameter. */
export function profileProblems(input: unknown, schema: ParamSchema): string[] {
  const parsed = profileFileSchema(schema).safeParse(input);
  if (!parsed.success) {
    return parsed.error.issues.map((i) => {
      const where = i.path.length > 0 ? i.path.join(".") : "(profile)";
      // An unknown top-level key is most often a section whose component is not loaded.
      if (i.code === "unrecognized_keys" && i.path.length === 0) {
        return `${i.keys.map((k) => `"${k}"`).join(", ")}: not a profile key nor a parameter section of the loaded components (sections: ${schema.names.join(", ")})`;
      }
      return `${where}: ${i.message}`;
    });
  }
  const p = parsed.data as z.output<typeof ProfileFileBase> & Record<string, Record<string, unknown>>;
  const problems: string[] = [];
  for (const s of schema.sections) problems.push(...checkParams(s.table, p[s.name] ?? {}, s.name));
  if (p.topology.nodes.every((n) => n.cpus === 0)) problems.push("topology.nodes: no node has CPUs (memory-only nodes need a node with CPUs to migrate from)");
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
    if (schema.spec(f) === undefined) {
      problems.push(`free: "${f}" does not name a parameter (expected section.name with section one of ${schema.names.join(", ")})`);
    }
  }
  for (const [f, [lo, hi]] of Object.entries(p.bounds)) {
    const spec = schema.spec(f);
    if (spec === undefined) problems.push(`bounds: "${f}" does not name a parameter`);
    else if (!(lo <= hi) || lo < spec.min || hi > spec.max) problems.push(`bounds.${f}: [${lo}, ${hi}] must be an interval inside the declared range [${spec.min}, ${spec.max}]`);
  }
  return problems;
}

/** Validate a profile file's content against a schema and fill every section with defaults; the result is frozen. */
export function resolveProfile(input: unknown, schema: ParamSchema): HardwareProfile {
  const problems = profileProblems(input, schema);
  const name = typeof (input as { name?: unknown })?.name === "string" ? (input as { name: string }).name : "(unnamed)";
  if (problems.length > 0) throw new ProfileError(name, problems);
  const p = profileFileSchema(schema).parse(input) as z.output<typeof ProfileFileBase> & Record<string, Record<string, number>>;
  const params: Record<string, Record<string, number>> = {};
  for (const s of schema.sections) params[s.name] = { ...paramDefaults(s.table), ...p[s.name] };
  const out: HardwareProfile = {
    name: p.name,
    description: p.description,
    topology: { nodes: p.topology.nodes, ptdma: p.topology.ptdma, sdxi: p.topology.sdxi, sdxi_dma_channels: p.topology.sdxi_dma_channels },
    iommu: p.iommu,
    schema,
    params,
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
  const problems = profileProblems(profileToFile(next), base.schema);
  if (problems.length > 0) throw new ProfileError(next.name, problems);
  // immer shares untouched sections with the base and freezes the result deeply.
  return next;
}

/**
 * The same profile validated against another schema (e.g. with a plug-in's section added): its
 * file form is parsed again, so values of sections the new schema lacks are an error naming them.
 */
export function withSchema(p: HardwareProfile, schema: ParamSchema): HardwareProfile {
  return p.schema === schema ? p : resolveProfile(profileToFile(p), schema);
}

/**
 * The profile as a file: only what differs from the defaults (plus topology), so a file reads as the
 * list of decisions it makes. A section where nothing differs is left out.
 */
export function profileToFile(p: HardwareProfile): ProfileFile {
  const sections: Record<string, Record<string, number>> = {};
  for (const s of p.schema.sections) {
    const values = p.params[s.name] ?? {};
    const out: Record<string, number> = {};
    for (const [k, spec] of Object.entries(s.table)) if (values[k] !== undefined && values[k] !== spec.default) out[k] = values[k];
    // Values the table does not declare (a draft's typo) stay, so validation names them.
    for (const k of Object.keys(values)) if (!Object.hasOwn(s.table, k)) out[k] = values[k]!;
    if (Object.keys(out).length > 0) sections[s.name] = out;
  }
  for (const k of Object.keys(p.params)) if (p.schema.section(k) === undefined) sections[k] = { ...p.params[k] };
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
    ...sections,
    free: [...p.free],
    bounds: Object.fromEntries(Object.entries(p.bounds).map(([k, v]) => [k, [v[0], v[1]] as [number, number]])),
    ...(p.calibration ? { calibration: { ...p.calibration } } : {}),
  };
}

/** Read one parameter by "section.name". */
export function getParam(p: HardwareProfile, path: string): number {
  const [section, name] = path.split(".") as [string, string];
  const v = p.schema.spec(path) === undefined ? undefined : p.params[section]?.[name];
  if (typeof v !== "number") throw new RangeError(`profile ${p.name}: no parameter "${path}"`);
  return v;
}

/** The declared spec of a parameter by "section.name". */
export function paramSpec(schema: ParamSchema, path: string): ParamSpec {
  const spec = schema.spec(path);
  if (spec === undefined) throw new RangeError(`no parameter "${path}"`);
  return spec;
}

/** A variant with several parameters set by "section.name". */
export function withParams(p: HardwareProfile, values: Readonly<Record<string, number>>): HardwareProfile {
  for (const path of Object.keys(values)) paramSpec(p.schema, path);
  return deriveProfile(p, (d) => {
    for (const [path, v] of Object.entries(values)) {
      const [section, name] = path.split(".") as [string, string];
      d.params[section]![name] = v;
    }
  });
}
