import test from "ava";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cellKey, measurementCells, readMeasurements, withGigabyteUnit, GIGABYTE_UNITS } from "../src/index.js";
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
