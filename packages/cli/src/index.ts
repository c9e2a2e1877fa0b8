/** @mmemu/cli — the mmemu command line (commander). `buildProgram()` is what main.ts runs. */
export { buildProgram } from "./main.js";
export { registerRunCommand, runCommand, renderTable, jsonRecord } from "./commands/run.js";

export type { RunCommandOptions, Output } from "./commands/run.js";
