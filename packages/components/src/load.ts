/**
 * Loading components by name or by file: `--migrator dcbm` finds the built-in module, `--migrator
 * ./sgbm.ts` imports the file (TypeScript through tsx's loader, `@mmemu/driver-kit` resolved to this
 * checkout from wherever the file is), and both are validated against the same module shape before
 * anything runs. Every failure is one line naming the file (or option), the export and what is wrong.
 */
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { z } from "zod";
import { defineParamSection, PARAM_NAME, SECTION_NAME, type ParamSchema, type ParamSection } from "@mmemu/kernel";
import type { Machine } from "@mmemu/mm-core";
import { migrateOffloadOf } from "@mmemu/offload-api";
import { dmaengineTerminateSync, listCount, VirtDmaChan, type DmaEngine } from "@mmemu/dmaengine";
import { registerDriverKitResolution, type EngineModule, type MigratorModule, type PluginModule } from "@mmemu/driver-kit";
import { BUILTIN_ENGINES, BUILTIN_MIGRATORS, BUILTIN_SCHEMA, DEFAULT_MIGRATOR } from "./builtin.js";

export type ComponentKind = "migrator" | "engine";

/** A plug-in that cannot be loaded, or that failed while running; the message is complete. */
export class PluginError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PluginError";
  }
}

/** What to load: names of built-ins or paths of plug-in files. */
export interface ComponentSelection {
  /** @default "dcbm" */
  readonly migrator?: string;
  /** @default every built-in engine */
  readonly engines?: readonly string[];
}

/** A loaded, validated set of components and the profile schema they make. */
export interface Components {
  readonly migrator: MigratorModule;
  readonly engines: readonly EngineModule[];
  /** Built-in sections plus every loaded plug-in's. */
  readonly schema: ParamSchema;
  /** The same selection with paths made absolute (what a worker thread loads again). */
  readonly selection: { readonly migrator: string; readonly engines: readonly string[] };
  /** Absolute paths of the plug-in files loaded (their stack frames are the ones reported). */
  readonly files: readonly string[];
}

/** The file names node (with tsx) loads as modules. */
const MODULE_FILE = /\.(c|m)?(t|j)s$/;

/** A specifier names a file (rather than a built-in) when it has a slash or a script extension. */
export function isPluginPath(spec: string): boolean {
  return spec.includes("/") || spec.includes("\\") || MODULE_FILE.test(spec);
}

const fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === "function", { message: "expected a function" });
const SpecShape = z.object({
  unit: z.enum(["ns", "us", "ms", "GB/s", "bytes", "count", "ratio", "bool"]),
  default: z.number(),
  min: z.number(),
  max: z.number(),
  integer: z.boolean().optional(),
  doc: z.string().min(1),
  source: z.string().min(1),
});
const SectionShape = z.object({
  name: z.string().regex(SECTION_NAME),
  doc: z.string(),
  table: z.record(z.string().regex(PARAM_NAME, "parameter names are lower case letters, digits and _"), SpecShape),
});
const Name = z.string().regex(/^[a-z][a-z0-9_]*$/, "expected lower case letters, digits and _, starting with a letter");
const ModuleParamsShape = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.object({
  doc: z.string().min(1), default: z.union([z.boolean(), z.string()]), values: z.array(z.string()).min(1).optional(),
}));
const EngineShape = z.object({ kind: z.literal("engine"), name: Name, description: z.string(), params: SectionShape.optional(), moduleParams: ModuleParamsShape.optional(), probe: fn });
const MigratorShape = z.object({
  kind: z.literal("migrator"), name: Name, description: z.string(), params: SectionShape.optional(), moduleParams: ModuleParamsShape.optional(),
  usesDma: z.boolean(), enableAttr: z.string().min(1), channelsAttr: z.string().min(1).optional(), load: fn,
});

