/**
 * Measurements files: the published move_pages() figures (shared/calibration/zen3-ptdma-v5.json) or a
 * user's own of the same shape. They are read into flat cells — one published number each — that the
 * seed benchmark prints beside its own values and the calibration fits.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { FOLIO_SIZE_NAMES, type FolioSizeName } from "./workload.js";

/**
 * What a measurements file's "GB" means: 2^30 bytes (GiB, the default: the series' unit and the
 * emulator's, docs/timing.md **Units**) or 10^9 bytes (GB). A file says which in `units.gb`;
 * `mmemu calibrate --gb` and `bench seed --gb` override it.
 */
export const GIGABYTE_UNITS = { GB: 1e9, GiB: 2 ** 30 } as const;
export type GigabyteUnit = keyof typeof GIGABYTE_UNITS;
const GIGABYTE_UNIT_NAMES = Object.keys(GIGABYTE_UNITS) as [GigabyteUnit, ...GigabyteUnit[]];

const Stat = z.object({ mean: z.number(), sd: z.number().optional() }).passthrough();
const VanillaRow = z.object({ n: z.number().int().positive(), GBps: z.number().optional(), first_us: z.number().optional() }).passthrough();
const OffloadRow = z.object({
  N: z.number().int().positive(), channels: z.number().int().positive(),
  GBps: z.number().optional(), first_us: z.number().optional(),
}).passthrough();

/** The parts of a measurements file mmemu reads; anything else (notes, older versions) is kept aside. */
export const MeasurementsSchema = z.object({
  title: z.string().optional(),
  units: z.object({ gb: z.enum(GIGABYTE_UNIT_NAMES).optional() }).passthrough().optional(),
  tables: z.object({
    throughput_by_folio_size: z.object({
      folio_sizes: z.array(z.enum(FOLIO_SIZE_NAMES as [FolioSizeName, ...FolioSizeName[]])),
      vanilla: z.array(Stat.nullable()).optional(),
      dcbm: z.record(z.string(), z.array(Stat.nullable())).optional(),
    }).passthrough().optional(),
    first_folio_latency_vanilla: z.object({
      order0_4K: z.array(VanillaRow).optional(),
      order9_2M: z.array(VanillaRow).optional(),
    }).passthrough().optional(),
    first_folio_latency_offload: z.object({
      order0_4K: z.array(OffloadRow).optional(),
      order9_2M: z.array(OffloadRow).optional(),
    }).passthrough().optional(),
  }).passthrough(),
}).passthrough();

export type Measurements = z.infer<typeof MeasurementsSchema>;

export type TableName = "throughput_by_folio_size" | "first_folio_latency_vanilla" | "first_folio_latency_offload";

/** One published number and the benchmark point it belongs to. */
export interface Cell {
  readonly table: TableName;
  readonly metric: "GBps" | "first_us";
  readonly config: "vanilla" | "dcbm";
  readonly channels: number | null;
  readonly folioSize: FolioSizeName;
  /** Folios per call (vanilla latency table). */
  readonly n?: number;
  /** NR_MAX_BATCHED_MIGRATION in pages (offload latency table). */
  readonly N?: number;
  readonly value: number;
  readonly sd?: number;
}

/** Read and check a measurements file; `gb` (a CLI's `--gb`) overrides the unit the file declares. */
export function readMeasurements(file: string, gb?: GigabyteUnit): Measurements {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`measurements ${file}: ${(e as Error).message}`);
  }
  const r = MeasurementsSchema.safeParse(raw);
  if (!r.success) throw new Error(`measurements ${file}:\n  ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n  ")}`);
  return gb !== undefined ? withGigabyteUnit(r.data, gb) : r.data;
}

/** The measurements with their GB/s read in `unit` (a CLI's `--gb`), whatever the file says. */
export function withGigabyteUnit(ms: Measurements, unit: GigabyteUnit): Measurements {
  return { ...ms, units: { ...ms.units, gb: unit } };
}

/** A `--gb` option's value: GB or GiB, else a one-line error naming the option. */
export function gigabyteUnitOption(value: string): GigabyteUnit {
  if (!(GIGABYTE_UNIT_NAMES as readonly string[]).includes(value)) throw new Error(`--gb: expected ${GIGABYTE_UNIT_NAMES.join(" or ")}, got ${JSON.stringify(value)}`);
  return value as GigabyteUnit;
}

/** The unit a measurements file's GB/s are read in: its `units.gb`, else the series' GiB. */
export function gigabyteUnitOf(ms: Measurements): GigabyteUnit {
  return ms.units?.gb ?? "GiB";
}

/**
 * Every published number of a measurements file as a cell. Throughput cells are in the emulator's
 * unit, 2^30 bytes/s: a file whose GB is 10^9 bytes has its GB/s figures scaled by 10^9 / 2^30.
 */
export function measurementCells(ms: Measurements): Cell[] {
  const cells: Cell[] = [];
  const k = GIGABYTE_UNITS[gigabyteUnitOf(ms)] / GIGABYTE_UNITS.GiB;
  const gbps = (v: number) => v * k;
  const valueOf = (metric: "GBps" | "first_us", v: number) => (metric === "GBps" ? gbps(v) : v);
  const tp = ms.tables.throughput_by_folio_size;
  if (tp) {
    tp.folio_sizes.forEach((fs, i) => {
      const v = tp.vanilla?.[i];
      if (v) cells.push({ table: "throughput_by_folio_size", metric: "GBps", config: "vanilla", channels: null, folioSize: fs, value: gbps(v.mean), ...(v.sd !== undefined ? { sd: gbps(v.sd) } : {}) });
    });
    for (const [ch, row] of Object.entries(tp.dcbm ?? {})) {
      tp.folio_sizes.forEach((fs, i) => {
        const v = row[i];
        if (v) cells.push({ table: "throughput_by_folio_size", metric: "GBps", config: "dcbm", channels: Number(ch), folioSize: fs, value: gbps(v.mean), ...(v.sd !== undefined ? { sd: gbps(v.sd) } : {}) });
      });
    }
  }
  const fv = ms.tables.first_folio_latency_vanilla;
  for (const [key, fs] of [["order0_4K", "4K"], ["order9_2M", "2M"]] as const) {
    for (const row of fv?.[key] ?? []) {
      for (const metric of ["GBps", "first_us"] as const) {
        const v = row[metric];
        if (typeof v === "number") cells.push({ table: "first_folio_latency_vanilla", metric, config: "vanilla", channels: null, folioSize: fs, n: row.n, value: valueOf(metric, v) });
      }
    }
  }
  const fo = ms.tables.first_folio_latency_offload;
  for (const [key, fs] of [["order0_4K", "4K"], ["order9_2M", "2M"]] as const) {
    for (const row of fo?.[key] ?? []) {
      for (const metric of ["GBps", "first_us"] as const) {
        const v = row[metric];
        if (typeof v === "number") cells.push({ table: "first_folio_latency_offload", metric, config: "dcbm", channels: row.channels, folioSize: fs, N: row.N, value: valueOf(metric, v) });
      }
    }
  }
  return cells;
}

/** Stable identity of a cell (cells are re-read from the measurements by every fit). */
export function cellKey(c: Cell): string {
  return `${c.table}/${c.metric}/${c.config}/${c.channels ?? "-"}/${c.folioSize}/${c.n ?? "-"}/${c.N ?? "-"}`;
}

/** Signed relative error of an emulated value against a published one. */
export function relError(emulated: number, published: number): number {
  return (emulated - published) / published;
}
