import test from "ava";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadProfile } from "@mmemu/timing";
import { BUILTIN_SCHEMA } from "@mmemu/components";
import { cellKey, formatSeedTables, measurementCells, PointPool, readMeasurements, runSeed, withGigabyteUnit, GIGABYTE_UNITS } from "../src/index.js";
import { DEFAULT_MEASUREMENTS } from "../src/commands/calibrate.js";

const published = readMeasurements(DEFAULT_MEASUREMENTS);

test("GB/s read as 10^9 bytes are the same figures times 10^9 / 2^30 in the emulator's GiB/s; latencies unchanged", (t) => {
  const gib = measurementCells(published);
  const gb = measurementCells(withGigabyteUnit(published, "GB"));
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
  // The repository's copy declares GiB; a file that says nothing is read the same way.
  t.deepEqual(measurementCells(withGigabyteUnit(published, "GiB")), gib);
  const { units: _units, ...silent } = published;
  t.deepEqual(measurementCells(silent), gib);
});

test("a measurements file says its unit in units.gb; anything but GB or GiB is refused naming the field", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "mmemu-units-"));
  try {
    const raw = JSON.parse(readFileSync(DEFAULT_MEASUREMENTS, "utf8")) as { units: Record<string, unknown> };
    const good = join(dir, "gb.json");
    writeFileSync(good, JSON.stringify({ ...raw, units: { ...raw.units, gb: "GB" } }));
    t.deepEqual(measurementCells(readMeasurements(good)), measurementCells(withGigabyteUnit(published, "GB")));
    const bad = join(dir, "mb.json");
    writeFileSync(bad, JSON.stringify({ ...raw, units: { ...raw.units, gb: "MB" } }));
    t.throws(() => readMeasurements(bad), { message: /units\.gb: / });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bench seed's tables say when published 10^9-byte GB/s are shown converted, and compare against the converted figure", async (t) => {
  const pool = new PointPool(1);
  try {
    // One real point: 1 GiB of 2M folios on 16 channels in one batch (a cell of the throughput and of the offload table).
    const only = (s: { config: string; folioSize: string; channels: number | null; batchPages?: number; perCall?: number }) =>
      s.config === "dcbm" && s.folioSize === "2M" && s.channels === 16 && s.batchPages === 262144;
    const gb = withGigabyteUnit(published, "GB");
    const run = await runSeed(pool, loadProfile("zen3-ptdma", BUILTIN_SCHEMA), 1, gb, undefined, { only });
    const asGB = formatSeedTables(run, gb);
    const asGiB = formatSeedTables(run, published);
    t.regex(asGB, /^published GB\/s read as 10\^9 bytes\/s .* shown converted to GiB\/s/);
    t.false(asGiB.includes("read as 10^9"));
    // The offload table's 65.06, read as 10^9 bytes/s: 60.59 GiB/s; the emulated figure is the same in both.
    t.regex(asGB, /\(60\.6 [+-]\d+%/);
    t.regex(asGiB, /\(65\.1 [+-]\d+%/);
  } finally {
    await pool.close();
  }
});
