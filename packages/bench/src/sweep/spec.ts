/**
 * Sweep specs: a design space of benchmark points in a YAML or JSON file. A point is a move_pages(2)
 * run as the seed benchmark does it (workload.ts), described by the fields of {@link PointFields};
 * a spec gives a `base` point, a `grid` (every combination of the listed values of some fields,
 * last axis varying fastest) and/or a list of explicit `points`; with both, every explicit point is
 * combined with every grid combination. `set.<section.name>` axes and `set:` maps change profile
 * parameters. Everything is validated before anything runs, errors naming the field path
 * (grid.channels[2]: ...). docs/sweeps.md describes the format.
 */
import { readFileSync } from "node:fs";
import yaml from "js-yaml";
import { z } from "zod";
import { BUILTIN_ENGINES, BUILTIN_MIGRATORS, BUILTIN_SCHEMA, isPluginPath } from "@mmemu/components";
import { FOLIO_SIZE_NAMES, folioBytes, GiB, type FolioSizeName } from "../workload.js";
import { DEFAULT_PROFILE } from "../commands/profile.js";

/** Figures a sweep can collect per point. `cost` and `counters` are maps (cost kind / counter name). */
export const FIGURES = ["GBps", "first_us", "virtual_ms", "calls", "batches", "folios", "cost", "counters"] as const;
export type FigureName = (typeof FIGURES)[number];
/** The figures that are one number each (charts plot these, or one `cost.KIND` / `counters.NAME`). */
export const SCALAR_FIGURES = ["GBps", "first_us", "virtual_ms", "calls", "batches", "folios"] as const;

/** Migrator values besides plug-in files: "vanilla" (none registered, the kernel's CPU copy per folio) and the built-ins. */
export const MIGRATOR_NAMES: readonly string[] = ["vanilla", ...BUILTIN_MIGRATORS.keys()];
/** Engine values besides plug-in files: "auto" (every built-in engine) and the built-ins, joined with "+" for several. */
export const ENGINE_NAMES: readonly string[] = ["auto", ...BUILTIN_ENGINES.keys()];
/** Largest amount one point may move (points build a machine sized to it). */
export const MAX_AMOUNT = 4 * GiB;
/** Most points one spec may expand to. */
export const MAX_POINTS = 100_000;
/** Largest batch limit (HPAGE_PUD_NR pages, the series' testing patch). */
export const MAX_BATCH_PAGES = 262144;

const SIZE_UNITS: Readonly<Record<string, number>> = { "": 1, B: 1, K: 2 ** 10, KiB: 2 ** 10, M: 2 ** 20, MiB: 2 ** 20, G: 2 ** 30, GiB: 2 ** 30 };

/** Bytes from a number or "64MiB" / "1G" (binary units). */
function parseAmount(v: number | string): number {
  if (typeof v === "number") return v;
  const m = /^\s*(\d+)\s*([A-Za-z]*)\s*$/.exec(v);
  const unit = m === null ? undefined : SIZE_UNITS[m[2]!];
  if (unit === undefined) throw new Error(`"${v}" is not a size (bytes, or e.g. "64MiB", "1G")`);
  return Number(m![1]) * unit;
}

/** grid.channels[2] from a zod issue path. */
function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  const s = path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").replace(/^\./, "");
  return s === "" ? "(top level)" : s;
}

/**
 * A value of the migrator or engine axis: a built-in name, or a plug-in file (a path with a slash or a
 * .ts/.js name, as --migrator/--engine take them). `several`: parts joined with "+" (engines).
 */
function pluginOrName(builtin: readonly string[], what: string, several = false) {
  const ok = (v: string) => builtin.includes(v) || isPluginPath(v);
  return z.string().min(1).refine((v) => (several && v !== "auto" ? v.split("+").every(ok) : ok(v)), {
    message: `expected ${builtin.map((b) => `"${b}"`).join(", ")} or a plug-in file (./my-${what}.ts)${several ? `, several joined with "+"` : ""}`,
  });
}

const SetPath = z.string().regex(/^[a-z_]+\.[a-z0-9_]+$/, "expected section.name, e.g. ptdma.chan_bw");

