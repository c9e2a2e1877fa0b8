/**
 * The shapes of plug-in modules. A plug-in file (`.ts` or `.js`, anywhere on disk) default-exports one
 * migrator or one DMA engine model; the built-ins (dcbm, mtcopy, ptdma, sdxi) are modules of exactly
 * the same shape, so `--migrator dcbm` and `--migrator ./sgbm.ts` take one path.
 *
 *   export default defineEngine({ kind: "engine", name: "xdma", description: "...", params, probe(ctx) { ... } });
 */
import { register as moduleRegister } from "node:module";
import type { KernelCore, ParamSection, ParamTable, ParamValues } from "@mmemu/kernel";
import type { Fabric } from "@mmemu/platform";
import type { Machine } from "@mmemu/mm-core";
import { kstrtobool, migrateOffloadRegister, migrateOffloadUnregister, type Migrator } from "@mmemu/offload-api";
import type { DmaEngine } from "@mmemu/dmaengine";
import type { HardwareProfile } from "@mmemu/timing";

/**
 * A module parameter (`modprobe NAME param=value`, /sys/module/NAME/parameters/param): a switch fixed
 * at load time that selects how the driver is written (the posted driver or a review's correction),
 * not a hardware figure (those are the profile's section). A boolean, or one of a few strings.
 */
export interface ModuleParam {
  readonly doc: string;
  readonly default: boolean | string;
  /** The accepted strings, for a string parameter. */
  readonly values?: readonly string[];
}

export type ModuleParams = Readonly<Record<string, ModuleParam>>;
export type ModuleParamValues = Readonly<Record<string, boolean | string>>;

/**
 * The values a module is loaded with: its declared defaults, overridden by `given` (from a scenario's
 * machine.modparams.NAME). An unknown parameter or a value of the wrong kind throws one line naming
 * `at`.param and what the module accepts.
 */
export function moduleParamValues(mod: { readonly name: string; readonly moduleParams?: ModuleParams }, given: Readonly<Record<string, unknown>> = {}, at = `modparams.${mod.name}`): ModuleParamValues {
  const decl = mod.moduleParams ?? {};
  const out: Record<string, boolean | string> = {};
  for (const [k, p] of Object.entries(decl)) out[k] = p.default;
  for (const [k, v] of Object.entries(given)) {
    const p = decl[k];
    const names = Object.keys(decl);
    if (p === undefined) throw new Error(`${at}.${k}: ${mod.name} has no module parameter "${k}" (${names.length > 0 ? `it has ${names.join(", ")}` : "it has none"})`);
    if (typeof p.default === "boolean") {
      if (typeof v !== "boolean") throw new Error(`${at}.${k}: expected true or false, got ${JSON.stringify(v)}`);
    } else if (typeof v !== "string" || (p.values !== undefined && !p.values.includes(v))) {
      throw new Error(`${at}.${k}: expected ${p.values !== undefined ? `one of ${p.values.map((x) => `"${x}"`).join(", ")}` : "a string"}, got ${JSON.stringify(v)}`);
    }
    out[k] = v;
  }
  return Object.freeze(out);
}

/** What every component sees of the machine it is loaded on. */
export interface MachineContext {
  readonly m: Machine;
  readonly core: KernelCore;
  /** The shared bandwidth servers: device-side copies move bytes in virtual time through them. */
  readonly fabric: Fabric;
  /** The whole profile (topology, iommu, every section), read only. */
  readonly profile: HardwareProfile;
}

export interface EngineProbeContext<T extends ParamTable = ParamTable> extends MachineContext {
  /** The dmaengine core to register devices with (`dmaAsyncDeviceRegister`). */
  readonly dmaengine: DmaEngine;
  /** This engine's own section of the profile (declared defaults, profile values, --set). */
  readonly params: ParamValues<T>;
  /** The profile's IOMMU: how device addresses reach memory, and dma_get_max_seg_size(). */
  readonly iommu: HardwareProfile["iommu"];
  /** Its module parameters: declared defaults, or the values it was loaded with. */
  readonly modparams: ModuleParamValues;
}

