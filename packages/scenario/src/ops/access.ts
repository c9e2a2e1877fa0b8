/** write, read and touch: the process accessing its memory (faulting pages in, copy_to/from_user). */
import { z } from "zod";
import { PAGE_SIZE } from "@mmemu/mm-core";
import { UserAccess } from "@mmemu/move-pages";
import { checkField } from "../expect.js";
import { evalAddrNumber, parseSize } from "../expr.js";
import { defineOp, hex, type StepCheck } from "../op.js";
import { Addr, common, Data, HexBytes, Pattern, proc, Size } from "../schema-types.js";
import { checkData, hexBytes, patternOf } from "./data.js";

function checkAccess(c: StepCheck, st: { process: string; addr: number | string; len: number | string }): void {
  c.proc(st.process);
  c.addr(st.addr, "addr");
  c.size(st.len, "len");
}

export const write = defineOp({
  schema: z.object({
    op: z.literal("write"), ...common, ...proc, addr: Addr, len: Size.default(4096),
    pattern: Pattern.optional().describe("32-bit pattern to fill with (whole pages)"),
    bytes: HexBytes.optional().describe("hex bytes to store at addr"),
    expect: z.object({ fault: z.boolean().optional() }).strict().optional(),
  }).strict(),
  check: checkAccess,
  run(w, st, scope) {
    const m = w.m;
    const t = w.task(st.process);
    const ua = new UserAccess(m, t.ctx);
    const addr = evalAddrNumber(st.addr, scope);
    let fault = false;
    w.tasks.withCurrent(t, () => {
      if (st.bytes !== undefined) {
        const b = hexBytes(st.bytes);
        fault = ua.copyToUser(addr, b, 0, b.length) !== 0;
        return;
      }
      const pattern = patternOf(st.pattern ?? 0x5a5a5a5a);
      const len = parseSize(st.len);
      const word = new Uint8Array(4);
      new DataView(word.buffer).setUint32(0, pattern, true);
      for (let a = addr; a < addr + len && !fault;) {
        const off = a % PAGE_SIZE;
        const chunk = Math.min(addr + len - a, PAGE_SIZE - off);
        const pfn = ua.frame(a, true);
        if (pfn < 0) {
          fault = true;
          break;
        }
        if (chunk === PAGE_SIZE) m.mem.fillPages(pfn, 1, pattern);
        else m.mem.write(pfn * PAGE_SIZE + off, Uint8Array.from({ length: chunk }, (_, k) => word[(off + k) % 4]!));
        a += chunk;
      }
    });
    const what = st.bytes !== undefined ? `bytes ${st.bytes}` : `pattern ${hex(patternOf(st.pattern ?? 0x5a5a5a5a))}`;
    return { call: `write(${st.addr}, ${st.len}, ${what})`, result: { fault }, mismatches: checkField("fault", fault, st.expect?.fault ?? false) };
  },
});

export const read = defineOp({
  schema: z.object({
    op: z.literal("read"), ...common, ...proc, addr: Addr, len: Size.default(1),
    expect: z.object({ fault: z.boolean().optional(), data: Data.optional() }).strict().optional(),
  }).strict(),
  check: checkAccess,
  run(w, st, scope) {
    const m = w.m;
    const t = w.task(st.process);
    const ua = new UserAccess(m, t.ctx);
    const addr = evalAddrNumber(st.addr, scope);
    const len = parseSize(st.len);
    const buf = new Uint8Array(len);
    const fault = w.tasks.withCurrent(t, () => ua.copyFromUser(buf, 0, addr, len) !== 0);
    const mismatches = checkField("fault", fault, st.expect?.fault ?? false);
    if (!fault && st.expect?.data) {
      const pfns: number[] = [];
      for (let a = addr - (addr % PAGE_SIZE); a < addr + len; a += PAGE_SIZE) pfns.push(m.memory.translate(t.mm!, a));
      mismatches.push(...checkData(w, pfns, () => buf, st.expect.data, "data"));
    }
    const shown = Array.from(buf.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join(" ");
    return { call: `read(${st.addr}, ${st.len})`, result: { fault, bytes: fault ? null : shown }, mismatches };
  },
});

export const touch = defineOp({
  schema: z.object({
    op: z.literal("touch"), ...common, ...proc, addr: Addr, len: Size.default(4096), write: z.boolean().default(true),
    expect: z.object({ fault: z.boolean().optional() }).strict().optional(),
  }).strict(),
  check: checkAccess,
  run(w, st, scope) {
    const t = w.task(st.process);
    const ua = new UserAccess(w.m, t.ctx);
    const addr = evalAddrNumber(st.addr, scope);
    const len = parseSize(st.len);
    let fault = false;
    w.tasks.withCurrent(t, () => {
      for (let a = addr - (addr % PAGE_SIZE); a < addr + len && !fault; a += PAGE_SIZE) fault = ua.frame(a, st.write) < 0;
    });
    return { call: `${st.write ? "write" : "read"}-touch(${st.addr}, ${st.len})`, result: { fault }, mismatches: checkField("fault", fault, st.expect?.fault ?? false) };
  },
});
