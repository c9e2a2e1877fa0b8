/** device and pfnmap: device memory (ZONE_DEVICE pages) and VM_PFNMAP mappings that cannot migrate. */
import { z } from "zod";
import { makeDevicePrivateEntry, mapDeviceCoherentPage, mmapPfnRange } from "@mmemu/mm-core";
import { evalAddrNumber, parseSize } from "../expr.js";
import { bits, defineOp, hex, MAP_FAILED, retOutcome } from "../op.js";
import { Addr, common, Name, NodeId, proc, Prot, Size } from "../schema-types.js";
import { PROT_BITS } from "./prot.js";

export const device = defineOp({
  schema: z.object({ op: z.literal("device"), ...common, ...proc, addr: Addr, kind: z.enum(["coherent", "private"]), node: NodeId }).strict(),
  check(c, st) {
    c.proc(st.process);
    c.addr(st.addr, "addr");
    if (c.nodeBytes(st.node) === undefined) c.problem("node", `node ${st.node} does not exist`);
  },
  run(w, st, scope) {
    const t = w.task(st.process);
    const f = st.kind === "coherent" ? mapDeviceCoherentPage : makeDevicePrivateEntry;
    const r = w.tasks.withCurrent(t, () => f(w.m, t.mm!, evalAddrNumber(st.addr, scope), st.node));
    return { call: `migrate_vma(${st.addr} -> device-${st.kind} memory on node ${st.node})`, result: { pfn: r }, mismatches: r < 0 ? ["the page could not be moved to device memory"] : [] };
  },
});

export const pfnmap = defineOp({
  schema: z.object({ op: z.literal("pfnmap"), ...common, ...proc, as: Name, len: Size, prot: Prot.default(["READ", "WRITE"]), node: NodeId }).strict(),
  check(c, st) {
    c.proc(st.process);
    c.size(st.len, "len");
    if (!c.nodeBytes(st.node)) c.problem("node", `node ${st.node} has no memory to map`);
    c.scope.labels.add(st.as);
  },
  run(w, st, scope) {
    const t = w.task(st.process);
    const r = mmapPfnRange(w.m, t.mm!, parseSize(st.len), bits(st.prot, PROT_BITS), st.node);
    w.labels.set(st.as, r >= 0 ? BigInt(r) : MAP_FAILED);
    return retOutcome(`mmap(/dev/device -> remap_pfn_range, ${st.len})`, r, undefined, scope.vars, r >= 0 ? { addr: hex(r) } : {});
  },
});
