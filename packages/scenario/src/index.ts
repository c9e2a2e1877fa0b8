/**
 * @mmemu/scenario — scenario files for mmemu: a versioned JSON/YAML format validated with zod, checked
 * before anything runs, and a runner that builds the machine and processes, executes each step
 * (memory operations, threads, move_pages/migrate_pages with raw arguments, inspections) and reports
 * each result against what the scenario expects.
 */
export { ScenarioSchema, StepSchema, KernelVersionSchema, SCENARIO_FORMAT_VERSION, scenarioJsonSchema } from "./schema.js";
export { parseScenario, validateScenario, loadScenarioFile, ScenarioError, formatPath, MAX_SCENARIO_BYTES } from "./load.js";
export { checkScenario, resolveLimits, type LimitOverrides } from "./check.js";
export { DEFAULT_LIMITS, LIMIT_CEILINGS, LIMIT_NAMES, LimitError, parseLimitOptions, parseFaultOptions, type ScenarioLimits } from "./limits.js";
export { runScenario, KEEP_STEPS_DEFAULT } from "./runner.js";
export { OPS, STATUS_REPORT_LIMIT, type OpName } from "./ops/index.js";
export { defineOp, type OpDef, type Outcome, type StepCheck } from "./op.js";
export { prepareScenarioDevices } from "./devices.js";
export type { ScenarioDevices } from "./devices.js";
export { parseSize, evalAddr, evalAddrNumber, exprNames, ADDRESS_CONSTANTS } from "./expr.js";
export { TableCosts, SIMPLE_COSTS, scenarioCosts } from "./costs.js";
export { Activity } from "./activity.js";
export { checkStatus, checkRet, describeStatus } from "./expect.js";

export type {
  Scenario, ScenarioStep, ScenarioRepeat, ScenarioProcess, ScenarioMachine, MovePagesStep, SyscallExpectation,
  StatusExpectation, PageExpectation, DataExpectation,
} from "./schema.js";
export type { StepRecord, RunResult, RunOptions } from "./runner.js";
export type { ExprScope } from "./expr.js";
export type { ActivityStats } from "./activity.js";
