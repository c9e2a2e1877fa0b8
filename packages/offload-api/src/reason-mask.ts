import { EINVAL } from "@mmemu/kernel";
import { MIGRATE_REASON_NAMES, MR, MR_TYPES } from "@mmemu/mm-core";
import { kstrtoul } from "./kstrtox.js";

/**
 * Which migration reasons use the batch-copy path. V5 fixes the set in the core
 * (migrate_offload_do_batch()); V6 lets the driver choose a mask of BIT(MR_*) values and offers a
 * parser and formatter for the knob that sets it (mm/migrate_copy_offload.c in the V6 tree).
 */

/** Mirrors MIGRATE_OFFLOAD_REASONS_ALLOWED (V6): every reason may be offloaded. */
export const MIGRATE_OFFLOAD_REASONS_ALLOWED = (1 << MR_TYPES) - 1;

/**
 * The reasons V5 batches: compaction, syscall (move_pages/migrate_pages/cpusets), demotion and NUMA
 * balancing — the bulk movers. Memory failure, hotplug, CMA, longterm pins, mbind and DAMON keep the
 * per-folio path.
 */
export const MIGRATE_OFFLOAD_V5_REASONS =
  (1 << MR.COMPACTION) | (1 << MR.SYSCALL) | (1 << MR.DEMOTION) | (1 << MR.NUMA_MISPLACED);

/**
 * Mirrors migrate_offload_reason_mask_parse(): a plain number (any kstrtoul base-0 form, "0x101") is
 * a raw mask; otherwise a comma-separated list of reason names as migrate_reason_names[] prints them
 * ("compaction,syscall_or_cpuset"), where "all" and "none" set or clear everything. Whitespace around
 * tokens and empty tokens are ignored. The mask is clamped to MIGRATE_OFFLOAD_REASONS_ALLOWED and
 * stored in `out.value`. Returns 0, or -EINVAL on an unknown name (out untouched).
 */
export function migrateOffloadReasonMaskParse(buf: string, out: { value: number }): number {
  const n = kstrtoul(buf, 0);
  if (n >= 0) {
    // The kernel masks an unsigned long; the reasons live in the low bits.
    out.value = Number(BigInt(n) & BigInt(MIGRATE_OFFLOAD_REASONS_ALLOWED));
    return 0;
  }
  let mask = 0;
  for (const raw of buf.trim().split(",")) {
    const tok = raw.trim();
    if (tok.length === 0) continue;
    if (tok === "none") {
      mask = 0;
      continue;
    }
    if (tok === "all") {
      mask = MIGRATE_OFFLOAD_REASONS_ALLOWED;
      continue;
    }
    const i = (MIGRATE_REASON_NAMES as readonly string[]).indexOf(tok);
    if (i < 0) return -EINVAL;
    mask |= 1 << i;
  }
  out.value = mask & MIGRATE_OFFLOAD_REASONS_ALLOWED;
  return 0;
}

/**
 * Mirrors migrate_offload_reason_mask_format(): the set reasons' names joined by commas, or "none"
 * (without the trailing newline sysfs adds).
 */
export function migrateOffloadReasonMaskFormat(mask: number): string {
  const names: string[] = [];
  for (let i = 0; i < MR_TYPES; i++) if (mask & (1 << i)) names.push(MIGRATE_REASON_NAMES[i]!);
  return names.length === 0 ? "none" : names.join(",");
}
