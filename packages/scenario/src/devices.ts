/**
 * Scenario machines with devices: `machine.profile` builds the machine from a hardware profile (CPUs,
 * timing, fabric, the DMA engines of `machine.engines`), `machine.migrator` loads a migrator — built-in
 * or plug-in file, the same modules the benchmarks load — and `machine.sysfs` writes its attributes.
 * Loading is asynchronous (plug-in files are imported), so it happens before the run.
 */
import { sectionValues, errnoName } from "@mmemu/kernel";
import { createMachineWith, loadComponents, pluginError, type Components, type EmulatedMachine } from "@mmemu/components";
import type { MigratorInstance } from "@mmemu/driver-kit";
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
  return { components, profile };
}

/** Build the machine of a scenario with a profile; every node gets the largest memory listed. */
export function createScenarioMachine(
  s: Scenario, d: ScenarioDevices, hugetlbPages: Readonly<Record<number, number>>, movablePages: Readonly<Record<number, number>>,
): EmulatedMachine {
  const pages = Math.max(...s.machine.nodes.map((n) => parseSize(n.memory) / PAGE_SIZE));
  return createMachineWith(d.profile, d.components.engines, {
    pagesPerNode: pages, seed: s.machine.seed, hugetlbPages, movablePages, watermarkScaleFactor: s.machine.vm.watermark_scale_factor, dma: true,
  });
}

/** Load the scenario's migrator on the machine, write machine.sysfs in order, then enable it. */
export function loadScenarioMigrator(s: Scenario, d: ScenarioDevices, em: EmulatedMachine): MigratorInstance {
  const mod = d.components.migrator;
  const params = mod.params === undefined ? {} : sectionValues(em.profile.params, mod.params);
  let inst: MigratorInstance;
  try {
    inst = mod.load({ m: em.m, core: em.m.core, fabric: em.fabric, profile: em.profile, dmaengine: em.dmaengine, params });
  } catch (e) {
    throw pluginError(e, `migrator ${mod.name}: load`);
  }
  const write = (attr: string, value: string, at: string) => {
    if (!inst.attrs.includes(attr)) throw new Error(`${at}: ${mod.name} has no attribute "${attr}" (it has ${inst.attrs.join(", ")})`);
    const rc = inst.sysfsWrite(attr, `${value}\n`);
    if (rc < 0) throw new Error(`${at}: writing "${value}" to ${mod.name}'s ${attr} failed with -${errnoName(rc)} (${rc})`);
  };
  for (const [attr, v] of Object.entries(s.machine.sysfs)) write(attr, String(v), `machine.sysfs.${attr}`);
  if (!(mod.enableAttr in s.machine.sysfs)) write(mod.enableAttr, "1", `machine.migrator (${mod.enableAttr})`);
  return inst;
}
