import test from "ava";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadProfile } from "@mmemu/timing";
import { BUILTIN_SCHEMA } from "@mmemu/components";
import { cellKey, formatSeedTables, measurementCells, PointPool, readMeasurements, runSeed, withGigabyteUnit, GIGABYTE_UNITS } from "../src/index.js";
import { DEFAULT_MEASUREMENTS } from "../src/commands/calibrate.js";

const published = readMeasurements(DEFAULT_MEASUREMENTS);

test("GB/s read as GiB/s are the same figures times 2^30 / 10^9 in the emulator's GB/s; latencies unchanged", (t) => {
  const gb = measurementCells(published);
  const gib = measurementCells(withGigabyteUnit(published, "GiB"));
  t.is(gib.length, gb.length);
  t.is(GIGABYTE_UNITS.GiB / GIGABYTE_UNITS.GB, 1.073741824);
  let throughput = 0;
  for (let i = 0; i < gb.length; i++) {
    const a = gb[i]!, b = gib[i]!;
    t.is(cellKey(b), cellKey(a));
    if (a.metric === "GBps") {
      throughput++;
      t.true(Math.abs(b.value / a.value - 1.073741824) < 1e-12, cellKey(a));
      if (a.sd !== undefined) t.true(Math.abs(b.sd! / a.sd - 1.073741824) < 1e-12, `${cellKey(a)} sd`);
    } else {
      t.is(b.value, a.value, cellKey(a));
    }
  }
  // 6 vanilla + 36 dcbm throughput cells, and the GB/s of both latency tables.
  t.is(throughput, 42 + 12 + 7 + 30);
  // Reading them as GB is what a file without units.gb gets.
  t.deepEqual(measurementCells(withGigabyteUnit(published, "GB")), gb);
});

test("a measurements file says its unit in units.gb; anything but GB or GiB is refused naming the field", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "mmemu-units-"));
  try {
    const raw = JSON.parse(readFileSync(DEFAULT_MEASUREMENTS, "utf8")) as { units: Record<string, unknown> };
    const good = join(dir, "gib.json");
    writeFileSync(good, JSON.stringify({ ...raw, units: { ...raw.units, gb: "GiB" } }));
    t.deepEqual(measurementCells(readMeasurements(good)), measurementCells(withGigabyteUnit(published, "GiB")));
    const bad = join(dir, "mb.json");
    writeFileSync(bad, JSON.stringify({ ...raw, units: { ...raw.units, gb: "MB" } }));
    t.throws(() => readMeasurements(bad), { message: /units\.gb: / });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bench seed's tables say when published GiB/s are shown converted, and compare against the converted figure", async (t) => {
  const pool = new PointPool(1);
  try {
    // One real point: 1 GiB of 2M folios on 16 channels in one batch (a cell of the throughput and of the offload table).
    const only = (s: { config: string; folioSize: string; channels: number | null; batchPages?: number; perCall?: number }) =>
      s.config === "dcbm" && s.folioSize === "2M" && s.channels === 16 && s.batchPages === 262144;
    const gib = withGigabyteUnit(published, "GiB");
    const run = await runSeed(pool, loadProfile("zen3-ptdma", BUILTIN_SCHEMA), 1, gib, undefined, { only });
    const asGiB = formatSeedTables(run, gib);
    const asGB = formatSeedTables(run, published);
    t.regex(asGiB, /^published GB\/s read as GiB\/s .* shown converted to GB\/s of 10\^9 bytes/);
    t.false(asGB.includes("read as GiB/s"));
    // The offload table's 65.06, read as GiB/s: 69.86 GB/s; the emulated figure is the same in both.
    t.regex(asGiB, /\(69\.9 [+-]\d+%/);
    t.regex(asGB, /\(65\.1 [+-]\d+%/);
  } finally {
    await pool.close();
  }
});
