/**
 * `mmemu profile list | show [NAME] [--set section.name=value ...] [--markdown] | derive BASE --set ... --out FILE`:
 * look at a hardware profile's parameters and derive variants from the command line. `--set` is also
 * accepted by every bench command, so a what-if run is one line:
 *   pnpm mmemu bench seed --set ptdma.chan_bw=20 --set fabric.iod_quadrant_bw=30
 */
import { Command, Option } from "commander";
import { collectSet, componentOptions, componentsFrom, type ComponentFlags } from "./components.js";
import type { ParamSchema } from "@mmemu/kernel";
import { BUILTIN_SCHEMA } from "@mmemu/components";
import { builtinProfileNames, deriveProfile, getParam, loadProfile, profileToFile, withParams, type HardwareProfile } from "@mmemu/timing";
import { outputPath, UsageError, writeFileAtomic } from "../output.js";

/** The profile every command uses unless told otherwise: the calibrated machine of the published runs. */
export const DEFAULT_PROFILE = "zen3-ptdma";

/** The `--set` option, repeatable. */
export function setOption(): Option {
  return new Option("--set <section.name=value>", "override one profile parameter (repeatable), e.g. --set ptdma.chan_bw=20").argParser(collectSet);
}

/**
 * Parse `section.name=value` assignments into a parameter map. Unknown parameters, non-numbers and
 * values outside the declared range are errors naming the assignment (the range check is the profile's own).
 */
export function parseSets(sets: readonly string[] | undefined, schema: ParamSchema): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of sets ?? []) {
    const m = /^([a-z][a-z0-9_]*\.[a-z][a-z0-9_]*)=(.+)$/.exec(s.trim());
    if (m === null) throw new Error(`--set "${s}": expected section.name=value, e.g. ptdma.chan_bw=20`);
    const [, path, raw] = m as unknown as [string, string, string];
    if (schema.spec(path) === undefined) {
      throw new Error(`--set "${s}": no parameter "${path}" (sections: ${schema.names.join(", ")}; see mmemu profile show)`);
    }
    const v = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(v)) throw new Error(`--set "${s}": "${raw}" is not a number`);
    out[path] = v;
  }
  return out;
}

/**
 * Load a profile by name or file against the loaded components' schema and apply `--set` overrides
 * (a derived, validated, frozen variant).
 */
export function loadProfileWith(nameOrFile: string, sets: readonly string[] | undefined, schema: ParamSchema = BUILTIN_SCHEMA): HardwareProfile {
  const base = loadProfile(nameOrFile, schema);
  const values = parseSets(sets, schema);
  if (Object.keys(values).length === 0) return base;
  return variant(base, values, `${base.name}+${Object.entries(values).map(([k, v]) => `${k}=${v}`).join(",")}`);
}

/** A validated variant of `base` with parameters set by "section.name" and a new name. */
function variant(base: HardwareProfile, values: Readonly<Record<string, number>>, name: string, description = base.description): HardwareProfile {
  return deriveProfile(withParams(base, values), (d) => {
    d.name = name;
    d.description = description;
  });
}

/** One row per declared parameter: value, default, unit, fit range (free parameters only). */
export interface ParamRow {
  readonly path: string;
  readonly unit: string;
  readonly value: number;
  readonly default: number;
  /** The calibration range of a free parameter, null when the parameter is fixed. */
  readonly fitRange: readonly [number, number] | null;
  /** The fitted value sits at an end of its range (within 0.5 %). */
  readonly atBound: "lower" | "upper" | null;
  readonly doc: string;
  readonly source: string;
}

export function paramRows(p: HardwareProfile): ParamRow[] {
  const free = new Set(p.free);
  const rows: ParamRow[] = [];
  for (const section of p.schema.sections) {
    for (const [name, spec] of Object.entries(section.table)) {
      const path = `${section.name}.${name}`;
      const value = getParam(p, path);
      let fitRange: [number, number] | null = null;
      let atBound: ParamRow["atBound"] = null;
      if (free.has(path)) {
        const b = p.bounds[path];
        fitRange = [b ? Math.max(spec.min, b[0]) : spec.min, b ? Math.min(spec.max, b[1]) : spec.max];
        if (value <= fitRange[0] * 1.005) atBound = "lower";
        else if (value >= fitRange[1] * 0.995) atBound = "upper";
      }
      rows.push({ path, unit: spec.unit, value, default: spec.default, fitRange, atBound, doc: spec.doc, source: spec.source });
    }
  }
  return rows;
}

/** A value as the docs print it: 4 significant digits, no exponent for ordinary magnitudes. */
function fmtValue(v: number): string {
  if (v === 0 || (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e9)) return String(Number(v.toPrecision(4)));
  return v.toExponential(3);
}

