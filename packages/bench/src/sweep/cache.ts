/**
 * The point cache: one JSON file per point hash (DIR/ab/abcdef....json) holding the point's raw
 * result. A file is written to a temporary name and renamed, so an interrupted sweep leaves either
 * a whole result or none; a file that does not parse or has the wrong shape is treated as absent (and
 * rewritten when the point runs again). Safe to share between sweeps and to delete at any time.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

const CostLine = z.object({ units: z.number(), ns: z.number() });
/** What a point's run produced (host timings are not part of it: they differ between runs). */
export const PointOutcomeSchema = z.object({
  GBps: z.number(),
  firstUs: z.number().nullable(),
  virtualNs: z.number(),
  calls: z.number(),
  batches: z.number(),
  folios: z.number(),
  detail: z.object({ cost: z.record(z.string(), CostLine), counters: z.record(z.string(), z.number()) }),
  /** Folios the CPU copied although their batch went to the migrator, by cause. */
  fallback: z.record(z.string(), z.number()),
  /** With strict offload: one line per batch that fell back (the first 20). */
  strictFailures: z.array(z.string()),
});
export type PointOutcome = z.infer<typeof PointOutcomeSchema>;

/** The deterministic part of a worker's result (NaN first-folio latency, for a run with no batch, as null). */
export function outcomeOf(r: {
  GBps: number; firstUs: number; virtualNs: number; calls: number; batches: number; folios: number; detail?: PointOutcome["detail"];
  fallback: Readonly<Record<string, number>>; strictFailures: readonly string[];
}): PointOutcome {
  if (r.detail === undefined) throw new Error("point result without its cost and counters");
  return {
    GBps: r.GBps, firstUs: Number.isNaN(r.firstUs) ? null : r.firstUs, virtualNs: r.virtualNs,
    calls: r.calls, batches: r.batches, folios: r.folios, detail: r.detail,
    fallback: { ...r.fallback }, strictFailures: [...r.strictFailures],
  };
}

const CacheFile = z.object({ hash: z.string(), version: z.string(), outcome: PointOutcomeSchema });

export class PointCache {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  private path(hash: string): string {
    return join(this.dir, hash.slice(0, 2), `${hash}.json`);
  }

  get(hash: string): PointOutcome | null {
    let text: string;
    try {
      text = readFileSync(this.path(hash), "utf8");
    } catch {
      return null;
    }
    try {
      const f = CacheFile.safeParse(JSON.parse(text));
      return f.success && f.data.hash === hash ? f.data.outcome : null;
    } catch {
      return null;
    }
  }

  put(hash: string, version: string, outcome: PointOutcome): void {
    const p = this.path(hash);
    mkdirSync(join(this.dir, hash.slice(0, 2)), { recursive: true });
    const tmp = `${p}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ hash, version, outcome }) + "\n");
    renameSync(tmp, p);
  }
}
