/**
 * Declared physical parameters, after gem5's `Param.Latency('20ns', "...")`: every number a model uses
 * is declared once with its unit, default, allowed range and where the default came from. Packages that
 * own a model (the CPU cost model, a DMA engine, the interconnect) export a {@link ParamTable}; hardware
 * profiles are validated against those tables.
 */
export type ParamUnit = "ns" | "us" | "ms" | "GB/s" | "bytes" | "count" | "ratio" | "bool";

export interface ParamSpec {
  /** Unit of the value (GB/s means 1e9 bytes per second). */
  readonly unit: ParamUnit;
  /** Default value. */
  readonly default: number;
  /** Smallest allowed value (inclusive). */
  readonly min: number;
  /** Largest allowed value (inclusive). */
  readonly max: number;
  /** Whether only integers are allowed. @default false */
  readonly integer?: boolean;
  /** What the parameter means, in one or two sentences. */
  readonly doc: string;
  /** Where the default comes from (a datasheet, a measurement, a fit). */
  readonly source: string;
}

export type ParamTable = Readonly<Record<string, ParamSpec>>;

/** The values of a table: one number per declared name. */
export type ParamValues<T extends ParamTable> = { readonly [K in keyof T]: number };

/** The defaults of a table as values. */
export function paramDefaults<T extends ParamTable>(table: T): ParamValues<T> {
  const out: Record<string, number> = {};
  for (const [k, spec] of Object.entries(table)) out[k] = spec.default;
  return out as ParamValues<T>;
}

/**
 * Check values against a table: every name known, every value finite, in range and integral where
 * required. Returns a list of problems, each naming the parameter (empty when valid).
 */
export function checkParams(table: ParamTable, values: Readonly<Record<string, unknown>>, where: string): string[] {
  const problems: string[] = [];
  for (const [k, v] of Object.entries(values)) {
    const spec = table[k];
    if (spec === undefined) {
      problems.push(`${where}.${k}: unknown parameter (known: ${Object.keys(table).join(", ")})`);
      continue;
    }
    if (typeof v !== "number" || !Number.isFinite(v)) {
      problems.push(`${where}.${k}: expected a finite number in ${spec.unit}, got ${JSON.stringify(v)}`);
      continue;
    }
    if (v < spec.min || v > spec.max) problems.push(`${where}.${k}: ${v} ${spec.unit} is outside [${spec.min}, ${spec.max}]`);
    if (spec.integer === true && !Number.isInteger(v)) problems.push(`${where}.${k}: must be an integer, got ${v}`);
  }
  return problems;
}

/**
 * One section of a hardware profile (`ptdma`, `fabric`, `cpu`, ...): the parameter table of one
 * component (a device model, a migrator, the CPU cost model), declared by the component itself so the
 * profile knows sections, not drivers. A profile file has one object per section, keyed by `name`.
 */
export interface ParamSection<T extends ParamTable = ParamTable> {
  /** Section name: lower case letters, digits and _, starting with a letter (the key in profile files). */
  readonly name: string;
  /** What the component is, in one line (shown by `mmemu profile show`). */
  readonly doc: string;
  readonly table: T;
  /**
   * Which calibration stage fits a free parameter of this section: "cpu" (moves the CPU-copy runs),
   * "dma" (only moves offloaded runs), or a choice per parameter name. @default "dma"
   */
  readonly stage?: "cpu" | "dma" | ((name: string) => "cpu" | "dma");
}

/** Declare a component's profile section (checks the name and every spec's range and default). */
export function defineParamSection<T extends ParamTable>(name: string, doc: string, table: T, opts: { stage?: ParamSection["stage"] } = {}): ParamSection<T> {
  if (!SECTION_NAME.test(name)) throw new RangeError(`parameter section "${name}": the name must match ${SECTION_NAME}`);
  for (const [k, spec] of Object.entries(table)) {
    if (!PARAM_NAME.test(k)) throw new RangeError(`parameter ${name}.${k}: the name must match ${PARAM_NAME}`);
    if (!(spec.min <= spec.default && spec.default <= spec.max)) {
      throw new RangeError(`parameter ${name}.${k}: default ${spec.default} is outside [${spec.min}, ${spec.max}]`);
    }
    if (spec.integer === true && !Number.isInteger(spec.default)) throw new RangeError(`parameter ${name}.${k}: integer parameter with default ${spec.default}`);
  }
  return Object.freeze({ name, doc, table, ...(opts.stage !== undefined ? { stage: opts.stage } : {}) });
}

export const SECTION_NAME = /^[a-z][a-z0-9_]*$/;
export const PARAM_NAME = /^[a-z][a-z0-9_]*$/;
