/**
 * Loading the migrator for an offload point, as the published runs did with dcbm: the module loaded,
 * its channel count written (nr_dma_chan for dcbm, threads for mtcopy), offloading switched on (which
 * registers the migrator). Any migrator module, built-in or plug-in, goes through the same sysfs path.
 */
import { errnoName } from "@mmemu/kernel";
import { loadMigrator, type EmulatedMachine } from "@mmemu/components";
import type { MigratorInstance, MigratorModule } from "@mmemu/driver-kit";

export function attachOffload(em: EmulatedMachine, mod: MigratorModule, channels: number): MigratorInstance {
  const inst = loadMigrator(em, mod);
  const write = (attr: string, value: string) => {
    const rc = inst.sysfsWrite(attr, `${value}\n`);
    if (rc < 0) throw new RangeError(`${mod.name}: writing ${value} to ${attr} failed with -${errnoName(rc)} (${rc})`);
  };
  if (mod.channelsAttr !== undefined) write(mod.channelsAttr, String(channels));
  write(mod.enableAttr, "1");
  return inst;
}