/** Check what a module exports against the shape of its kind; the one-line reason, or null when valid. */
export function moduleProblem(exports: Record<string, unknown>, kind: ComponentKind): string | null {
  const mod = exports.default;
  const define = kind === "engine" ? "defineEngine" : "defineMigrator";
  if (mod === undefined) {
    const others = Object.keys(exports).filter((k) => k !== "default");
    return `export "default": missing (the file must \`export default ${define}({ ... })\`${others.length > 0 ? `; it exports ${others.join(", ")}` : ""})`;
  }
  if (typeof mod === "object" && mod !== null && "kind" in mod && (mod as { kind: unknown }).kind !== kind && ((mod as { kind: unknown }).kind === "engine" || (mod as { kind: unknown }).kind === "migrator")) {
    return `export "default": is ${(mod as { kind: string }).kind === "engine" ? "an engine" : "a migrator"} (kind "${(mod as { kind: string }).kind}"), not a ${kind}`;
  }
  const parsed = (kind === "engine" ? EngineShape : MigratorShape).safeParse(mod);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    const path = i.path.map(String).join(".");
    let at: unknown = mod;
    for (const k of i.path) at = at === null || typeof at !== "object" ? undefined : (at as Record<PropertyKey, unknown>)[k as PropertyKey];
    const missing = at === undefined;
    return `export "default"${path ? `.${path}` : ""}: ${missing ? `missing (${i.message.replace(/, received undefined$/, "").replace(/^Invalid input: /, "")})` : i.message}`;
  }
  const p = (mod as PluginModule).params;
  if (p !== undefined) {
    if (p.name !== (mod as PluginModule).name) return `export "default".params.name: "${p.name}" must be the module's name "${(mod as PluginModule).name}" (its profile section)`;
    try {
      defineParamSection(p.name, p.doc, p.table);
    } catch (e) {
      return `export "default".params: ${(e as Error).message}`;
    }
  }
  return null;
}

/** The stack frames of an error that lie in the plug-in files (what a plug-in author needs to see). */
export function pluginFrames(e: unknown, files: readonly string[]): string[] {
  const stack = e instanceof Error && typeof e.stack === "string" ? e.stack : "";
  const urls = files.map((f) => pathToFileURL(f).href);
  return stack.split("\n").filter((l) => /^\s+at /.test(l) && (files.some((f) => l.includes(f)) || urls.some((u) => l.includes(u))));
}

