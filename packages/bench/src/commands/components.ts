/**
 * `--migrator NAME|FILE` and `--engine NAME|FILE` (repeatable): the one helper every command that runs
 * a machine uses (bench seed|predict|speed, tune-batch, calibrate, profile show|derive, run). A name is
 * a built-in (dcbm, mtcopy; ptdma, sdxi), anything with a slash or a .ts/.js extension is a plug-in
 * file; both are loaded and validated before anything runs.
 */
import { Option, type Command } from "commander";
import { BUILTIN_COMPONENTS, BUILTIN_ENGINES, BUILTIN_MIGRATORS, loadComponents, type Components } from "@mmemu/components";

export interface ComponentFlags {
  readonly migrator?: string;
  readonly engine?: string[];
}

/** commander collector for repeatable options (`--set`, `--engine`, `--free`). */
export function collectSet(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Add --migrator and --engine to a command. */
export function componentOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("--migrator <name|file>", `the migrator offload points load: ${[...BUILTIN_MIGRATORS.keys()].join(", ")} or a plug-in file (default dcbm)`))
    .addOption(new Option("--engine <name|file>", `a DMA engine driver to probe (repeatable; default every built-in: ${[...BUILTIN_ENGINES.keys()].join(", ")}) or a plug-in file`).argParser(collectSet));
}

/** Load what the flags select (the shared BUILTIN_COMPONENTS when neither flag is given). */
export async function componentsFrom(o: ComponentFlags): Promise<Components> {
  if (o.migrator === undefined && o.engine === undefined) return BUILTIN_COMPONENTS;
  return loadComponents({ ...(o.migrator !== undefined ? { migrator: o.migrator } : {}), ...(o.engine !== undefined ? { engines: o.engine } : {}) });
}