/** The parameter tables of docs/timing.md ("Parameters"), one per section, for a profile. */
export function formatParamsMarkdown(p: HardwareProfile): string {
  const out: string[] = [];
  const rows = paramRows(p);
  for (const { name: section } of p.schema.sections) {
    out.push(`### ${section}`, "", `| parameter | unit | ${p.name} | default | fit range | meaning | source |`, "|---|---|---|---|---|---|---|");
    for (const r of rows.filter((x) => x.path.startsWith(`${section}.`))) {
      const fit = r.fitRange === null ? "" : r.atBound === null ? " **fit**" : ` **fit** (at ${r.atBound} bound)`;
      const range = r.fitRange === null ? "fixed" : `${fmtValue(r.fitRange[0])}..${fmtValue(r.fitRange[1])}`;
      const esc = (s: string) => s.replaceAll("|", "\\|");
      out.push(`| \`${r.path}\` | ${r.unit} | ${fmtValue(r.value)}${fit} | ${fmtValue(r.default)} | ${range} | ${esc(r.doc)} | ${esc(r.source)} |`);
    }
    out.push("");
  }
  return out.join("\n");
}

/** A terminal table: path, value, default, unit, fit range. */
export function formatParamsText(p: HardwareProfile): string {
  const rows = paramRows(p);
  const w = Math.max(...rows.map((r) => r.path.length));
  const lines = [`profile ${p.name}: ${p.description}`, "", `${"parameter".padEnd(w)}  ${"value".padStart(11)}  ${"default".padStart(11)}  unit      fit range`];
  for (const r of rows) {
    const range = r.fitRange === null ? "fixed" : `${fmtValue(r.fitRange[0])}..${fmtValue(r.fitRange[1])}${r.atBound !== null ? ` (at ${r.atBound} bound)` : ""}`;
    const mark = r.value !== r.default ? "*" : " ";
    lines.push(`${r.path.padEnd(w)}  ${fmtValue(r.value).padStart(10)}${mark}  ${fmtValue(r.default).padStart(11)}  ${r.unit.padEnd(8)}  ${range}`);
  }
  lines.push("", "* differs from the declared default");
  return lines.join("\n");
}

export function profileCommand(): Command {
  const cmd = new Command("profile").description("hardware profiles: list them, show their parameters, derive variants");
  cmd.command("list")
    .description("the shipped profiles")
    .action(() => {
      for (const name of builtinProfileNames()) {
        const p = loadProfile(name, BUILTIN_SCHEMA);
        console.log(`${name.padEnd(20)} ${p.description}`);
      }
    });
  componentOptions(cmd.command("show"))
    .description("every parameter of a profile: value, default, unit and calibration range (--markdown: the docs' tables with meaning and source)")
    .argument("[profile]", "profile name or file", DEFAULT_PROFILE)
    .addOption(setOption())
    .option("--markdown", "print the Markdown tables of docs/timing.md")
    .option("--json", "print { name, description, params: [...] } as JSON")
    .action(async (name: string, o: ComponentFlags & { set?: string[]; markdown?: boolean; json?: boolean }) => {
      const p = loadProfileWith(name, o.set, (await componentsFrom(o)).schema);
      if (o.json === true && o.markdown === true) throw new Error("profile show: --json and --markdown exclude each other");
      if (o.json === true) console.log(JSON.stringify({ name: p.name, description: p.description, params: paramRows(p) }, null, 1));
      else console.log(o.markdown === true ? formatParamsMarkdown(p) : formatParamsText(p));
    });
  componentOptions(cmd.command("derive"))
    .description("write a variant of a profile with some parameters changed (use it anywhere a profile file is accepted)")
    .argument("<base>", "profile name or file to start from")
    .addOption(setOption())
    .requiredOption("--out <file>", "where to write the variant")
    .option("--name <name>", "the variant's name")
    .action(async (base: string, o: ComponentFlags & { set?: string[]; out: string; name?: string }) => {
      outputPath("--out", o.out, "file");
      const schema = (await componentsFrom(o)).schema;
      const values = parseSets(o.set, schema);
      if (Object.keys(values).length === 0) throw new UsageError("profile derive: give at least one --set section.name=value");
      const b = loadProfile(base, schema);
      const p = variant(b, values, o.name ?? `${b.name}-variant`, `${b.description} Variant: ${Object.entries(values).map(([k, v]) => `${k}=${v}`).join(", ")}.`);
      const file = profileToFile(p);
      // A derived profile is no longer the output of the base's calibration.
      delete (file as { calibration?: unknown }).calibration;
      writeFileAtomic(o.out, JSON.stringify(file, null, 1) + "\n");
      console.log(`wrote ${o.out} (${p.name})`);
    });
  return cmd;
}
