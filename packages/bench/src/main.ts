/**
 * Stand-alone entry for the benchmark commands (the same Command objects the mmemu CLI registers):
 *   tsx packages/bench/src/main.ts bench seed --report report/
 */
import { Command } from "commander";
import { runCli } from "./output.js";
import { benchCommand } from "./commands/bench.js";
import { calibrateCommand } from "./commands/calibrate-cmd.js";
import { tuneBatchCommand } from "./commands/tune-batch.js";
import { profileCommand } from "./commands/profile.js";
import { sweepCommand, workerCommand } from "./commands/sweep.js";

const program = new Command("mmemu-bench");
program.addCommand(benchCommand());
program.addCommand(calibrateCommand());
program.addCommand(tuneBatchCommand());
program.addCommand(profileCommand());
program.addCommand(sweepCommand());
program.addCommand(workerCommand());
// Bad input gets one clear line and exit code 2, not a stack trace (as the mmemu CLI does).
await runCli(program, process.argv, "mmemu-bench");
