/** pagemap: /proc/PID/pagemap entries of a range, as a process reading its own pagemap sees them. */
import { z } from "zod";
import { CAP, capable } from "@mmemu/move-pages";
import { PAGE_SIZE, pagemapEntry, PM_FILE, PM_MMAP_EXCLUSIVE, PM_PFRAME_MASK, PM_PRESENT, PM_SOFT_DIRTY, PM_SWAP, PM_UFFD_WP } from "@mmemu/mm-core";
import { evalAddrNumber } from "../expr.js";
import { defineOp } from "../op.js";
import { Addr, common, proc, Size } from "../schema-types.js";
import { parseSize } from "../expr.js";

const BITS = { present: PM_PRESENT, swapped: PM_SWAP, file: PM_FILE, exclusive: PM_MMAP_EXCLUSIVE, softDirty: PM_SOFT_DIRTY, uffdWp: PM_UFFD_WP } as const;

export const pagemap = defineOp({
  schema: z.object({
    op: z.literal("pagemap"), ...common, ...proc, addr: Addr, pages: z.number().int().min(1).max(4096).default(1), stride: Size.default(PAGE_SIZE),
    expect: z.object({
      present: z.boolean().optional(), swapped: z.boolean().optional(), file: z.boolean().optional(),
      exclusive: z.boolean().optional(), softDirty: z.boolean().optional(), uffdWp: z.boolean().optional(),
      pfnShown: z.boolean().optional().describe("the PFN field is non-zero (only a CAP_SYS_ADMIN reader sees it)"),
    }).strict().optional().describe("applies to every entry read"),
  }).strict(),
  check(c, st) {
    c.proc(st.process);
    c.addr(st.addr, "addr");
    c.size(st.stride, "stride");
  },
  run(w, st, scope) {
    const t = w.task(st.process);
    const base = evalAddrNumber(st.addr, scope);
    const stride = parseSize(st.stride);
    const showPfn = capable(t.cred, CAP.SYS_ADMIN);
    const entries: string[] = [];
    const mismatches: string[] = [];
    for (let k = 0; k < st.pages; k++) {
      const a = base + k * stride;
      const e = t.mm === null ? 0n : pagemapEntry(w.m, t.mm, a, showPfn);
      entries.push(`0x${e.toString(16).padStart(16, "0")}`);
      for (const [name, bit] of Object.entries(BITS)) {
        const want = st.expect?.[name as keyof typeof BITS];
        if (want !== undefined && ((e & bit) !== 0n) !== want) mismatches.push(`page ${k} (0x${a.toString(16)}): ${name} is ${(e & bit) !== 0n}, expected ${want}`);
      }
      const pfnShown = (e & PM_PFRAME_MASK) !== 0n;
      if (st.expect?.pfnShown !== undefined && pfnShown !== st.expect.pfnShown) mismatches.push(`page ${k}: PFN ${pfnShown ? "shown" : "zero"}, expected ${st.expect.pfnShown ? "shown" : "zero"}`);
    }
    return { call: `pread(/proc/${t.pid}/pagemap, ${st.pages} entries at 0x${base.toString(16)})`, result: { entries }, mismatches };
  },
});
