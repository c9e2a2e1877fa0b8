/** One full scan of ksmd (merges identical pages of MADV_MERGEABLE areas). */
import { z } from "zod";
import { ksmScan } from "@mmemu/mm-core";
import { checkField } from "../expect.js";
import { defineOp } from "../op.js";
import { common } from "../schema-types.js";

export const ksm_scan = defineOp({
  schema: z.object({ op: z.literal("ksm_scan"), ...common, expect: z.object({ merged: z.number().int().optional(), pagesShared: z.number().int().optional() }).strict().optional() }).strict(),
  check() {},
  run(w, st) {
    const r = ksmScan(w.m);
    const mismatches = [...checkField("merged", r.merged, st.expect?.merged), ...checkField("pagesShared", r.pagesShared, st.expect?.pagesShared)];
    return { call: "ksmd: one full scan", result: { ...r }, mismatches };
  },
});
