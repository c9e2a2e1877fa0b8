import { Cost, type Tracepoint } from "@mmemu/kernel";
import type { DmaEngine } from "./registry.js";

/**
 * MMIO accounting shared by the drivers: every access is counted and traced (`mmio_write`,
 * `mmio_read`, spec 5.3); accesses made from task context are charged as Cost.MMIO_WRITE /
 * MMIO_READ when the driver's entry point calls {@link MmioMeter.flush} on its way out, so charging
 * (which may advance virtual time and run device events) never lands inside what the kernel protects
 * with a spinlock. Accesses from interrupt or tasklet context are timed by the device's parameters.
 */
export class MmioMeter {
  writes = 0;
  reads = 0;
  private pendingWrites = 0;
  private pendingReads = 0;
  private readonly tpW: Tracepoint<{ dev: string; reg: number; value: number }>;
  private readonly tpR: Tracepoint<{ dev: string; reg: number; value: number }>;

  constructor(
    private readonly engine: DmaEngine,
    readonly dev: string,
  ) {
    this.tpW = engine.core.trace.define("mmio_write");
    this.tpR = engine.core.trace.define("mmio_read");
  }

  /** Count one write of `value` (a u32, possibly passed as a signed int32) to register `reg`. */
  write(reg: number, value: number): void {
    this.writes++;
    if (!this.engine.core.sim.inEvent) this.pendingWrites++;
    if (this.tpW.enabled) this.tpW.emit({ dev: this.dev, reg, value: value >>> 0 });
  }

  /** Count one read of register `reg` that returned `value`; returns `value`. */
  read(reg: number, value: number): number {
    this.reads++;
    if (!this.engine.core.sim.inEvent) this.pendingReads++;
    if (this.tpR.enabled) this.tpR.emit({ dev: this.dev, reg, value: value >>> 0 });
    return value;
  }

  /** Charge the task for the accesses of the entry point that is returning. */
  flush(): void {
    const w = this.pendingWrites;
    const r = this.pendingReads;
    this.pendingWrites = 0;
    this.pendingReads = 0;
    if (w > 0) this.engine.chargeTask(Cost.MMIO_WRITE, w);
    if (r > 0) this.engine.chargeTask(Cost.MMIO_READ, r);
  }
}