/** The fields of a point, each optional in a spec (defaults in {@link POINT_DEFAULTS}). */
const FIELD_SCHEMAS = {
  profile: z.string().min(1),
  migrator: pluginOrName(MIGRATOR_NAMES, "migrator"),
  /** The DMA engine drivers probed: "auto" (every built-in), or names/files joined with "+". */
  engine: pluginOrName(ENGINE_NAMES, "engine", true),
  /** dcbm: DMA channels (nr_dma_chan, 1..16); mtcopy: copy threads (1..32). Ignored by vanilla. */
  channels: z.number().int().min(1).max(32),
  folio_size: z.enum(FOLIO_SIZE_NAMES as unknown as [FolioSizeName, ...FolioSizeName[]]),
  /** Bytes moved: a number or a size such as "1GiB", "64M". */
  amount: z.union([z.number(), z.string()]).transform((v, ctx) => {
    let n: number;
    try {
      n = parseAmount(v);
    } catch (e) {
      ctx.addIssue({ code: "custom", message: (e as Error).message });
      return z.NEVER;
    }
    if (!Number.isSafeInteger(n) || n < 4096 || n > MAX_AMOUNT) {
      ctx.addIssue({ code: "custom", message: `amount must be from 4096 bytes to 4 GiB, got ${n}` });
      return z.NEVER;
    }
    return n;
  }),
  /** Folios per move_pages() call ("all": one call). */
  per_call: z.union([z.number().int().min(1), z.literal("all")]),
  /** NR_MAX_BATCHED_MIGRATION in base pages. */
  batch_pages: z.number().int().min(1).max(MAX_BATCH_PAGES),
  seed: z.number().int().min(0).max(2 ** 32 - 1),
  /** Other CPUs in the process's mm_cpumask (they make TLB flushes shootdowns). */
  other_mm_cpus: z.number().int().min(0).max(255),
} as const;

export type FieldName = keyof typeof FIELD_SCHEMAS;
export const POINT_FIELD_NAMES = Object.keys(FIELD_SCHEMAS) as FieldName[];

/** A fully specified point as the spec describes it (before the profile is loaded). */
export interface PointFields {
  readonly profile: string;
  readonly migrator: string;
  readonly engine: string;
  readonly channels: number;
  readonly folio_size: FolioSizeName;
  readonly amount: number;
  readonly per_call: number | "all";
  readonly batch_pages: number;
  readonly seed: number;
  readonly other_mm_cpus: number;
  /** Profile parameters by "section.name". */
  readonly set: Readonly<Record<string, number>>;
}

export const POINT_DEFAULTS: Omit<PointFields, "set"> = {
  profile: DEFAULT_PROFILE, migrator: "vanilla", engine: "auto", channels: 1, folio_size: "4K", amount: GiB,
  per_call: "all", batch_pages: 512, seed: 1, other_mm_cpus: 1,
};

const PartialPoint = z.strictObject({
  ...Object.fromEntries(POINT_FIELD_NAMES.map((f) => [f, FIELD_SCHEMAS[f].optional()])) as { [K in FieldName]: z.ZodOptional<(typeof FIELD_SCHEMAS)[K]> },
  set: z.record(SetPath, z.number()).optional(),
});
type PartialPointT = z.infer<typeof PartialPoint>;

const ChartSchema = z.strictObject({
  /** An axis (grid key or point field). */
  x: z.string(),
  /** A scalar figure, or cost.KIND / counters.NAME. */
  y: z.string(),
  /** An axis whose values become one line each. */
  series: z.string().optional(),
  log_x: z.boolean().optional(),
  log_y: z.boolean().optional(),
});
export type ChartSpec = z.infer<typeof ChartSchema>;

const SpecSchema = z.strictObject({
  version: z.literal(1),
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "a name of letters, digits, _ . -"),
  description: z.string().optional(),
  base: PartialPoint.optional(),
  grid: z.record(z.string(), z.array(z.unknown()).min(1, "an axis needs at least one value")).optional(),
  points: z.array(PartialPoint).min(1).optional(),
  figures: z.array(z.enum(FIGURES)).min(1).optional(),
  charts: z.array(ChartSchema).optional(),
});

/** One expanded point: where it came from and its fields. */
export interface SweepPoint {
  readonly index: number;
  /** The values this point takes on the spec's varying fields (grid axes and explicit-point fields). */
  readonly axes: Readonly<Record<string, string | number>>;
  readonly fields: PointFields;
}

/** A validated, expanded sweep. */
export interface Sweep {
  readonly name: string;
  readonly description: string;
  /** The spec file (plug-in paths are relative to its directory), or "<spec>". */
  readonly file: string;
  /** Names of the axes points vary on, in spec order. */
  readonly axes: readonly string[];
  readonly figures: readonly FigureName[];
  readonly charts: readonly ChartSpec[];
  readonly points: readonly SweepPoint[];
  /** --strict-offload: a point fails when a batch its migrator should have copied fell back to the CPU (part of each point's identity). */
  readonly strictOffload?: boolean;
}

/** A spec that cannot run; `problems` are "path: what was expected" lines. */
export class SweepSpecError extends Error {
  constructor(readonly file: string, readonly problems: readonly string[]) {
    super(`${file}: invalid sweep spec\n  ${problems.join("\n  ")}`);
    this.name = "SweepSpecError";
  }
}

