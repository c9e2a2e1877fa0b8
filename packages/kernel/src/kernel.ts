import { FREE_COSTS, type CostMeter } from "./cost.js";
import { FaultInjector } from "./fault-inject.js";
import { Prng } from "./prng.js";
import { Sim } from "./sim.js";
import { TraceBus } from "./tracepoint.js";

/** Options for one emulated machine's kernel core. */
export interface KernelCoreOptions {
  /** Seed for every PRNG stream of the machine. @default 1 */
  readonly seed?: number;
  /** Timing model; omit for a purely functional run where nothing costs time. */
  readonly costs?: CostMeter;
}

/**
 * The core services one emulated machine's kernel code uses: virtual time, tracepoints, named PRNG
 * streams, fault points and the cost meter. Everything is per machine, nothing is global, so many
 * machines can run side by side in one process.
 */
export class KernelCore {
  readonly sim: Sim;
  readonly trace: TraceBus;
  readonly prng: Prng;
  readonly faults: FaultInjector;
  /** The cost meter; replaced when a timing model attaches. */
  cost: CostMeter;

  constructor(opts: KernelCoreOptions = {}) {
    this.sim = new Sim();
    this.trace = new TraceBus(this.sim);
    this.prng = new Prng(opts.seed ?? 1);
    this.faults = new FaultInjector(this.prng.stream("fault-inject"));
    this.cost = opts.costs ?? FREE_COSTS;
  }
}
