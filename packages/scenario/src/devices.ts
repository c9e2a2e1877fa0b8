/**
 * Scenario machines with devices: `machine.profile` builds the machine from a hardware profile (CPUs,
 * timing, fabric, the DMA engines of `machine.engines`), `machine.migrator` loads a migrator — built-in
 * or plug-in file, the same modules the benchmarks load — `machine.modparams` gives the migrator and the
 * engines their module parameters (driver variants) and `machine.sysfs` writes the migrator's attributes.
 * Loading is asynchronous (plug-in files are imported), so it happens before the run.
 */
import { errnoName } from "@mmemu/kernel";
import { createMachineWith, loadComponents, loadMigrator, type Components, type EmulatedMachine } from "@mmemu/components";
import { moduleParamValues, type MigratorInstance } from "@mmemu/driver-kit";
import { loadProfile, type HardwareProfile } from "@mmemu/timing";
import { PAGE_SIZE } from "@mmemu/mm-core";
import type { Scenario } from "./schema.js";
import { parseSize } from "./expr.js";

/** What a scenario with a profile runs on, loaded before the run. */
export interface ScenarioDevices {
  readonly components: Components;
  readonly profile: HardwareProfile;
}

/** Load the profile and the components a scenario names (null for a machine without a profile). */
export async function prepareScenarioDevices(s: Scenario): Promise<ScenarioDevices | null> {
  const mc = s.machine;
  if (mc.profile === undefined) return null;
  const components = await loadComponents({
    ...(mc.migrator !== undefined ? { migrator: mc.migrator } : {}),
    ...(mc.engines !== undefined ? { engines: mc.engines } : {}),
  });
  const profile = loadProfile(mc.profile, components.schema);
  const want = profile.topology.nodes.map((n) => n.id).join(", ");
  const got = mc.nodes.map((n) => n.id).join(", ");
  if (want !== got) throw new Error(`machine.nodes: profile ${profile.name} has nodes ${want}; list exactly those, with their memory (got ${got})`);
  // Every module named in machine.modparams is loaded, and takes those parameters (checked before the run).
  const loaded = mc.migrator !== undefined ? [components.migrator, ...components.engines] : components.engines;
  for (const [name, values] of Object.entries(mc.modparams)) {
    const mod = loaded.find((x) => x.name === name);
    if (mod === undefined) throw new Error(`machine.modparams.${name}: no module of that name is loaded (loaded: ${loaded.map((x) => x.name).join(", ")})`);
    moduleParamValues(mod, values, `machine.modparams.${name}`);
  }
  return { components, profile };
}

/** Build the machine of a scenario with a profile: each node with its listed memory and the profile's CPUs. */
export function createScenarioMachine(
  s: Scenario, d: ScenarioDevices, hugetlbPages: Readonly<Record<number, number>>, movablePages: Readonly<Record<number, number>>,
): EmulatedMachine {
  const cpus = new Map(d.profile.topology.nodes.map((n) => [n.id, n.cpus]));
  const nodes = s.machine.nodes.map((n) => ({ id: n.id, pages: parseSize(n.memory) / PAGE_SIZE, cpus: cpus.get(n.id)! }));
  return createMachineWith(d.profile, d.components.engines, {
    nodes, seed: s.machine.seed, hugetlbPages, movablePages, watermarkScaleFactor: s.machine.vm.watermark_scale_factor, dma: true,
    modparams: s.machine.modparams,
  });
}

/** Load the scenario's migrator on the machine (with its machine.modparams), write machine.sysfs in order, then enable it. */
export function loadScenarioMigrator(s: Scenario, d: ScenarioDevices, em: EmulatedMachine): MigratorInstance {
  const mod = d.components.migrator;
  const inst = loadMigrator(em, mod, s.machine.modparams[mod.name], `machine.modparams.${mod.name}`);
  const write = (attr: string, value: string, at: string) => {
    if (!inst.attrs.includes(attr)) throw new Error(`${at}: ${mod.name} has no attribute "${attr}" (it has ${inst.attrs.join(", ")})`);
    const rc = inst.sysfsWrite(attr, `${value}\n`);
    if (rc < 0) throw new Error(`${at}: writing "${value}" to ${mod.name}'s ${attr} failed with -${errnoName(rc)} (${rc})`);
  };
  for (const [attr, v] of Object.entries(s.machine.sysfs)) write(attr, String(v), `machine.sysfs.${attr}`);
  if (!(mod.enableAttr in s.machine.sysfs)) write(mod.enableAttr, "1", `machine.migrator (${mod.enableAttr})`);
  return inst;
}
