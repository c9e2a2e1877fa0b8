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