/** The schema of one axis: a point field, or set.<section.name> (a number in the parameter's declared range). */
function axisValue(axis: string, v: unknown, path: string, problems: string[], plugins: boolean): string | number | undefined {
  if (axis.startsWith("set.")) {
    const p = axis.slice(4);
    if (typeof v !== "number" || !Number.isFinite(v)) {
      problems.push(`${path}: expected a number`);
      return undefined;
    }
    return checkParam(p, v, path, problems, plugins) ? v : undefined;
  }
  const r = FIELD_SCHEMAS[axis as FieldName].safeParse(v);
  if (!r.success) {
    problems.push(...r.error.issues.map((i) => `${path}: ${i.message.replace(/^Invalid input: /, "")}`));
    return undefined;
  }
  return r.data;
}

/**
 * A profile parameter exists and `v` is inside its declared range. A sweep that loads plug-ins may set
 * their parameters, which only their files declare: those are checked when the points are resolved.
 */
function checkParam(p: string, v: number, path: string, problems: string[], plugins: boolean): boolean {
  const spec = BUILTIN_SCHEMA.spec(p);
  if (spec === undefined) {
    if (plugins) return true;
    problems.push(`${path}: no profile parameter "${p}" (sections: ${BUILTIN_SCHEMA.names.join(", ")}; see mmemu profile show)`);
    return false;
  }
  if (v < spec.min || v > spec.max || (spec.integer === true && !Number.isInteger(v))) {
    problems.push(`${path}: ${p} = ${v} is outside its declared range ${spec.min}..${spec.max} ${spec.unit}${spec.integer === true ? " (whole numbers)" : ""}`);
    return false;
  }
  return true;
}

function isAxisName(a: string): boolean {
  return (POINT_FIELD_NAMES as readonly string[]).includes(a) || /^set\.[a-z_]+\.[a-z0-9_]+$/.test(a);
}

