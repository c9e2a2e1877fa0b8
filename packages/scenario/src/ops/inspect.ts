/** inspect: what the page tables and struct folios say about a process's pages (node, order, flags, data). */
import { z } from "zod";
import { PAGE_SIZE, PG, PTE } from "@mmemu/mm-core";
import { evalAddrNumber, parseSize } from "../expr.js";
import { capMismatches, defineOp, hex } from "../op.js";
import { Addr, common, Data, Name, proc, Size, VarRef } from "../schema-types.js";
import { checkData } from "./data.js";

const PageExpect = z.object({
  node: z.union([z.number().int(), VarRef]).optional().describe("node holding each page"),
  present: z.boolean().optional(),
  order: z.number().int().min(0).optional().describe("folio order (9 = a 2 MiB THP or hugetlb page)"),
  hugetlb: z.boolean().optional(),
  ksm: z.boolean().optional(),
  mlocked: z.boolean().optional(),
  swapped: z.boolean().optional(),
  zeroPage: z.boolean().optional(),
  data: Data.optional(),
  sameAs: z.object({ process: Name, addr: Addr }).strict().optional().describe("mapped to the same page as another address"),
}).strict();
export type PageExpectation = z.infer<typeof PageExpect>;

/** Pages an inspect step reports (all are checked). */
const INSPECT_REPORT_LIMIT = 64;

export const inspect = defineOp({
  schema: z.object({
    op: z.literal("inspect"), ...common, ...proc, addr: Addr, pages: z.number().int().min(1).default(1),
    stride: Size.default(4096),
    expect: PageExpect.optional(),
  }).strict(),
  check(c, st) {
    c.proc(st.process);
    c.entries(st.pages, "pages");
    c.addr(st.addr, "addr");
    c.size(st.stride, "stride");
    if (st.expect?.sameAs) {
      c.proc(st.expect.sameAs.process, "expect.sameAs.process");
      c.addr(st.expect.sameAs.addr, "expect.sameAs.addr");
    }
    if (typeof st.expect?.node === "string") c.intVar(st.expect.node, "expect.node");
  },
  run(w, st, scope) {
    const m = w.m;
    const f = m.folios;
    const vars = scope.vars;
    const t = w.task(st.process);
    const mm = t.mm;
    const base = evalAddrNumber(st.addr, scope);
    const stride = parseSize(st.stride);
    const e: PageExpectation = st.expect ?? {};
    const pages: Array<Record<string, unknown>> = [];
    const mismatches: string[] = [];
    const wantNode = typeof e.node === "string" ? vars[e.node.slice(1)] : e.node;
    for (let k = 0; k < st.pages; k++) {
      const a = base + k * stride;
      const v = mm?.findVma(a) ?? null;
      const pfn = mm === null ? -1 : m.memory.translate(mm, a);
      const i = v === null ? -1 : Math.floor((a - v.start) / PAGE_SIZE);
      const swapped = v !== null && (v.pteBits[i]! & PTE.SWAP) !== 0;
      const present = pfn >= 0;
      const folio = present ? f.folioOf(pfn) : -1;
      const zeroPage = present && f.test(folio, PG.zero);
      const info: Record<string, unknown> = { addr: hex(a), present, node: present ? m.mem.nodeOfPfn[pfn] : -1 };
      if (present && !zeroPage) {
        Object.assign(info, {
          order: f.order[folio], hugetlb: f.test(folio, PG.hugetlb), ksm: f.test(folio, PG.ksm),
          mlocked: f.test(folio, PG.mlocked), mapcount: f.mapcount[folio],
        });
      }
      if (zeroPage) info.zeroPage = true;
      if (swapped) info.swapped = true;
      if (pages.length < INSPECT_REPORT_LIMIT) pages.push(info);
      const at = st.pages > 1 ? `page ${k} (${hex(a)})` : hex(a);
      const field = (name: string, got: unknown, want: unknown) => {
        if (want !== undefined && got !== want) mismatches.push(`${at}: ${name} is ${String(got)}, expected ${String(want)}`);
      };
      field("node", info.node, wantNode);
      field("present", present, e.present);
      field("order", info.order, e.order);
      field("hugetlb", info.hugetlb ?? false, e.hugetlb);
      field("ksm", info.ksm ?? false, e.ksm);
      field("mlocked", info.mlocked ?? false, e.mlocked);
      field("swapped", swapped, e.swapped);
      field("zeroPage", zeroPage, e.zeroPage);
      if (e.data) mismatches.push(...checkData(w, [pfn], (len) => (present ? m.mem.read(pfn * PAGE_SIZE + (a % PAGE_SIZE), len) : null), e.data, `${at} data`));
      if (e.sameAs) {
        const other = w.task(e.sameAs.process);
        const o = other.mm === null ? -1 : m.memory.translate(other.mm, evalAddrNumber(e.sameAs.addr, scope) + k * stride);
        if (o !== pfn || pfn < 0) mismatches.push(`${at}: not the same page as ${e.sameAs.process}'s ${e.sameAs.addr}`);
      }
    }
    return { call: `inspect(${st.process}, ${st.addr}${st.pages > 1 ? `, ${st.pages} pages` : ""})`, result: { pages }, mismatches: capMismatches(mismatches) };
  },
});
