/**
 * Wall time of moving 1 GiB of 4 KiB folios from node 0 to node 1 through migrate_pages(MR_SYSCALL)
 * with dcbm over N PTDMA channels, in one batch (NR_MAX_BATCHED_MIGRATION = HPAGE_PUD_NR, as the
 * series' testing patch sets it). Usage: tsx bench/dcbm-1g.ts [channels=16] [folioKiB=4]
 */
import { UniformCosts } from "@mmemu/kernel";
import { Fabric } from "@mmemu/platform";
import {
  allocMigrationTarget, FolioList, HPAGE_PUD_NR, isolateFolioToList, lastMigrateStats, Machine, MAP_ANONYMOUS,
  MAP_POPULATE, MAP_PRIVATE, MIGRATE_SYNC, migratePages, MR, PAGE_SIZE, PMD_ORDER, PROT_READ, PROT_WRITE,
} from "@mmemu/mm-core";
import { DmaEngine } from "@mmemu/dmaengine";
import { createPtdmaEngines, ZEN3_2S_PTDMA_PLACEMENTS } from "@mmemu/ptdma";
import { migrateSetNrMaxBatchedMigration } from "@mmemu/offload-api";
import { Dcbm } from "../src/index.js";

const channels = Number(process.argv[2] ?? 16);
const folioKiB = Number(process.argv[3] ?? 4);
const order = Math.log2(folioKiB / 4);
const len = 1 << 30;
const pages = (len / PAGE_SIZE) + (1 << 14);
const m = new Machine({ nodes: [{ id: 0, pages, cpus: 16 }, { id: 1, pages, cpus: 16 }] });
m.core.cost = new UniformCosts(m.sim, 100);
const dma = new DmaEngine({ core: m.core, mem: m.mem });
const fabric = new Fabric(m.core, { nodes: [{ id: 0, socket: 0 }, { id: 1, socket: 1 }] });
createPtdmaEngines({ core: m.core, engine: dma, fabric, placements: ZEN3_2S_PTDMA_PLACEMENTS });
const dcbm = new Dcbm(m, dma);
dcbm.setNrDmaChan(channels);
dcbm.setOffloading(true);
migrateSetNrMaxBatchedMigration(m, HPAGE_PUD_NR);
if (order > 0) m.memory.anonThp[order] = "always";
const mm = m.createMm();
m.current = m.createTask(mm, 0);
const addr = m.memory.mmap(mm, { len, prot: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE });
const list = new FolioList(len / PAGE_SIZE);
for (let a = addr; a < addr + len; a += PAGE_SIZE) {
  const folio = m.folios.folioOf(m.memory.translate(mm, a));
  if (list.length === 0 || list.get(list.length - 1) !== folio) isolateFolioToList(m, folio, list);
}
void PMD_ORDER;
let copyWall = 0;
let cs = 0;
if (process.env.PHASES) {
  m.core.trace.on("migrate_offload_copy_start", () => { cs = performance.now(); });
  m.core.trace.on("migrate_offload_copy_end", () => { copyWall += performance.now() - cs; });
}
const v0 = m.sim.now;
const c0 = process.cpuUsage();
const t0 = performance.now();
const rc = migratePages(m, list, (src) => allocMigrationTarget(m, src, { nid: 1, thisNode: true }), null, MIGRATE_SYNC, MR.SYSCALL);
const wall = performance.now() - t0;
const cpu = process.cpuUsage(c0);
const virt = (m.sim.now - v0) / 1e9;
const st = lastMigrateStats(m)!;
console.log(JSON.stringify({
  channels, folioKiB, folios: list.length === 0 ? len / (folioKiB * 1024) : undefined, rc, wallMs: Math.round(wall), cpuMs: Math.round((cpu.user + cpu.system) / 1000),
  virtualS: virt, GBps: +(len / 1e9 / virt).toFixed(2), succeeded: st.nr_succeeded, foliosMigrated: dcbm.foliosMigrated,
  foliosFailures: dcbm.foliosFailures, events: m.sim.eventsRun, copyWallMs: Math.round(copyWall),
}));
