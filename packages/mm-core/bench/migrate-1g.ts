/**
 * Benchmark (not a test): migrate 1 GiB of 4K folios and 1 GiB of 2M folios between two nodes with
 * migrate_pages() (MIGRATE_SYNC, MR_SYSCALL, as move_pages does) and print wall time, folios per second
 * and host memory. Baseline in the same run: the bare isolate loop over the same folios, so the ratio
 * shows what the migration path itself costs. The folios go back and forth three times; the first
 * round includes JIT warm-up ("cold"), the best later round is reported as "warm".
 *
 *   pnpm --filter @mmemu/mm-core bench
 */
import {
  allocMigrationTarget, FolioList, isolateFolioToList, Machine, MAP_ANONYMOUS, MAP_POPULATE, MAP_PRIVATE,
  MIGRATE_SYNC, migratePages, MR, PAGE_SIZE, PROT_READ, PROT_WRITE,
} from "../src/index.js";

const GiB = 1 << 30;

function run(order: 0 | 9): void {
  const pagesPerNode = (GiB / PAGE_SIZE) + (1 << 14);
  const rssBefore = process.memoryUsage().rss;
  const m = new Machine({ nodes: [{ id: 0, pages: pagesPerNode, cpus: 2 }, { id: 1, pages: pagesPerNode, cpus: 2 }] });
  if (order === 9) m.memory.anonThp[9] = "always";
  const mm = m.createMm();
  m.current = m.createTask(mm, 0);
  const addr = m.memory.mmap(mm, { len: GiB, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE });
  for (let a = addr; a < addr + GiB; a += PAGE_SIZE) m.mem.fillPages(m.memory.translate(mm, a), 1, a / PAGE_SIZE);
  const step = PAGE_SIZE << order;
  const nrFolios = GiB / step;
  const times: number[] = [];
  let isolateMs = 0;
  for (let round = 0; round < 3; round++) {
    const list = new FolioList(nrFolios);
    const t0 = performance.now();
    for (let a = addr; a < addr + GiB; a += step) isolateFolioToList(m, m.folios.folioOf(m.memory.translate(mm, a)), list);
    const t1 = performance.now();
    const nid = round % 2 === 0 ? 1 : 0;
    const rc = migratePages(m, list, (src) => allocMigrationTarget(m, src, { nid, thisNode: true }), null, MIGRATE_SYNC, MR.SYSCALL);
    const t2 = performance.now();
    if (rc !== 0) throw new Error(`migrate_pages returned ${rc}`);
    times.push(t2 - t1);
    isolateMs = t1 - t0;
  }
  const mem = process.memoryUsage();
  const resident = 2 * pagesPerNode;
  const cold = times[0]!;
  const warm = Math.min(...times.slice(1));
  console.log(
    `${order === 0 ? "4K" : "2M"} folios: ${nrFolios} folios/GiB; migrate_pages cold ${cold.toFixed(0)} ms, warm ${warm.toFixed(0)} ms = ` +
      `${(nrFolios / warm / 1e3).toFixed(2)} M folios/s (${(GiB / warm / 1e6).toFixed(1)} GB/s of emulated memory); ` +
      `isolate loop ${isolateMs.toFixed(0)} ms (migrate/isolate ${(warm / isolateMs).toFixed(1)}x); ` +
      `rss ${(mem.rss / 2 ** 20).toFixed(0)} MiB = ${((mem.rss - rssBefore) / resident).toFixed(0)} B per emulated page`,
  );
}

run(0);
run(9);
