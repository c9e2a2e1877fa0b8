/**
 * @mmemu/kernel — the kernel core every other package stands on: virtual time and the event queue,
 * completions and wait queues, tracepoints, seeded PRNG streams, fault injection, errno, and the cost
 * meter through which the functional path reports work to the timing model.
 */
export { Sim, DeadlockError, MAX_TASK_DEPTH } from "./sim.js";
export { Completion, WaitQueue } from "./completion.js";
export { RwSemaphore, ConcurrencyModelError, RWSEM_WAIT_TIMEOUT_NS } from "./rwsem.js";
export {
  Tracepoint, TraceBus, TRACE_CTX_TASK, TRACE_CTX_IRQ_IDLE, TRACE_CTX_IRQ_TASK, TRACE_CTX_DEVICE,
} from "./tracepoint.js";
export { Prng, PrngStream, hashString } from "./prng.js";
export { FaultInjector, FaultPoint } from "./fault-inject.js";
export { KernelCore } from "./kernel.js";
export { Cost, COST_NAMES, NR_COST_KINDS, FREE_COSTS, UniformCosts, Phase, PHASE_NAMES, PHASE_OF_COST, NR_PHASES } from "./cost.js";
export {
  errnoName, errnoNumber, isErrno,
  EPERM, ENOENT, ESRCH, EINTR, EIO, ENXIO, E2BIG, EBADF, EAGAIN, ENOMEM, EACCES, EFAULT, EBUSY, EEXIST,
  EXDEV, ENODEV, ENOTDIR, EINVAL, ENOSPC, EROFS, ERANGE, EDEADLK, ENOSYS, ENODATA, ETIME, EOVERFLOW,
  EOPNOTSUPP, ETIMEDOUT, ECANCELED, EHWPOISON,
} from "./errno.js";

export type { EventFn } from "./sim.js";
export type { TraceRecord, TraceCtx, TraceTaskContext } from "./tracepoint.js";
export type { FaultConfig } from "./fault-inject.js";
export type { KernelCoreOptions } from "./kernel.js";
export type { CostKind, CostMeter, PhaseId } from "./cost.js";
export { paramDefaults, checkParams, defineParamSection, SECTION_NAME, PARAM_NAME } from "./params.js";
export { ParamSchema, sectionValues } from "./param-schema.js";
export type { ParamSpec, ParamTable, ParamUnit, ParamValues, ParamSection } from "./params.js";
export type { SectionValues } from "./param-schema.js";
