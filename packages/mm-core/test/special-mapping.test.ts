/** The vDSO's special mappings: [vvar] as raw PFNs in a VM_PFNMAP VMA, [vdso] as reserved kernel pages. */
import test from "ava";
import { mapVdso, PAGE_SIZE, PG, PTE, VM, VM_FAULT, VVAR_PAGES } from "../src/index.js";
import { world } from "./world.js";

function install(w: ReturnType<typeof world>): { vdso: number; vvar: number } {
  const r = mapVdso(w.m, w.mm);
  if (typeof r === "number") throw new Error(`map_vdso ${r}`);
  return r;
}

test("map_vdso puts [vvar] right below [vdso]; faults map the kernel's frames, PFN PTEs for vvar and counted pages for the vDSO", (t) => {
  const w = world();
  const { vdso, vvar } = install(w);
  t.is(vvar + VVAR_PAGES * PAGE_SIZE, vdso);
  const vv = w.mm.findVma(vvar)!;
  const vd = w.mm.findVma(vdso)!;
  t.is(vv.flags & (VM.IO | VM.PFNMAP), VM.IO | VM.PFNMAP);
  t.is(vd.flags & (VM.IO | VM.PFNMAP | VM.WRITE), 0);
  t.is(vv.pteBits[0], 0, "nothing is mapped before the first access");
  t.true(w.m.memory.userAccessFrame(w.task, vvar, false) >= 0);
  t.is(vv.pteBits[0]! & (PTE.PRESENT | PTE.SPECIAL), PTE.PRESENT | PTE.SPECIAL);
  t.is(w.m.memory.userAccessFrame(w.task, vvar + PAGE_SIZE, false), VM_FAULT.SIGBUS, "no pvclock page");
  t.is(w.m.memory.userAccessFrame(w.task, vdso, true), VM_FAULT.SIGSEGV);
  const pfn = w.m.memory.userAccessFrame(w.task, vdso, false);
  t.true(pfn >= 0);
  const f = w.m.folios;
  t.true(f.test(pfn, PG.reserved));
  t.false(f.test(pfn, PG.lru));
  t.is(f.mapcount[pfn], 1);
  t.is(f.refcount[pfn], 2, "the kernel's reference and the mapping's");
  t.deepEqual(w.checker.checkAll(), []);
});

test("every process maps the same vDSO frames; unmapping drops only the mappings' references", (t) => {
  const w = world();
  const a = install(w);
  const pfn = w.m.memory.userAccessFrame(w.task, a.vdso, false);
  const other = w.m.createMm();
  const b = mapVdso(w.m, other);
  if (typeof b === "number") return t.fail(`map_vdso ${b}`);
  const task2 = w.m.createTask(other, 1);
  t.is(w.m.memory.userAccessFrame(task2, b.vdso, false), pfn);
  t.is(w.m.folios.mapcount[pfn], 2);
  w.m.memory.exitMmap(other);
  t.is(w.m.memory.munmap(w.mm, a.vvar, (VVAR_PAGES + 2) * PAGE_SIZE), 0);
  t.is(w.m.folios.mapcount[pfn], 0);
  t.is(w.m.folios.refcount[pfn], 1, "the kernel keeps its image");
  t.true(w.m.folios.test(pfn, PG.allocated));
  t.deepEqual(w.checker.checkAll(), []);
});
