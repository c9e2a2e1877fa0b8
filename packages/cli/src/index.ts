/** @mmemu/cli — the mmemu command line (commander). `buildProgram()` is what main.ts runs. */
export { buildProgram } from "./main.js";
export { registerRunCommand, runCommand, renderTable, jsonRecord } from "./commands/run.js";

export type { RunCommandOptions, Output } from "./commands/run.js";
export { registerFuzzCommand, runFuzz, formatFuzzReport } from "./commands/fuzz.js";
export { caseArb, caseScenario, runCase, emptyStats, CORE_FAULTS, DCBM_FAULTS, DCBM_SDXI_FAULTS, MTCOPY_FAULTS, CORRECT_DRIVER } from "./fuzz/campaign.js";
export { inputCampaign, fuzzScenarioText, fuzzOptionValue, INPUT_TIME_LIMIT_MS } from "./fuzz/inputs.js";
export type { FuzzReport } from "./commands/fuzz.js";
export type { FuzzCase, CampaignStats } from "./fuzz/campaign.js";
export type { InputStats } from "./fuzz/inputs.js";
