/**
 * @mmemu/trace — tracing an emulated machine the way kernel developers look at a real one: a bounded
 * ring of tracepoint records with filters and a time window, ftrace text as `trace-cmd report` and
 * tracefs print it for the kernel version emulated, a Perfetto-loadable timeline, /proc/vmstat
 * counters, and where virtual time went per phase.
 */
export { eventClass, eventFlags, eventSystem, eventText, hexUlong, printedName, EVENT_CLASSES, KERNEL_VERSIONS } from "./events.js";
export type { FtraceFlavor, KernelVersion } from "./events.js";
export { eventSelector, TraceRecorder, DEFAULT_TRACE_CAPACITY } from "./recorder.js";
export type { PhaseSlice, TraceFilterOptions } from "./recorder.js";
export { formatFtrace, ftraceLine, ftraceTimestamp, parseFtraceLine, readingOrder } from "./ftrace.js";
export type { FtraceOptions, ParsedFtraceLine } from "./ftrace.js";
export { formatPerfetto } from "./perfetto.js";
export type { PerfettoOptions } from "./perfetto.js";
export { writeFileAtomic } from "./atomic-write.js";
export { parseTraceArgs, TraceSession, TRACE_FORMATS } from "./session.js";
export type { TraceArgs, TraceFormat, TraceOutputOptions, TracedMachine } from "./session.js";
export { breakdownTotal, formatBreakdown, phaseBreakdown, phaseSnapshot } from "./breakdown.js";
export type { PhaseBreakdown } from "./breakdown.js";
