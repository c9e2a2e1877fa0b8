import { EventEmitter } from "eventemitter3";
import type { Sim } from "./sim.js";

/**
 * Tracepoints, after include/linux/tracepoint.h: named events with typed fields. Call sites guard with
 * the `enabled` flag, a plain boolean read, so a disabled tracepoint costs one branch and no allocation:
 *
 *   if (tp.enabled) tp.emit({ nr_succeeded, nr_failed });
 *
 * Each emulated machine has its own bus, so runs and tests never see each other's events.
 */
export interface TraceRecord {
  /** Tracepoint name, as in the kernel (`mm_migrate_pages`). */
  readonly name: string;
  /** Virtual time of the event in ns. */
  readonly ts: number;
  /** The event's fields. */
  readonly fields: Readonly<Record<string, unknown>>;
}

export class Tracepoint<F extends object = Record<string, unknown>> {
  /** True while at least one probe is attached. */
  enabled = false;
  /** Events emitted while enabled. */
  hits = 0;

  constructor(
    readonly name: string,
    private readonly bus: TraceBus,
  ) {}

  /** Emit with the fields given; call only when `enabled`. */
  emit(fields: F): void {
    this.hits++;
    this.bus.dispatch(this.name, fields as Record<string, unknown>);
  }
}

/** The per-machine tracepoint registry and event bus. */
export class TraceBus {
  private readonly emitter = new EventEmitter();
  private readonly points = new Map<string, Tracepoint<any>>();
  private allProbes = 0;

  constructor(private readonly sim: Sim) {}

  /** Define (or fetch) a tracepoint. Subsystems define theirs once at machine construction. */
  define<F extends object>(name: string): Tracepoint<F> {
    let tp = this.points.get(name);
    if (tp === undefined) {
      tp = new Tracepoint<F>(name, this);
      tp.enabled = this.allProbes > 0;
      this.points.set(name, tp);
    }
    return tp as Tracepoint<F>;
  }

  /** Names of every defined tracepoint, sorted. */
  names(): string[] {
    return [...this.points.keys()].sort();
  }

  /**
   * Attach a probe to one tracepoint by name, or to every tracepoint with "*". Returns a detach
   * function. Unknown names are an error so a typo does not silently record nothing.
   */
  on(name: string, probe: (rec: TraceRecord) => void): () => void {
    if (name !== "*" && !this.points.has(name)) {
      throw new Error(`unknown tracepoint "${name}"; defined: ${this.names().join(", ")}`);
    }
    this.emitter.on(name, probe);
    this.refresh(name, +1);
    return () => {
      this.emitter.off(name, probe);
      this.refresh(name, -1);
    };
  }

  /** Collect every record of the named tracepoints (all with "*") into an array until detached. */
  record(names: readonly string[] | "*" = "*"): { records: TraceRecord[]; stop: () => void } {
    const records: TraceRecord[] = [];
    const probe = (r: TraceRecord) => records.push(r);
    const offs = names === "*" ? [this.on("*", probe)] : names.map((n) => this.on(n, probe));
    return { records, stop: () => offs.forEach((f) => f()) };
  }

  /** @internal called by Tracepoint.emit */
  dispatch(name: string, fields: Record<string, unknown>): void {
    const rec: TraceRecord = { name, ts: this.sim.now, fields };
    this.emitter.emit(name, rec);
    this.emitter.emit("*", rec);
  }

  private refresh(name: string, delta: number): void {
    if (name === "*") {
      this.allProbes += delta;
      for (const tp of this.points.values()) tp.enabled = this.allProbes > 0 || this.emitter.listenerCount(tp.name) > 0;
    } else {
      const tp = this.points.get(name)!;
      tp.enabled = this.allProbes > 0 || this.emitter.listenerCount(name) > 0;
    }
  }
}

/**
 * One line in the ftrace text format: `   <seconds>.<micros>: name: key=value key=value`, so traces read
 * like /sys/kernel/tracing/trace.
 */
export function formatTraceLine(rec: TraceRecord): string {
  const us = Math.floor(rec.ts / 1000);
  const secs = Math.floor(us / 1_000_000);
  const frac = String(us % 1_000_000).padStart(6, "0");
  const ns = String(rec.ts % 1000).padStart(3, "0");
  const fields = Object.entries(rec.fields)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.join(",")}]` : String(v)}`)
    .join(" ");
  return `${String(secs).padStart(6)}.${frac}${ns}: ${rec.name}: ${fields}`;
}