/** The root of this checkout: frames outside it (and outside node) are a plug-in's. */
const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** Stack frames that are neither mmemu's nor node's: the plug-in's own, wherever its files live. */
export function foreignFrames(e: unknown): string[] {
  const stack = e instanceof Error && typeof e.stack === "string" ? e.stack : "";
  return stack.split("\n").filter((l) => /^\s+at /.test(l) && !l.includes(REPO_ROOT) && !l.includes(pathToFileURL(REPO_ROOT).href) && /\//.test(l) && !l.includes("node:"));
}

/**
 * A plug-in's exception (from a probe, a module_init, a device event) as one message with the
 * plug-in's own stack frames; mmemu's own errors pass through unchanged.
 */
export function pluginError(e: unknown, what: string): unknown {
  const frames = foreignFrames(e);
  if (frames.length === 0 || e instanceof PluginError) return e;
  return new PluginError(`${what} threw: ${describe(e)}\n${frames.join("\n")}`);
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Load one component by built-in name or file path. */
export async function loadComponent(spec: string, kind: ComponentKind, cwd = process.cwd()): Promise<{ module: PluginModule; file: string | null }> {
  const option = kind === "engine" ? "--engine" : "--migrator";
  if (!isPluginPath(spec)) {
    const table: ReadonlyMap<string, PluginModule> = kind === "engine" ? BUILTIN_ENGINES : BUILTIN_MIGRATORS;
    const mod = table.get(spec);
    if (mod === undefined) throw new PluginError(`${option} "${spec}": not a built-in ${kind} (${[...table.keys()].join(", ")}) nor a file (give a path such as ./${spec}.ts)`);
    const problem = moduleProblem({ default: mod }, kind);
    if (problem !== null) throw new PluginError(`${option} ${spec} (built-in): ${problem}`);
    return { module: mod, file: null };
  }
  const file = spec.startsWith("file:") ? fileURLToPath(spec) : resolve(cwd, spec);
  if (!existsSync(file) || !statSync(file).isFile()) throw new PluginError(`${option} ${spec}: no such file (${file})`);
  // Node would run any other file as CommonJS and fail on its first line with an error about that line.
  if (!MODULE_FILE.test(file)) throw new PluginError(`${option} ${spec}: not a TypeScript or JavaScript module (expected a .ts, .mts, .cts, .js, .mjs or .cjs file; mmemu new writes one)`);
  registerDriverKitResolution();
  let exports: Record<string, unknown>;
  try {
    exports = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    const frames = pluginFrames(e, [file]);
    throw new PluginError(`${option} ${spec}: cannot load ${file}: ${describe(e).split("\n")[0]}${frames.length > 0 ? `\n${frames.join("\n")}` : ""}`);
  }
  const problem = moduleProblem(exports, kind);
  if (problem !== null) throw new PluginError(`${option} ${spec}: ${problem}`);
  return { module: exports.default as PluginModule, file };
}

/** Load and validate a selection; the schema has every built-in section plus the plug-ins'. */
export async function loadComponents(sel: ComponentSelection = {}, cwd = process.cwd()): Promise<Components> {
  const files: string[] = [];
  const mig = await loadComponent(sel.migrator ?? DEFAULT_MIGRATOR, "migrator", cwd);
  if (mig.file !== null) files.push(mig.file);
  const engines: EngineModule[] = [];
  const engineSpecs: string[] = [];
  const seen = new Set<string>();
  for (const spec of sel.engines ?? [...BUILTIN_ENGINES.keys()]) {
    const e = await loadComponent(spec, "engine", cwd);
    if (seen.has(e.module.name)) throw new PluginError(`--engine ${spec}: an engine named "${e.module.name}" is already loaded`);
    seen.add(e.module.name);
    engines.push(e.module as EngineModule);
    engineSpecs.push(e.file ?? spec);
    if (e.file !== null) files.push(e.file);
  }
  const extra: ParamSection[] = [];
  for (const m of [mig.module, ...engines]) if (m.params !== undefined) extra.push(m.params);
  let schema: ParamSchema;
  try {
    schema = BUILTIN_SCHEMA.with(extra);
  } catch (e) {
    throw new PluginError(`plug-in parameters: ${(e as Error).message}`);
  }
  return {
    migrator: mig.module as MigratorModule, engines, schema,
    selection: { migrator: mig.file ?? (sel.migrator ?? DEFAULT_MIGRATOR), engines: engineSpecs }, files,
  };
}

/** The built-in selection, available without awaiting (dcbm and every built-in engine). */
export const BUILTIN_COMPONENTS: Components = Object.freeze({
  migrator: BUILTIN_MIGRATORS.get(DEFAULT_MIGRATOR)!,
  engines: Object.freeze([...BUILTIN_ENGINES.values()]),
  schema: BUILTIN_SCHEMA,
  selection: Object.freeze({ migrator: DEFAULT_MIGRATOR, engines: Object.freeze([...BUILTIN_ENGINES.keys()]) }),
  files: Object.freeze([]),
});

/**
 * The DMA channels a client still holds when a migrator has thrown, named with their holder and the
 * descriptors they had submitted or issued, each terminated (dmaengine_terminate_sync) so that no late
 * completion writes into a folio the core has since moved on from. The run stops after an oops; this
 * leaves the stopped machine quiescent and tells the author what their module left behind.
 */
export function reclaimHeldChannels(dma: DmaEngine | null): string[] {
  if (dma === null) return [];
  const out: string[] = [];
  for (const d of dma.devices) {
    for (const c of d.channels) {
      if (c.clientCount === 0) continue;
      const inFlight = c instanceof VirtDmaChan ? `, ${listCount(c.descSubmitted) + listCount(c.descIssued)} descriptors submitted or issued` : "";
      out.push(`${c.name} (held by ${c.dbgClientName ?? "a client"}${inFlight})`);
      dmaengineTerminateSync(c);
    }
  }
  return out;
}

/**
 * After each call into the machine: a migrator that threw (its batch fell back to the CPU, so the
 * folios are consistent) stops the run here, reported with the plug-in's own stack frames and the DMA
 * channels still held at that point (reclaimHeldChannels, when the machine has a dmaengine).
 */
export function throwIfOops(m: Machine, files: readonly string[], dma: DmaEngine | null = null): void {
  const st = migrateOffloadOf(m);
  if (st === undefined || st === null || st.oopses.length === 0) return;
  const { migrator, error } = st.oopses[0]!;
  const frames = pluginFrames(error, files);
  const shown = frames.length > 0 ? frames : (error instanceof Error && error.stack ? error.stack.split("\n").filter((l) => /^\s+at /.test(l)).slice(0, 5) : []);
  const held = reclaimHeldChannels(dma);
  const channels = held.length > 0 ? `; DMA channels still held, now terminated: ${held.join(", ")}` : "";
  throw new PluginError(`migrator ${migrator} threw in offload_copy: ${describe(error)} (the batch fell back to the CPU copy; the machine is consistent${channels})${shown.length > 0 ? `\n${shown.join("\n")}` : ""}`);
}
