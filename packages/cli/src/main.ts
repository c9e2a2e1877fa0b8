#!/usr/bin/env node
/**
 * The mmemu command line. Each command lives in its own file under ./commands and exports one
 * `register…(program)` function; adding a command (bench, calibrate, tune-batch) means adding its file
 * and one line to COMMANDS below.
 */
import { Command } from "commander";
import { runCli } from "@mmemu/bench";
import { registerRunCommand } from "./commands/run.js";
import { registerBenchCommands } from "./commands/bench.js";
import { registerNewCommand } from "./commands/new.js";
import { registerFuzzCommand } from "./commands/fuzz.js";
import { registerDmatestCommand } from "./commands/dmatest.js";

/** Every command, in the order `mmemu --help` lists them. */
const COMMANDS: ReadonlyArray<(program: Command) => void> = [registerRunCommand, registerBenchCommands, registerNewCommand, registerDmatestCommand, registerFuzzCommand];

export function buildProgram(): Command {
  const program = new Command()
    .name("mmemu")
    .description("An emulator of the Linux kernel's page-migration subsystem")
    .version("0.1.0")
    .showHelpAfterError();
  for (const register of COMMANDS) register(program);
  return program;
}

// Run when executed directly (tsx packages/cli/src/main.ts ...), not when imported by tests.
if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  // A closed pipe (mmemu run --json ... | head) ends the output quietly.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
  });
  // Exit codes: 0 success, 1 an expectation or check failed, 2 a usage or input error (runCli).
  await runCli(buildProgram(), process.argv, "mmemu");
}
