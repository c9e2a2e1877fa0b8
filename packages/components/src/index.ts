/**
 * @mmemu/components — what an emulated machine is built from: the built-in device models and
 * migrators (modules of the plug-in shape), plug-ins loaded from files, the profile schema of the
 * loaded set, and the machine builder.
 */
export {
  BUILTIN_ENGINES, BUILTIN_MIGRATORS, BUILTIN_SECTIONS, BUILTIN_SCHEMA, CORE_SECTIONS, DEFAULT_MIGRATOR, sectionsOf,
} from "./builtin.js";
export {
  BUILTIN_COMPONENTS, foreignFrames, isPluginPath, pluginError, loadComponent, loadComponents, moduleProblem, pluginFrames, PluginError, reclaimHeldChannels, throwIfOops,
} from "./load.js";
export { createMachine, createMachineWith, DEFAULT_PAGES_PER_NODE, loadMigrator, NODE_ALIGN_PAGES } from "./machine.js";
export type { ComponentKind, ComponentSelection, Components } from "./load.js";
export type { CreateMachineOptions, EmulatedMachine } from "./machine.js";
