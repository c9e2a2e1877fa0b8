/**
 * Measurements files: the published move_pages() figures (shared/calibration/zen3-ptdma-v5.json) or a
 * user's own of the same shape. They are read into flat cells — one published number each — that the
 * seed benchmark prints beside its own values and the calibration fits.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { FOLIO_SIZE_NAMES, type FolioSizeName } from "./workload.js";

const Stat = z.object({ mean: z.number(), sd: z.number().optional() }).passthrough();
const VanillaRow = z.object({ n: z.number().int().positive(), GBps: z.number().optional(), first_us: z.number().optional() }).passthrough();
const OffloadRow = z.object({
  N: z.number().int().positive(), channels: z.number().int().positive(),
  GBps: z.number().optional(), first_us: z.number().optional(),
}).passthrough();

/** The parts of a measurements file mmemu reads; anything else (notes, older versions) is kept aside. */
export const MeasurementsSchema = z.object({
  title: z.string().optional(),
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

export function readMeasurements(file: string): Measurements {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`measurements ${file}: ${(e as Error).message}`);
  }
  const r = MeasurementsSchema.safeParse(raw);
  if (!r.success) throw new Error(`measurements ${file}:\n  ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n  ")}`);
  return r.data;
}

/** Every published number of a measurements file as a cell. */
export function measurementCells(ms: Measurements): Cell[] {
  const cells: Cell[] = [];
  const tp = ms.tables.throughput_by_folio_size;
  if (tp) {
    tp.folio_sizes.forEach((fs, i) => {
      const v = tp.vanilla?.[i];
      if (v) cells.push({ table: "throughput_by_folio_size", metric: "GBps", config: "vanilla", channels: null, folioSize: fs, value: v.mean, ...(v.sd !== undefined ? { sd: v.sd } : {}) });
    });
    for (const [ch, row] of Object.entries(tp.dcbm ?? {})) {
      tp.folio_sizes.forEach((fs, i) => {
        const v = row[i];
        if (v) cells.push({ table: "throughput_by_folio_size", metric: "GBps", config: "dcbm", channels: Number(ch), folioSize: fs, value: v.mean, ...(v.sd !== undefined ? { sd: v.sd } : {}) });
      });
    }
  }
  const fv = ms.tables.first_folio_latency_vanilla;
  for (const [key, fs] of [["order0_4K", "4K"], ["order9_2M", "2M"]] as const) {
    for (const row of fv?.[key] ?? []) {
      for (const metric of ["GBps", "first_us"] as const) {
        const v = row[metric];
        if (typeof v === "number") cells.push({ table: "first_folio_latency_vanilla", metric, config: "vanilla", channels: null, folioSize: fs, n: row.n, value: v });
      }
    }
  }
  const fo = ms.tables.first_folio_latency_offload;
  for (const [key, fs] of [["order0_4K", "4K"], ["order9_2M", "2M"]] as const) {
    for (const row of fo?.[key] ?? []) {
      for (const metric of ["GBps", "first_us"] as const) {
        const v = row[metric];
        if (typeof v === "number") cells.push({ table: "first_folio_latency_offload", metric, config: "dcbm", channels: row.channels, folioSize: fs, N: row.N, value: v });
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
