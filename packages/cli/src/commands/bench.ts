/**
 * `mmemu bench seed|predict|speed`, `mmemu calibrate`, `mmemu tune-batch`, `mmemu profile`, `mmemu sweep` and `mmemu worker`: the benchmark commands of
 * @mmemu/bench (the same commander objects its stand-alone entry runs; options and behaviour are
 * documented in docs/timing.md).
 */
import type { Command } from "commander";
import { benchCommand, calibrateCommand, profileCommand, sweepCommand, tuneBatchCommand, workerCommand } from "@mmemu/bench";

export function registerBenchCommands(program: Command): void {
  program.addCommand(benchCommand());
  program.addCommand(calibrateCommand());
  program.addCommand(tuneBatchCommand());
  program.addCommand(profileCommand());
  program.addCommand(sweepCommand());
  program.addCommand(workerCommand());
}
