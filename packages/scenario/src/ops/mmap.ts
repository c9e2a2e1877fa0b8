/** mmap(2): a new mapping, labelled with the address it returns. */
import { z } from "zod";
import {
  alignUp, MAP_ANONYMOUS, MAP_FIXED, MAP_HUGETLB, MAP_LOCKED, MAP_POPULATE, MAP_PRIVATE, MAP_SHARED,
} from "@mmemu/mm-core";
import { parseSize, evalAddrNumber } from "../expr.js";
import { bits, defineOp, hex, MAP_FAILED, retOutcome } from "../op.js";
import { Addr, common, Name, OpExpect, proc, Prot, Size } from "../schema-types.js";
import { PROT_BITS } from "./prot.js";

const MAP_BITS: Record<string, number> = {
  SHARED: MAP_SHARED, PRIVATE: MAP_PRIVATE, ANONYMOUS: MAP_ANONYMOUS, FIXED: MAP_FIXED, LOCKED: MAP_LOCKED,
  POPULATE: MAP_POPULATE, HUGETLB: MAP_HUGETLB,
};
const MmapFlag = z.enum(["SHARED", "PRIVATE", "ANONYMOUS", "FIXED", "LOCKED", "POPULATE", "HUGETLB"]);

export const mmap = defineOp({
  schema: z.object({
    op: z.literal("mmap"), ...common, ...proc,
    as: Name.describe("label for the returned address"),
    len: Size,
    prot: Prot.default(["READ", "WRITE"]),
    flags: z.array(MmapFlag).default(["PRIVATE", "ANONYMOUS"]),
    file: Name.optional(),
    offset: Size.default(0),
    addr: Addr.optional().describe("hint (or the address with FIXED)"),
    align: Size.optional().describe("over-allocate and label the first address aligned to this (e.g. \"2MiB\")"),
    expect: OpExpect.optional(),
  }).strict(),
  check(c, st) {
    c.proc(st.process);
    c.size(st.len, "len");
    c.size(st.offset, "offset");
    if (st.align !== undefined) c.size(st.align, "align");
    if (st.addr !== undefined) c.addr(st.addr, "addr");
    if (st.file !== undefined && !c.files.has(st.file)) c.problem("file", `unknown file "${st.file}" (files: ${c.known(c.files)})`);
    if (st.flags.includes("HUGETLB") && st.file !== undefined) c.problem("flags", "HUGETLB mappings are anonymous here (no hugetlbfs files)");
    if (!st.flags.includes("ANONYMOUS") && st.file === undefined) c.problem("file", "a mapping without ANONYMOUS needs a file");
    c.scope.labels.add(st.as);
  },
  run(w, st, scope) {
    const t = w.task(st.process);
    const len = parseSize(st.len);
    const align = st.align === undefined ? 0 : parseSize(st.align);
    const flags = bits(st.flags, MAP_BITS);
    const args = {
      len: len + align, prot: bits(st.prot, PROT_BITS), flags, offset: parseSize(st.offset),
      ...(st.file !== undefined ? { file: w.files.get(st.file)! } : {}),
      ...(st.addr !== undefined ? { addr: evalAddrNumber(st.addr, scope) } : {}),
    };
    const r = w.tasks.withCurrent(t, () => w.m.memory.mmap(t.mm!, args));
    const addr = r >= 0 && align > 0 ? alignUp(r, align) : r;
    // A failed mmap() returns MAP_FAILED ((void *)-1); later steps that use the label use that pointer.
    w.labels.set(st.as, r >= 0 ? BigInt(addr) : MAP_FAILED);
    return retOutcome(`mmap(${st.as}, ${len} bytes, ${st.flags.join("|")})`, addr, st.expect, scope.vars, r >= 0 ? { addr: hex(addr) } : {});
  },
});
