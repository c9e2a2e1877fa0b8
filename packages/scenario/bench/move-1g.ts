/**
 * The 1 GiB check of issue #3, both figures in one process: mm-core's bare migrate_pages() of 1 GiB of
 * 4 KiB folios (isolate every folio, migrate to node 1, as packages/mm-core/scratch/smoke.ts does) and the
 * move_pages(2) call of examples/scenarios/move-1g-4k.json (its syscallMs: reading the 2 MiB pages
 * array and the nodes array from user memory, 262,144 lookups and isolations, the migration, the status
 * writes). Rounds alternate so both see the same host load; each measurement runs in a fresh process
 * with the heap collected right before the timed part; the minimum and median are reported.
 *
 *   npx tsx packages/scenario/bench/move-1g.ts [rounds]
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  allocMigrationTarget, FolioList, isolateFolioToList, Machine, MAP_ANONYMOUS, MAP_POPULATE, MAP_PRIVATE, migratePages,
  MIGRATE_SYNC, MR, PAGE_SIZE, PROT_READ, PROT_WRITE,
} from "@mmemu/mm-core";
import { loadScenarioFile, runScenario } from "../src/index.js";

const GIB = 1 << 30;
const scenarioPath = fileURLToPath(new URL("../../../examples/scenarios/move-1g-4k.json", import.meta.url));

function bare(): number {
  const m = new Machine({ nodes: [{ id: 0, pages: (1100 << 20) / PAGE_SIZE, cpus: 2 }, { id: 1, pages: (1100 << 20) / PAGE_SIZE, cpus: 2 }] });
  const mm = m.createMm();
  m.current = m.createTask(mm, 0);
  const addr = m.memory.mmap(mm, { len: GIB, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE });
  collect();
  const t0 = performance.now();
  const list = new FolioList(GIB / PAGE_SIZE);
  for (let a = addr; a < addr + GIB; a += PAGE_SIZE) isolateFolioToList(m, m.folios.folioOf(m.memory.translate(mm, a)), list);
  const rc = migratePages(m, list, (src) => allocMigrationTarget(m, src, { nid: 1, thisNode: true }), null, MIGRATE_SYNC, MR.SYSCALL);
  const ms = performance.now() - t0;
  if (rc !== 0) throw new Error(`bare migrate_pages returned ${rc}`);
  return ms;
}

/** A full collection when the host allows it (node --expose-gc). */
function collect(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function viaScenario(): number {
  const r = runScenario(loadScenarioFile(scenarioPath), { beforeSyscall: collect });
  if (!r.ok) throw new Error(`scenario failed: ${JSON.stringify(r.steps.flatMap((s) => s.mismatches))}`);
  const step = r.steps.find((s) => s.op === "move_pages")!;
  return step.result.syscallMs as number;
}

// Each measurement runs in a fresh process (the parent alternates them), so neither pays for the
// other's heap or JIT state.
const self = fileURLToPath(import.meta.url);
const mode = process.argv[2];
if (mode === "--one-bare" || mode === "--one-scenario") {
  process.stdout.write(`${(mode === "--one-bare" ? bare() : viaScenario()).toFixed(1)}\n`);
} else {
  const rounds = Number(mode ?? 3);
  const one = (which: string): number => {
    const r = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", self, which], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${which} failed: ${r.stderr}`);
    return Number(r.stdout.trim());
  };
  const b: number[] = [];
  const s: number[] = [];
  for (let i = 0; i < rounds; i++) {
    b.push(one("--one-bare"));
    s.push(one("--one-scenario"));
  }
  const stat = (xs: number[]) => {
    const v = [...xs].sort((x, y) => x - y);
    return { min: v[0]!, median: v[Math.floor(v.length / 2)]! };
  };
  const sb = stat(b);
  const ss = stat(s);
  const fmt = (x: number) => `${x.toFixed(0)} ms`;
  console.log(`bare migrate_pages of 1 GiB (isolate + migrate): min ${fmt(sb.min)}, median ${fmt(sb.median)}  [${b.map(fmt).join(", ")}]`);
  console.log(`move_pages of 1 GiB (scenario move-1g-4k.json):  min ${fmt(ss.min)}, median ${fmt(ss.median)}  [${s.map(fmt).join(", ")}]`);
  console.log(`syscall overhead: ${((ss.min / sb.min - 1) * 100).toFixed(1)}% (min), ${((ss.median / sb.median - 1) * 100).toFixed(1)}% (median)`);
}
