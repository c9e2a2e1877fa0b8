import type { ParamSection, ParamSpec, ParamTable, ParamValues } from "./params.js";

/** The values of every section of a profile: section name -> parameter name -> value. */
export type SectionValues = Readonly<Record<string, Readonly<Record<string, number>>>>;

/**
 * The parameter sections a profile may have, built from the components that are loaded (the
 * built-in ones plus any plug-in): an explicit value passed to whoever parses profiles, never a
 * global registry, so two schemas (with and without a plug-in) can coexist in one process and tests
 * do not depend on what was loaded before them.
 */
export class ParamSchema {
  readonly sections: readonly ParamSection[];
  private readonly byName: ReadonlyMap<string, ParamSection>;

  /**
   * `reserved`: names a section may not take (the profile's own keys). The same section object given
   * twice counts once; two different sections with one name are an error naming both.
   */
  constructor(sections: readonly ParamSection[], readonly reserved: readonly string[] = []) {
    const byName = new Map<string, ParamSection>();
    const list: ParamSection[] = [];
    for (const s of sections) {
      const prev = byName.get(s.name);
      if (prev === s) continue;
      if (prev !== undefined) throw new RangeError(`parameter section "${s.name}" is declared twice ("${prev.doc}" and "${s.doc}")`);
      if (reserved.includes(s.name)) throw new RangeError(`parameter section "${s.name}": the name is reserved (${reserved.join(", ")})`);
      byName.set(s.name, s);
      list.push(s);
    }
    this.sections = Object.freeze(list);
    this.byName = byName;
  }

  /** A new schema with more sections (this one is unchanged). */
  with(more: readonly ParamSection[]): ParamSchema {
    return new ParamSchema([...this.sections, ...more], this.reserved);
  }

  get names(): string[] {
    return this.sections.map((s) => s.name);
  }

  section(name: string): ParamSection | undefined {
    return this.byName.get(name);
  }

  /** The spec of "section.name", or undefined. */
  spec(path: string): ParamSpec | undefined {
    const dot = path.indexOf(".");
    if (dot < 0 || path.indexOf(".", dot + 1) >= 0) return undefined;
    const table: ParamTable | undefined = this.byName.get(path.slice(0, dot))?.table;
    return table === undefined ? undefined : Object.hasOwn(table, path.slice(dot + 1)) ? table[path.slice(dot + 1)] : undefined;
  }

  /** Which calibration stage fits "section.name" (see ParamSection.stage). */
  stageOf(path: string): "cpu" | "dma" {
    const [section, name] = path.split(".") as [string, string];
    const st = this.byName.get(section)?.stage ?? "dma";
    return typeof st === "function" ? st(name) : st;
  }
}

/** The values of one section, typed by its table (the profile validated them against it). */
export function sectionValues<T extends ParamTable>(values: SectionValues, section: ParamSection<T>): ParamValues<T> {
  const v = values[section.name];
  if (v === undefined) throw new RangeError(`no values for parameter section "${section.name}" (is its component in the schema?)`);
  return v as ParamValues<T>;
}
