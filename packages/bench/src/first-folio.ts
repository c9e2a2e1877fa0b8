/**
 * First-folio latency as the series' authors measured it: from the start of a migrate_pages_batch()
 * call (custom tracepoint mm_migrate_pages_batch_start) to the first folio of that call moved
 * (mm_migrate_folio_moved), taken per call and reported as the median over the calls of a run.
 */
import type { TraceBus, TraceRecord } from "@mmemu/kernel";

export const BATCH_START_TP = "mm_migrate_pages_batch_start";
export const FOLIO_MOVED_TP = "mm_migrate_folio_moved";

/**
 * Latencies (ns) of every migrate_pages_batch() call in a recorded trace that moved at least one
 * folio, in call order. Records of other tracepoints are ignored.
 */
export function firstFolioLatencies(records: readonly TraceRecord[]): number[] {
  const out: number[] = [];
  let start = -1;
  for (const r of records) {
    if (r.name === BATCH_START_TP) start = r.ts;
    else if (r.name === FOLIO_MOVED_TP && start >= 0) {
      out.push(r.ts - start);
      start = -1;
    }
  }
  return out;
}

/** Median of a list (mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * A streaming probe for long runs: keeps only each batch's first-folio latency instead of every
 * record. Returns the latencies array (filled as the run goes) and a detach function. The
 * folio-moved probe is attached only from a batch start to the first folio moved after it, so the
 * other folios of a batch (up to 262,144 per batch) leave mm_migrate_folio_moved disabled and cost
 * one branch instead of a trace record each; the latencies are the same as with it always attached.
 */
export function probeFirstFolio(trace: TraceBus): { latencies: number[]; stop: () => void } {
  return new FirstFolioProbe(trace);
}

/**
 * The probe's handlers are methods, shared by every run: closures made per run were compiled again
 * by TurboFan in every run of a process (3-4 jobs, 5-8 ms of CPU per steady 1 GiB run, timed with
 * the migration calls), bound methods run code compiled once.
 */
class FirstFolioProbe {
  readonly latencies: number[] = [];
  private start = -1;
  private offMoved: (() => void) | null = null;
  private readonly offStart: () => void;
  private readonly movedProbe: (r: TraceRecord) => void;

  constructor(private readonly trace: TraceBus) {
    this.movedProbe = this.onMoved.bind(this);
    this.offStart = trace.on(BATCH_START_TP, this.onStart.bind(this));
  }

  private onStart(r: TraceRecord): void {
    this.start = r.ts;
    this.offMoved ??= this.trace.on(FOLIO_MOVED_TP, this.movedProbe);
  }

  private onMoved(r: TraceRecord): void {
    if (this.start >= 0) {
      this.latencies.push(r.ts - this.start);
      this.start = -1;
    }
    this.offMoved!();
    this.offMoved = null;
  }

  stop(): void {
    this.offStart();
    this.offMoved?.();
    this.offMoved = null;
  }
}
