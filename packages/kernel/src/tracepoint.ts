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
  /** CPU the event was logged on (the ftrace per-CPU buffer). */
  readonly cpu: number;
  /** pid and comm of the task running there (0 and "<idle>" for an idle CPU or a device). */
  readonly pid: number;
  readonly comm: string;
  /** The context it was logged in (TRACE_CTX_*): decides the ftrace flags column. */
  readonly ctx: TraceCtx;
}

/** Process context of the current task. */
export const TRACE_CTX_TASK = 0;
/** Hard-IRQ handler on a CPU that was idle (an IPI or a device MSI). */
export const TRACE_CTX_IRQ_IDLE = 1;
/** Hard-IRQ handler that interrupted a task. */
export const TRACE_CTX_IRQ_TASK = 2;
/** The device itself (descriptor fetch, completion write): no CPU logs this in a real kernel. */
export const TRACE_CTX_DEVICE = 3;
export type TraceCtx = 0 | 1 | 2 | 3;

/** Who is running: what a machine tells its bus for events logged in task context. */
export interface TraceTaskContext {
  readonly cpu: number;
  readonly pid: number;
  readonly comm: string;
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
  /** The machine's current task (set by the machine that owns the bus); CPU 0 idle without one. */
  currentTask: (() => TraceTaskContext) | null = null;
  /** While set, events are logged in this interrupt or device context instead (see {@link enterContext}). */
  private ovCpu = -1;
  private ovCtx: TraceCtx = TRACE_CTX_TASK;
  private ovComm = "<idle>";

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

  /**
   * Log the following events on `cpu` in an interrupt context (TRACE_CTX_IRQ_*) or as a device
   * (TRACE_CTX_DEVICE, named `comm`), until {@link exitContext}. Returns the previous context token.
   * Only needed while tracing: callers guard it with a tracepoint's `enabled` like an emit.
   */
  enterContext(cpu: number, ctx: TraceCtx, comm = "<idle>"): number {
    const prev = this.ovCpu < 0 ? -1 : this.ovCpu * 4 + this.ovCtx;
    this.ovCpu = cpu;
    this.ovCtx = ctx;
    this.ovComm = comm;
    return prev;
  }

  /** Restore what {@link enterContext} returned (the comm of a nested device context is not kept). */
  exitContext(prev: number): void {
    if (prev < 0) {
      this.ovCpu = -1;
      this.ovCtx = TRACE_CTX_TASK;
      this.ovComm = "<idle>";
    } else {
      this.ovCpu = prev >> 2;
      this.ovCtx = (prev & 3) as TraceCtx;
    }
  }

  /** @internal called by Tracepoint.emit */
  dispatch(name: string, fields: Record<string, unknown>): void {
    let rec: TraceRecord;
    if (this.ovCpu >= 0) {
      rec = { name, ts: this.sim.now, fields, cpu: this.ovCpu, pid: 0, comm: this.ovComm, ctx: this.ovCtx };
    } else {
      const t = this.currentTask?.() ?? null;
      rec = t === null
        ? { name, ts: this.sim.now, fields, cpu: 0, pid: 0, comm: "<idle>", ctx: TRACE_CTX_TASK }
        : { name, ts: this.sim.now, fields, cpu: t.cpu, pid: t.pid, comm: t.comm, ctx: TRACE_CTX_TASK };
    }
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
