/**
 * The timing model: the CostMeter the functional path charges. Each cost kind has a price per unit
 * from the profile's CPU section; charging advances the running task's virtual clock (Sim.advance, so
 * device events due inside that work fire at their own times).
 *
 * Accounting is exact and deterministic: prices are held in fixed point (2^-20 ns), every charge adds
 * units x price to an integer accumulator, and only whole nanoseconds are advanced; the fractional rest
 * is carried to the next charge. So the clock after any sequence of charges is exactly
 * floor(sum(units x price) / 2^20) ns, independent of how the work was split into charges.
 */
import { Cost, COST_NAMES, NR_COST_KINDS, PHASE_OF_COST, type CostKind, type CostMeter } from "@mmemu/kernel";
import { pricingOf, type CpuCostName } from "./cpu-costs.js";

/** Fixed-point scale: prices are integers in units of 2^-20 ns. */
export const PRICE_SCALE = 2 ** 20;
const MAX_EXACT = Number.MAX_SAFE_INTEGER;

/** One line of {@link TimingModel.breakdown}. */
export interface CostBreakdownLine {
  readonly kind: string;
  readonly units: number;
  /** Nanoseconds charged (units x price, not rounded). */
  readonly ns: number;
}

/** What the timing model needs of the fabric for CPU copies (@mmemu/platform's Fabric). */
export interface CpuCopyFabric {
  idleCpuCopyRate(srcNode: number, dstNode: number, bytes: number): number;
  cpuCopyWait(srcNode: number, dstNode: number, bytes: number): number;
}

export class TimingModel implements CostMeter {
  // What charge() reads on every call, held by the instance: V8 (Node 20) loads a module constant
  // from its context on every use and cannot fold it, a field of `this` is one load.
  private readonly phaseOf: Uint8Array = PHASE_OF_COST;
  /** 1 for the kinds charge() prices by their own mechanism or that change the model's state. */
  private readonly special: Uint8Array = new Uint8Array(NR_COST_KINDS);
  /** The largest fixed-point step the accumulator takes exactly. */
  private readonly maxStepFx = MAX_EXACT - PRICE_SCALE;
  /** Price per unit in 2^-20 ns, by kind. */
  private readonly price: Float64Array = new Float64Array(NR_COST_KINDS);
  /** Units charged, by kind. */
  readonly units: Float64Array = new Float64Array(NR_COST_KINDS);
  /** Fixed-point total charged, by kind (reports; may lose exactness past 2^53). */
  private readonly fxByKind: Float64Array = new Float64Array(NR_COST_KINDS);
  /** Fractional nanoseconds not yet advanced, in 2^-20 ns (always < PRICE_SCALE). */
  private carry = 0;
  /** Whole nanoseconds advanced since creation. */
  advanced = 0;
  /** Deep C-state exit added to a shootdown (fixed point), and the idle time after which it applies. */
  private readonly deepExitFx: number;
  private readonly deepAfter: number;
  /** When the previous shootdown ended (the targets' last wake-up). */
  private lastIpiAt = -Infinity;
  /** cpu_copy_bw, whose price CPU_COPY_BYTE holds. */
  private readonly copyRate: number;
  /** Shootdowns that found their targets in the deep C-state. */
  deepWakeups = 0;
  /** The migration's reused working set: its size in lines and the share of it one folio touches. */
  private readonly warmSetLines: number;
  private readonly warmTouch: number;
  /** 1 - warmTouch: the share of the cold lines one folio leaves cold. */
  private readonly coldKept: number;
  /** Fraction of that set warm in the running task's caches (0 after lru_cache_disable()'s sleep). */
  private warm = 0;
  /** Lines of the working set missed so far (reports and tests). */
  warmSetMisses = 0;

  constructor(
    private readonly sim: { readonly now: number; phase: number; advance(ns: number): void },
    cpu: Readonly<Record<CpuCostName, number>>,
  ) {
    const exit = cpu.ipi_deep_exit;
    const after = cpu.ipi_deep_after;
    if (typeof exit !== "number" || !Number.isFinite(exit) || typeof after !== "number" || !(after >= 0)) {
      throw new RangeError("timing: cpu.ipi_deep_exit and cpu.ipi_deep_after must be finite numbers");
    }
    this.deepExitFx = Math.round(exit * PRICE_SCALE);
    this.copyRate = cpu.cpu_copy_bw;
    this.deepAfter = after;
    const lines = cpu.warm_set_lines;
    const perFolio = cpu.warm_set_lines_per_folio;
    if (typeof lines !== "number" || !(lines >= 1) || typeof perFolio !== "number" || !(perFolio >= 0)) {
      throw new RangeError("timing: cpu.warm_set_lines must be >= 1 and cpu.warm_set_lines_per_folio >= 0");
    }
    this.warmSetLines = lines;
    this.warmTouch = Math.min(1, perFolio / lines);
    this.coldKept = 1 - this.warmTouch;
    for (const k of [Cost.TLB_FLUSH_IPI, Cost.FOLIO_WARM_SET, Cost.LRU_CACHE_DISABLE]) this.special[k] = 1;
    for (let k = 0; k < NR_COST_KINDS; k++) {
      const p = pricingOf(k as CostKind);
      if (p === undefined) continue;
      const v = cpu[p.param];
      if (typeof v !== "number" || !Number.isFinite(v)) throw new RangeError(`timing: cpu.${p.param} is not a finite number`);
      const ns = p.per === "ns" ? v : 1 / v;
      this.price[k] = Math.round(ns * PRICE_SCALE);
    }
  }

  /** Nanoseconds per unit of a kind, as used (after fixed-point rounding). */
  nsPerUnit(kind: CostKind): number {
    return this.price[kind]! / PRICE_SCALE;
  }