/** A DMA engine model: its driver's probe for every device the machine has. */
export interface EngineModule<T extends ParamTable = ParamTable> {
  readonly kind: "engine";
  /** Lower case, digits and _ (the name of its profile section and of `--engine NAME`). */
  readonly name: string;
  readonly description: string;
  /** Its hardware parameters; the section must carry the module's name. */
  readonly params?: ParamSection<T>;
  /** Its module parameters (driver variants chosen at load, e.g. a review's correction). */
  readonly moduleParams?: ModuleParams;
  /**
   * Mirrors the driver's PCI probe for each device: create the hardware model, register a dmaengine
   * device per function with ctx.dmaengine. Returns the probed devices (kept on the machine, by name).
   * Probing none is fine (the profile places none).
   */
  probe(ctx: EngineProbeContext<T>): readonly object[];
}

export interface MigratorContext<T extends ParamTable = ParamTable> extends MachineContext {
  /** The dmaengine core, or null on a machine built without DMA engines. */
  readonly dmaengine: DmaEngine | null;
  readonly params: ParamValues<T>;
  /** Its module parameters: declared defaults, or the values it was loaded with. */
  readonly modparams: ModuleParamValues;
}

/** A loaded migrator module, as /sys/module/<name>/ shows it. */
export interface MigratorInstance {
  /** Its sysfs attributes. */
  readonly attrs: readonly string[];
  /** The attribute as sysfs shows it ("1\n"), or -errno. */
  sysfsRead(attr: string): string | number;
  /** `echo buf > attr`: bytes consumed or -errno. */
  sysfsWrite(attr: string, buf: string): number;
  /** rmmod: 0 or -errno (-EAGAIN while registered). */
  rmmod(): number;
}

/** A migrator: a kernel module that registers a struct migrator with the offload core. */
export interface MigratorModule<T extends ParamTable = ParamTable> {
  readonly kind: "migrator";
  readonly name: string;
  readonly description: string;
  readonly params?: ParamSection<T>;
  /** Its module parameters (driver variants chosen at load, e.g. a review's correction). */
  readonly moduleParams?: ModuleParams;
  /** Whether it copies with DMA engines (the machine then probes them). */
  readonly usesDma: boolean;
  /** The attribute whose write of "1" registers the migrator (e.g. "offloading"). */
  readonly enableAttr: string;
  /** The attribute a channel or thread count is written to (e.g. "nr_dma_chan"), if it has one. */
  readonly channelsAttr?: string;
  /** Mirrors module_init(): load on a machine; must not register yet (writing enableAttr does). */
  load(ctx: MigratorContext<T>): MigratorInstance;
}

export type PluginModule = EngineModule | MigratorModule;

/** Declare a DMA engine model (typed; the loader validates the shape again at run time). */
export function defineEngine<T extends ParamTable>(mod: EngineModule<T>): EngineModule<T> {
  return Object.freeze(mod);
}

/** Declare a migrator (typed; the loader validates the shape again at run time). */
export function defineMigrator<T extends ParamTable>(mod: MigratorModule<T>): MigratorModule<T> {
  return Object.freeze(mod);
}

/**
 * Make `@mmemu/driver-kit` importable from files outside the repository in this thread (idempotent):
 * the loader calls it before importing a plug-in file.
 */
let hookRegistered = false;
export function registerDriverKitResolution(): void {
  if (hookRegistered) return;
  hookRegistered = true;
  const here = new URL("../register.mjs", import.meta.url).href;
  moduleRegister("./src/resolve-hook.mjs", here, { data: { parentURL: here } });
}

/**
 * The `offloading` attribute of a migrator module, as dcbm's offloading_store() does it: kstrtobool,
 * register the migrator on 1 and unregister it on 0 (a no-op when unchanged); bytes consumed or -errno.
 */
export function offloadingAttribute(m: Machine, migrator: Migrator): { readonly enabled: boolean; read(): string; write(buf: string): number } {
  let enabled = false;
  return {
    get enabled() {
      return enabled;
    },
    read: () => `${enabled ? 1 : 0}\n`,
    write(buf: string): number {
      const v = kstrtobool(buf);
      if (v < 0) return v;
      if ((v === 1) !== enabled) {
        const rc = v === 1 ? migrateOffloadRegister(m, migrator) : migrateOffloadUnregister(m, migrator);
        if (rc < 0) return rc;
        enabled = v === 1;
      }
      return buf.length;
    },
  };
}
