/** PROT_* names of the prot fields of mmap, mprotect and pfnmap. */
import { PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE } from "@mmemu/mm-core";

export const PROT_BITS: Record<string, number> = { NONE: PROT_NONE, READ: PROT_READ, WRITE: PROT_WRITE, EXEC: PROT_EXEC };