  charge(kind: CostKind, units: number): void {
    // The time this charge advances (and any sleep right after it) belongs to the kind's phase.
    this.sim.phase = this.phaseOf[kind]!;
    if (this.special[kind] !== 0) {
      if (kind === Cost.TLB_FLUSH_IPI) {
        if (units > 0) {
          this.shootdown(units);
          return;
        }
      } else if (kind === Cost.FOLIO_WARM_SET) {
        this.warmSetTouch(units);
        return;
      } else {
        // Cost.LRU_CACHE_DISABLE: the call sleeps while every CPU drains: its core idles and its
        // private caches go cold.
        this.warm = 0;
      }
    }
    this.units[kind]! += units;
    const p = this.price[kind]!;
    if (p === 0 || units === 0) return;
    // Prices are integers: one unit (most charges) costs exactly p, without the multiply and rounding.
    let fx = units === 1 ? p : Math.round(units * p);
    this.fxByKind[kind]! += fx;
    if (fx > this.maxStepFx) {
      // A single enormous charge: advance whole chunks so the accumulator stays exact.
      const chunk = 2 ** 32 * PRICE_SCALE;
      while (fx > chunk) {
        this.step(chunk);
        fx -= chunk;
      }
    }
    this.step(fx);
  }

  /**
   * A shootdown with IPIs (Cost.TLB_FLUSH_IPI): its price, plus `ipi_deep_exit` when the targets have
   * been idle for `ipi_deep_after` or longer since the previous shootdown woke them (C-state residency).
   */
  private shootdown(units: number): void {
    const k = Cost.TLB_FLUSH_IPI;
    this.units[k]! += units;
    let fx = Math.round(units * this.price[k]!);
    if (this.deepExitFx > 0 && this.sim.now - this.lastIpiAt >= this.deepAfter) {
      fx += this.deepExitFx;
      this.deepWakeups++;
    }
    this.fxByKind[k]! += fx;
    this.step(fx);
    this.lastIpiAt = this.sim.now;
  }

  /**
   * Folios touching the reused working set (Cost.FOLIO_WARM_SET): each folio touches a share r of the
   * set's lines and misses on the cold ones, which warms them, so after u folios the warm fraction is
   * 1 - (1 - w)(1 - r)^u and the misses are warm_set_lines times its growth: a cold call pays the
   * whole set once, front-loaded on its first folios, and a warm one nothing.
   */
  private warmSetTouch(units: number): void {
    const k = Cost.FOLIO_WARM_SET;
    this.units[k]! += units;
    if (units <= 0) return;
    const before = this.warm;
    // (1 - r)^u; the per-folio charge (u = 1) needs no power, and x^1 is exactly x.
    this.warm = 1 - (1 - before) * (units === 1 ? this.coldKept : this.coldKept ** units);
    const misses = (this.warm - before) * this.warmSetLines;
    this.warmSetMisses += misses;
    const fx = Math.round(misses * this.price[k]!);
    this.fxByKind[k]! += fx;
    this.step(fx);
  }

  /** The fabric CPU copies run through (createMachine attaches the machine's); null: charged per byte. */
  private copyPath: CpuCopyFabric | null = null;

  /** Route CPU copies through a fabric: one path for every CPU copy of the machine. */
  attachFabric(fabric: CpuCopyFabric): void {
    this.copyPath = fabric;
  }

  /**
   * A CPU copy: with the fabric idle it runs at its rate cap and is charged as a block (exactly as a
   * Cost.CPU_COPY_BYTE charge at that rate, so the copy costs the same however the run is split);
   * with flows running it is a flow of its own, sharing memory and link bandwidth with them.
   */
  cpuCopy(srcNode: number, dstNode: number, bytes: number): void {
    const k = Cost.CPU_COPY_BYTE;
    if (this.copyPath === null) {
      this.charge(k, bytes);
      return;
    }
    this.units[k]! += bytes;
    const rate = this.copyPath.idleCpuCopyRate(srcNode, dstNode, bytes);
    if (rate > 0) {
      const price = rate === this.copyRate ? this.price[k]! : Math.round(PRICE_SCALE / rate);
      const fx = Math.round(bytes * price);
      this.fxByKind[k]! += fx;
      this.step(fx);
      return;
    }
    // The fabric advances the clock itself; the breakdown still shows where the time went.
    this.fxByKind[k]! += this.copyPath.cpuCopyWait(srcNode, dstNode, bytes) * PRICE_SCALE;
  }

  private step(fx: number): void {
    const total = fx + this.carry;
    // 2^-20 and 2^20 written out (V8 would load PRICE_SCALE and divide by it): multiplying by a power
    // of two is exact, so this is floor(total / PRICE_SCALE) bit for bit.
    const ns = Math.floor(total * 9.5367431640625e-7);
    this.carry = total - ns * 1048576;
    if (ns > 0) {
      this.advanced += ns;
      this.sim.advance(ns);
    }
  }

  /** Where the charged time went, by kind (kinds never charged are left out). */
  breakdown(): CostBreakdownLine[] {
    const out: CostBreakdownLine[] = [];
    for (let k = 0; k < NR_COST_KINDS; k++) {
      if (this.units[k] === 0) continue;
      out.push({ kind: COST_NAMES[k]!, units: this.units[k]!, ns: this.fxByKind[k]! / PRICE_SCALE });
    }
    return out;
  }

  /** Kinds that were charged but have no price (a new Cost kind nobody priced yet). */
  unpricedCharged(): string[] {
    const out: string[] = [];
    for (let k = 0; k < NR_COST_KINDS; k++) if (this.units[k] !== 0 && pricingOf(k as CostKind) === undefined) out.push(COST_NAMES[k]!);
    return out;
  }
}
