import type { PrngStream } from "./prng.js";

/**
 * Fault injection after lib/fault-inject.c (struct fault_attr): each injection point is a named
 * attribute that fails with a probability, every `interval`-th call, a limited number of `times`, and
 * optionally only after `space` calls. Call sites check the cheap `armed` flag first:
 *
 *   if (fp.armed && fp.shouldFail()) return -ENOMEM;
 */
export interface FaultConfig {
  /** Chance of failing one eligible call, 0..1. @default 1 */
  readonly probability?: number;
  /** Only every n-th call is eligible (n >= 1). @default 1 */
  readonly interval?: number;
  /** Stop after failing this many times (-1 = unlimited). @default -1 */
  readonly times?: number;
  /** Let this many calls pass before any can fail. @default 0 */
  readonly space?: number;
  /**
   * Only calls about this object are eligible (what a point's target is — a folio's pfn, an engine's
   * index — is in its `targetKind`); calls about others do not count. @default any
   */
  readonly target?: number;
}

export class FaultPoint {
  armed = false;
  /** Calls seen while armed. */
  calls = 0;
  /** Failures injected. */
  injected = 0;
  private probability = 1;
  private interval = 1;
  private times = -1;
  private space = 0;
  private target = -1;

  constructor(
    readonly name: string,
    readonly description: string,
    private readonly rng: PrngStream,
    /** What `target` selects at this point ("folio", "engine", ...), or null when it takes none. */
    readonly targetKind: string | null = null,
  ) {}

  arm(cfg: FaultConfig = {}): void {
    const p = cfg.probability ?? 1;
    const interval = cfg.interval ?? 1;
    const times = cfg.times ?? -1;
    const space = cfg.space ?? 0;
    if (!(p >= 0 && p <= 1)) throw new RangeError(`fault ${this.name}: probability must be in [0, 1], got ${p}`);
    if (!Number.isInteger(interval) || interval < 1) throw new RangeError(`fault ${this.name}: interval must be an integer >= 1, got ${interval}`);
    if (!Number.isInteger(times) || times < -1) throw new RangeError(`fault ${this.name}: times must be an integer >= -1, got ${times}`);
    if (!Number.isInteger(space) || space < 0) throw new RangeError(`fault ${this.name}: space must be an integer >= 0, got ${space}`);
    const target = cfg.target ?? -1;
    if (cfg.target !== undefined && this.targetKind === null) throw new RangeError(`fault ${this.name}: takes no target`);
    if (!Number.isInteger(target) || target < -1) throw new RangeError(`fault ${this.name}: target must be a ${this.targetKind} number >= 0, got ${target}`);
    this.target = target;
    this.probability = p;
    this.interval = interval;
    this.times = times;
    this.space = space;
    this.calls = 0;
    this.injected = 0;
    this.armed = times !== 0;
  }

  disarm(): void {
    this.armed = false;
  }

  /** Mirrors should_fail(): decide for this call (about `target`, when the point has targets). */
  shouldFail(target = -1): boolean {
    if (this.target >= 0 && target !== this.target) return false;
    this.calls++;
    if (this.space > 0) {
      this.space--;
      return false;
    }
    if (this.interval > 1 && this.calls % this.interval !== 0) return false;
    if (!this.rng.chance(this.probability)) return false;
    this.injected++;
    if (this.times > 0 && --this.times === 0) this.armed = false;
    return true;
  }
}

/** The per-machine registry of fault points. */
export class FaultInjector {
  private readonly points = new Map<string, FaultPoint>();

  constructor(private readonly rng: PrngStream) {}

  /** Define a point (subsystems do this at construction); the same name gives the same point. */
  define(name: string, description: string, targetKind: string | null = null): FaultPoint {
    let fp = this.points.get(name);
    if (fp === undefined) {
      fp = new FaultPoint(name, description, this.rng, targetKind);
      this.points.set(name, fp);
    }
    return fp;
  }

  /** Arm a point by name; unknown names are an error listing the known ones. */
  arm(name: string, cfg: FaultConfig = {}): FaultPoint {
    const fp = this.get(name);
    fp.arm(cfg);
    return fp;
  }

  get(name: string): FaultPoint {
    const fp = this.points.get(name);
    if (fp === undefined) {
      throw new Error(`unknown fault point "${name}"; defined: ${this.list().map((p) => p.name).join(", ")}`);
    }
    return fp;
  }

  list(): FaultPoint[] {
    return [...this.points.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }
}
