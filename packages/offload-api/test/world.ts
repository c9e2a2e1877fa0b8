/** Shared set-up for offload-api tests: a real two-node machine, a process, an invariant checker. */
import { NR_COST_KINDS, type CostKind, type CostMeter } from "@mmemu/kernel";
import { InvariantChecker, Machine, type MmStruct, type Task } from "@mmemu/mm-core";

/** A cost meter that only counts units per kind (no time passes). */
export class CountingCosts implements CostMeter {
  readonly units = new Float64Array(NR_COST_KINDS);
  charge(kind: CostKind, units: number): void {
    this.units[kind]! += units;
  }
}

export interface World {
  m: Machine;
  mm: MmStruct;
  task: Task;
  checker: InvariantChecker;
  costs: CountingCosts;
}

export function world(opts: { pages?: number; cpus?: number } = {}): World {
  const costs = new CountingCosts();
  const m = new Machine({
    nodes: [
      { id: 0, pages: opts.pages ?? 1 << 13, cpus: opts.cpus ?? 2 },
      { id: 1, pages: opts.pages ?? 1 << 13, cpus: opts.cpus ?? 2 },
    ],
    costs,
  });
  const mm = m.createMm();
  const task = m.createTask(mm, 0);
  m.current = task;
  const checker = new InvariantChecker(m);
  return { m, mm, task, checker, costs };
}

export {
  mapAnon as anon, pagePattern as pattern, isolateRange as isolate, migrateRange, nodeOf, intact,
} from "@mmemu/test-support";
