/**
 * The value types scenario fields share (sizes, address expressions, names, expectations), used by
 * the top-level schema (schema.ts) and by each operation's schema (ops/*.ts).
 */
import { z } from "zod";

const sizeRe = /^\s*(\d+|0x[0-9a-fA-F]+)\s*(B|K|KiB|KB|M|MiB|MB|G|GiB|GB|p|pages?)?\s*$/;
export const Size = z.union([z.number().int().nonnegative(), z.string().regex(sizeRe, "a size like 4096, \"4KiB\", \"2MiB\" or \"3p\" (pages)")])
  .describe("bytes: a number, or a string with a unit (KiB, MiB, GiB, or p for 4 KiB pages)");
export const Addr = z.union([z.number().int().nonnegative(), z.string().min(1)])
  .describe("an address expression: labels, numbers and NULL/KERNEL/NONCANONICAL joined with + and -");
export const Name = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, "a name of letters, digits, _ . -");
export const NodeId = z.number().int().min(0).max(1023);
export const VarRef = z.string().regex(/^\$[A-Za-z_][A-Za-z0-9_]*$/, "a repeat variable like \"$n\"");
export const IntOrVar = z.union([z.number().int(), VarRef]);
export const ErrnoName = z.string().regex(/^-?E[A-Z0-9]+$/, "an errno name like \"EFAULT\"");
export const CapName = z.string().regex(/^(CAP_)?[A-Z_]+$/, "a capability name like CAP_SYS_NICE");
export const NodeList = z.array(NodeId);
export const Prot = z.union([z.number().int(), z.array(z.enum(["NONE", "READ", "WRITE", "EXEC"]))]);
export const Pattern = z.union([z.number().int(), z.string().regex(/^0x[0-9a-fA-F]{1,8}$/)]);
export const HexBytes = z.string().regex(/^([0-9a-fA-F]{2}\s*)+$/);

/** What a step may expect of its result. */
const StatusValue = z.union([z.number().int(), ErrnoName, z.literal("untouched"), z.literal("*"), VarRef]);
export const StatusExpect = z.union([
  z.array(StatusValue),
  z.object({
    all: StatusValue.optional(),
    at: z.record(z.string().regex(/^\d+$/), StatusValue).optional(),
    counts: z.record(z.string(), IntOrVar).optional().describe("how many entries hold each value (keys are status values)"),
  }).strict(),
]);
const RetExpect = z.union([z.number().int(), z.enum(["positive", "nonnegative", "any"]), VarRef]);

const ErrnoExpect = z.union([ErrnoName, z.literal(0), z.array(z.union([ErrnoName, z.literal(0)])).min(1)])
  .describe("errno name, 0 for success, or a list of acceptable ones");
export const SyscallExpect = z.object({
  ret: RetExpect.optional().describe("the user-visible return value (-1 on error)"),
  errno: ErrnoExpect.optional(),
  status: StatusExpect.optional(),
}).strict();

export const OpExpect = z.object({
  ret: RetExpect.optional(),
  errno: ErrnoExpect.optional(),
}).strict();

export const Data = z.object({
  pattern: Pattern.optional().describe("a 32-bit fill pattern"),
  bytes: HexBytes.optional().describe("hex bytes"),
  zero: z.literal(true).optional(),
}).strict();

export const common = {
  name: z.string().optional().describe("a title for reports"),
};
export const proc = { process: Name.describe("the process (or thread) doing it") };
export const Range = { addr: Addr, len: Size };

export type SyscallExpectation = z.infer<typeof SyscallExpect>;
export type StatusExpectation = z.infer<typeof StatusExpect>;
export type DataExpectation = z.infer<typeof Data>;
