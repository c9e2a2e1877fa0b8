/**
 * A bounded trace buffer, after the kernel's ring buffer in overwrite mode: it holds the last
 * `capacity` records that pass the filters and the time window; older ones are overwritten and counted
 * (entries-written minus entries-in-buffer, and trace-cmd's EVENTS DROPPED per CPU). So a 1 GiB run
 * can be traced in bounded memory. Phase intervals (for timeline slices) are kept the same way.
 */
import type { Sim, TraceBus, TraceRecord } from "@mmemu/kernel";
import { EVENT_CLASSES, eventClass, printedName } from "./events.js";

export interface TraceFilterOptions {
  /**
   * Event names or classes to keep (see EVENT_CLASSES), "*" for all; a leading "-" removes a name or
   * class from what the others selected. Names may be given as printed (mmemu_dmae_submit).
   * @default ["*"]
   */
  readonly events?: readonly string[];
  /** Keep events with start <= ts < end (virtual ns). @default everything */
  readonly windowNs?: readonly [number, number];
  /** Records held at most (the ring size). @default 1_000_000 */
  readonly capacity?: number;
}

export const DEFAULT_TRACE_CAPACITY = 1_000_000;

/** A coalesced stretch of virtual time spent in one phase on one CPU. */
export interface PhaseSlice {
  readonly cpu: number;
  readonly phase: number;
  readonly start: number;
  end: number;
}

/** Compile an event selection into a predicate; unknown classes are an error naming them. */
export function eventSelector(events: readonly string[] = ["*"]): (name: string) => boolean {
  const inc: string[] = [];
  const exc: string[] = [];
  for (const raw of events) {
    const e = raw.trim();
    if (e === "") throw new Error(`--trace-events: empty entry in "${events.join(",")}"`);
    const neg = e.startsWith("-");
    const body = neg ? e.slice(1) : e;
    if (!/^[a-z0-9_*]+$/.test(body)) throw new Error(`--trace-events: "${e}" is not an event name, a class (${EVENT_CLASSES.join(", ")}) or "*"`);
    (neg ? exc : inc).push(body);
  }
  const matches = (name: string, sel: string) => {
    if (sel === "*") return true;
    if ((EVENT_CLASSES as readonly string[]).includes(sel)) return eventClass(name) === sel;
    if (sel.includes("*")) {
      const re = new RegExp(`^${sel.replace(/\*/g, ".*")}$`);
      return re.test(name) || re.test(printedName(name));
    }
    return name === sel || printedName(name) === sel;
  };
  const all = inc.length === 0;
  return (name) => (all || inc.some((s) => matches(name, s))) && !exc.some((s) => matches(name, s));
}

export class TraceRecorder {
  readonly capacity: number;
  private readonly ring: Array<TraceRecord | undefined>;
  private head = 0;
  private count = 0;
  /** Records that passed the filters, including overwritten ones (entries-written). */
  written = 0;
  /** Overwritten records, by CPU. */
  readonly lostByCpu = new Map<number, number>();
  private readonly phases: PhaseSlice[] = [];
  private phaseStart = 0;
  private readonly keep: (name: string) => boolean;
  private readonly win: readonly [number, number];
  private stops: Array<() => void> = [];

  constructor(opts: TraceFilterOptions = {}) {
    const cap = opts.capacity ?? DEFAULT_TRACE_CAPACITY;
    if (!Number.isInteger(cap) || cap < 1 || cap > 50_000_000) throw new RangeError(`--trace-buffer must be a whole number of events from 1 to 50000000, got ${cap}`);
    this.capacity = cap;
    this.ring = new Array<TraceRecord | undefined>(cap);
    this.keep = eventSelector(opts.events);
    this.win = opts.windowNs ?? [0, Infinity];
  }

  /** Start recording a machine's tracepoints (and its phases, for timelines). */
  attach(bus: TraceBus, sim: Sim, cpuOf: () => number): void {
    this.stops.push(bus.on("*", (r) => this.add(r)));
    sim.phaseProbe = (phase, from, to) => this.addPhase(cpuOf(), phase, from, to);
    this.stops.push(() => { sim.phaseProbe = null; });
  }

  /** Stop recording (probes detached, so tracepoints cost nothing again). */
  detach(): void {
    for (const s of this.stops) s();
    this.stops = [];
  }

  /** Add one record if it passes the filters and the window. */
  add(r: TraceRecord): void {
    if (r.ts < this.win[0] || r.ts >= this.win[1] || !this.keep(r.name)) return;
    this.written++;
    if (this.count === this.capacity) {
      const old = this.ring[this.head]!;
      this.lostByCpu.set(old.cpu, (this.lostByCpu.get(old.cpu) ?? 0) + 1);
      this.ring[this.head] = r;
      this.head = (this.head + 1) % this.capacity;
    } else {
      this.ring[(this.head + this.count) % this.capacity] = r;
      this.count++;
    }
  }

  private addPhase(cpu: number, phase: number, from: number, to: number): void {
    const a = Math.max(from, this.win[0]);
    const b = Math.min(to, this.win[1]);
    if (b <= a) return;
    const last = this.phases.length > this.phaseStart ? this.phases[this.phases.length - 1] : undefined;
    if (last !== undefined && last.cpu === cpu && last.phase === phase && last.end === a) {
      last.end = b;
      return;
    }
    this.phases.push({ cpu, phase, start: a, end: b });
    // Keep the phase list within the same bound: drop the oldest half when it is full.
    if (this.phases.length - this.phaseStart > this.capacity) this.phaseStart++;
    if (this.phaseStart > 4096 && this.phaseStart * 2 > this.phases.length) {
      this.phases.splice(0, this.phaseStart);
      this.phaseStart = 0;
    }
  }

  /** The held records, oldest first (the order they were logged in). */
  records(): TraceRecord[] {
    const out: TraceRecord[] = new Array(this.count);
    for (let i = 0; i < this.count; i++) out[i] = this.ring[(this.head + i) % this.capacity]!;
    return out;
  }

  /** The held phase slices, oldest first. */
  phaseSlices(): PhaseSlice[] {
    return this.phases.slice(this.phaseStart);
  }

  /** Records lost to overwriting. */
  get lost(): number {
    return this.written - this.count;
  }
}
