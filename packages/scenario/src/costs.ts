/**
 * The cost meter scenarios run with: a table of nanoseconds per unit for each cost kind, so virtual time
 * passes while kernel code works and the scenario's threads (virtual-time events) can run in the middle
 * of a migration. Work done inside an event (a thread's access) is not timed: an event must not sleep,
 * and the access itself is what the scenario looks at.
 *
 * The "simple" table is illustrative, chosen so that the windows that matter (a folio unmapped and being
 * copied) are long compared with a thread's access interval; it is not calibrated. Calibrated hardware
 * profiles come from @mmemu/timing.
 */
import { Cost, COST_NAMES, NR_COST_KINDS, type CostKind, type CostMeter, type Sim } from "@mmemu/kernel";

/** Nanoseconds per unit of the "simple" table (kinds not listed cost 100 ns). */
export const SIMPLE_COSTS: Readonly<Partial<Record<keyof typeof Cost, number>>> = {
  SYSCALL: 300,
  LRU_CACHE_DISABLE: 5000,
  PAGE_LOOKUP: 80,
  FOLIO_ISOLATE: 50,
  MIGRATE_BATCH: 500,
  FOLIO_ALLOC: 150,
  FOLIO_UNMAP: 200,
  PTE_UNMAP: 30,
  PMD_UNMAP: 300,
  TLB_FLUSH_LOCAL: 200,
  TLB_FLUSH_IPI: 2000,
  TLB_FLUSH_IPI_CPU: 500,
  FOLIO_MOVE: 300,
  PTE_REMAP: 30,
  PMD_REMAP: 300,
  CPU_COPY_BYTE: 0.08,
  CPU_COPY_PAGE: 50,
  FOLIO_PUTBACK: 50,
  FOLIO_SPLIT: 2000,
  FOLIO_UNDO: 200,
  PAGE_FAULT: 500,
  PREP_COMPOUND_TAIL: 5,
  FREE_TAIL_PAGE: 5,
  // No cache model in the simple table.
  FOLIO_WARM_SET: 0,
};

export class TableCosts implements CostMeter {
  /** ns per unit, by kind. */
  readonly ns: Float64Array;
  /** Units charged, by kind. */
  readonly units = new Float64Array(NR_COST_KINDS);
  private owed = 0;

  constructor(
    private readonly sim: Sim,
    table: Readonly<Record<string, number>>,
    defaultNs: number,
  ) {
    this.ns = new Float64Array(NR_COST_KINDS).fill(defaultNs);
    for (const [name, v] of Object.entries(table)) {
      const kind = COST_NAMES.indexOf(name);
      if (kind < 0) throw new RangeError(`unknown cost kind "${name}"; known: ${COST_NAMES.join(", ")}`);
      this.ns[kind] = v;
    }
  }

  charge(kind: CostKind, units: number): void {
    this.units[kind]! += units;
    if (this.sim.inEvent) return;
    // Sub-nanosecond charges (bytes) accumulate until they amount to a whole nanosecond.
    this.owed += this.ns[kind]! * units;
    if (this.owed >= 1) {
      const whole = Math.floor(this.owed);
      this.owed -= whole;
      this.sim.advance(whole);
    }
  }
}

/** The meter for a scenario's `machine.timing`. */
export function scenarioCosts(sim: Sim, timing: "none" | "simple" | { default?: number | undefined; costs: Record<string, number> }): CostMeter | null {
  if (timing === "none") return null;
  if (timing === "simple") return new TableCosts(sim, SIMPLE_COSTS as Record<string, number>, 100);
  return new TableCosts(sim, timing.costs, timing.default ?? 0);
}
