/**
 * `mmemu sweep --db FILE`: the records also go into a DuckDB database, table `points` (one row per
 * point; a sweep run again replaces its rows), to query with SQL:
 *   duckdb FILE "select migrator, channels, batch_pages, GBps from points where sweep = 'batch-vs-channels'"
 * The maps (profile parameters, axes, cost, counters) are JSON columns. DuckDB is loaded only here.
 */
import { mmemuVersion } from "./identity.js";
import type { SweepRecord } from "./run.js";
import type { Sweep } from "./spec.js";

const COLUMNS = [
  "sweep VARCHAR NOT NULL", "point INTEGER NOT NULL", "hash VARCHAR NOT NULL", "mmemu VARCHAR NOT NULL",
  "profile VARCHAR", "migrator VARCHAR", "engine VARCHAR", "channels INTEGER", "folio_size VARCHAR", "amount BIGINT",
  "per_call VARCHAR", "batch_pages INTEGER", "seed BIGINT", "other_mm_cpus INTEGER", "params JSON", "axes JSON",
  "GBps DOUBLE", "first_us DOUBLE", "virtual_ms DOUBLE", "calls BIGINT", "batches BIGINT", "folios BIGINT", "cost JSON", "counters JSON",
];

/** Write the sweep's records into FILE's `points` table (rows of this sweep name replaced); returns rows written. */
export async function writeSweepDb(file: string, sweep: Sweep, records: ReadonlyArray<SweepRecord | null>): Promise<number> {
  const { DuckDBInstance } = await import("@duckdb/node-api");
  let inst: Awaited<ReturnType<typeof DuckDBInstance.create>>;
  try {
    inst = await DuckDBInstance.create(file);
  } catch (e) {
    throw new Error(`--db ${file}: ${(e as Error).message.split("\n")[0]}`);
  }
  const c = await inst.connect();
  const version = mmemuVersion();
  let rows = 0;
  try {
    await c.run(`CREATE TABLE IF NOT EXISTS points (${COLUMNS.join(", ")}, PRIMARY KEY (sweep, point))`);
    await c.run("BEGIN TRANSACTION");
    await c.run("DELETE FROM points WHERE sweep = $1", [sweep.name]);
    const num = (v: unknown) => (typeof v === "number" ? v : null);
    const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
    for (const r of records) {
      if (r === null) continue;
      const f = r.input;
      const g = r.figures;
      await c.run(`INSERT INTO points VALUES (${COLUMNS.map((_, i) => `$${i + 1}`).join(", ")})`, [
        r.sweep, r.point, r.hash, version,
        f.profile, f.migrator, f.engine, f.channels, f.folio_size, f.amount, String(f.per_call), f.batch_pages, f.seed, f.other_mm_cpus,
        json(f.set), json(r.axes),
        num(g.GBps), num(g.first_us), num(g.virtual_ms), num(g.calls), num(g.batches), num(g.folios), json(g.cost), json(g.counters),
      ]);
      rows++;
    }
    await c.run("COMMIT");
  } catch (e) {
    await c.run("ROLLBACK").catch(() => {});
    throw new Error(`--db ${file}: ${(e as Error).message.split("\n")[0]}`);
  } finally {
    c.closeSync();
    inst.closeSync();
  }
  return rows;
}