/** Validate a parsed spec object and expand its points; throws SweepSpecError. */
export function validateSweep(raw: unknown, file = "<spec>"): Sweep {
  const r = SpecSchema.safeParse(raw);
  if (!r.success) {
    throw new SweepSpecError(file, r.error.issues.map((i) => {
      const keys = (i as { keys?: string[] }).keys;
      const text = i.code === "unrecognized_keys" && keys ? `unknown field${keys.length > 1 ? "s" : ""} ${keys.map((k) => `"${k}"`).join(", ")}` : i.message.replace(/^Invalid input: /, "");
      return `${fieldPath(i.path)}: ${text}`;
    }));
  }
  const s = r.data;
  const problems: string[] = [];
  const named = [s.base, ...(s.points ?? [])].flatMap((p) => [p?.migrator, p?.engine]);
  named.push(...((s.grid?.migrator ?? []) as string[]), ...((s.grid?.engine ?? []) as string[]));
  const plugins = named.some((v) => typeof v === "string" && v.split("+").some(isPluginPath));
  const checkSets = (sets: Record<string, number> | undefined, at: string) => {
    for (const [k, v] of Object.entries(sets ?? {})) checkParam(k, v, `${at}.set.${k}`, problems, plugins);
  };
  checkSets(s.base?.set, "base");
  s.points?.forEach((p, i) => checkSets(p.set, `points[${i}]`));
  // Grid axes, their values validated like the fields they set.
  const grid: Array<[string, Array<string | number>]> = [];
  for (const [axis, values] of Object.entries(s.grid ?? {})) {
    if (!isAxisName(axis)) {
      problems.push(`grid.${axis}: not an axis (point fields: ${POINT_FIELD_NAMES.join(", ")}; or set.section.name)`);
      continue;
    }
    const vals: Array<string | number> = [];
    values.forEach((v, i) => {
      const ok = axisValue(axis, v, `grid.${axis}[${i}]`, problems, plugins);
      if (ok !== undefined) vals.push(ok);
    });
    if (new Set(vals).size !== vals.length) problems.push(`grid.${axis}: a value is listed twice`);
    grid.push([axis, vals]);
  }
  // An explicit point may not set what the grid varies (which would win is not obvious).
  s.points?.forEach((p, i) => {
    for (const [axis] of grid) {
      const inPoint = axis.startsWith("set.") ? p.set?.[axis.slice(4)] !== undefined : p[axis as FieldName] !== undefined;
      if (inPoint) problems.push(`points[${i}].${axis}: also a grid axis; set it in one place`);
    }
  });
  const combos = grid.reduce((n, [, v]) => n * v.length, 1) * (s.points?.length ?? 1);
  if (combos > MAX_POINTS) problems.push(`grid: ${combos} points; at most ${MAX_POINTS} (split the sweep)`);
  const charts = s.charts ?? [];
  const figures = s.figures ?? ["GBps", "first_us"];
  if (problems.length > 0) throw new SweepSpecError(file, problems);

  // The axes points vary on, outermost first: fields the explicit points set, then the grid's keys.
  const axes: string[] = [];
  for (const p of s.points ?? []) {
    for (const f of POINT_FIELD_NAMES) if (p[f] !== undefined && !axes.includes(f)) axes.push(f);
    for (const k of Object.keys(p.set ?? {})) if (!axes.includes(`set.${k}`)) axes.push(`set.${k}`);
  }
  axes.push(...grid.map(([a]) => a));
  charts.forEach((c, i) => {
    for (const key of ["x", "series"] as const) {
      const a = c[key];
      if (a !== undefined && !axes.includes(a)) problems.push(`charts[${i}].${key}: "${a}" is not an axis of this sweep (${axes.join(", ") || "none"})`);
    }
    const [fig, sub] = c.y.split(/\.(.*)/s) as [string, string | undefined];
    if ((fig === "cost" || fig === "counters") && sub) {
      if (!figures.includes(fig)) problems.push(`charts[${i}].y: "${c.y}" needs "${fig}" in figures`);
    } else if (!(SCALAR_FIGURES as readonly string[]).includes(c.y)) {
      problems.push(`charts[${i}].y: expected one of ${SCALAR_FIGURES.join(", ")}, cost.KIND or counters.NAME, got "${c.y}"`);
    } else if (!figures.includes(c.y as FigureName)) {
      problems.push(`charts[${i}].y: "${c.y}" is not in figures`);
    }
  });
  if (problems.length > 0) throw new SweepSpecError(file, problems);

  const points: SweepPoint[] = [];
  const base: PartialPointT = s.base ?? {};
  for (const explicit of s.points ?? [{}]) {
    for (const combo of product(grid)) {
      const fields: Record<string, unknown> = { ...POINT_DEFAULTS, ...strip(base), ...strip(explicit) };
      const set: Record<string, number> = { ...base.set, ...explicit.set };
      const axisValues: Record<string, string | number> = {};
      for (const [a, v] of combo) {
        if (a.startsWith("set.")) set[a.slice(4)] = v as number;
        else fields[a] = v;
      }
      // A set.* axis that only some explicit points set is left out of the others' axes.
      for (const a of axes) {
        const v = a.startsWith("set.") ? set[a.slice(4)] : (fields[a] as string | number);
        if (v !== undefined) axisValues[a] = v;
      }
      points.push({ index: points.length, axes: axisValues, fields: { ...(fields as Omit<PointFields, "set">), set } });
    }
  }
  for (const p of points) {
    const f = p.fields;
    if (f.amount < folioBytes(f.folio_size)) problems.push(`point ${p.index} (${describeAxes(p)}): amount ${f.amount} is less than one ${f.folio_size} folio`);
    if (f.migrator === "dcbm" && f.channels > 16) problems.push(`point ${p.index} (${describeAxes(p)}): dcbm takes 1..16 channels (nr_dma_chan), got ${f.channels}`);
    if (problems.length >= 20) break;
  }
  if (problems.length > 0) throw new SweepSpecError(file, problems);
  return { name: s.name, description: s.description ?? "", file, axes, figures, charts, points };
}

function strip(p: PartialPointT): Record<string, unknown> {
  const { set: _set, ...rest } = p;
  return Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
}

/** Every combination of the axes' values, the last axis varying fastest. */
function* product(axes: ReadonlyArray<readonly [string, ReadonlyArray<string | number>]>): Generator<Array<[string, string | number]>> {
  if (axes.length === 0) {
    yield [];
    return;
  }
  const [[name, values], ...rest] = axes as [readonly [string, ReadonlyArray<string | number>], ...Array<readonly [string, ReadonlyArray<string | number>]>];
  for (const v of values) for (const tail of product(rest)) yield [[name, v], ...tail];
}

/** "channels=4 batch_pages=512": a point by its axis values, for messages. */
export function describeAxes(p: SweepPoint): string {
  const parts = Object.entries(p.axes).map(([k, v]) => `${k}=${v}`);
  return parts.length > 0 ? parts.join(" ") : "the base point";
}

/** Parse spec text (YAML when the file ends in .yaml/.yml, else JSON) and validate it. */
export function parseSweep(text: string, file = "<spec>"): Sweep {
  const isYaml = /\.ya?ml$/i.test(file);
  let raw: unknown;
  try {
    raw = isYaml ? yaml.safeLoad(text) : JSON.parse(text);
  } catch (e) {
    throw new SweepSpecError(file, [`not valid ${isYaml ? "YAML" : "JSON"}: ${(e as Error).message.split("\n")[0]}`]);
  }
  return validateSweep(raw, file);
}

/** Read and validate a spec file; throws SweepSpecError. */
export function loadSweepFile(path: string): Sweep {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new SweepSpecError(path, [`cannot read the file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`]);
  }
  return parseSweep(text, path);
}
