/**
 * mtcopy as a migrator module (`--migrator mtcopy`): the multi-threaded CPU copier, its copies routed
 * through the fabric, timed by the profile's `mtcopy` section; `threads` takes the count.
 */
import { defineMigrator } from "@mmemu/driver-kit";
import { Mtcopy, MTCOPY_SECTION, MTCOPY_SYSFS_ATTRS } from "./mtcopy.js";

export default defineMigrator({
  kind: "migrator",
  name: "mtcopy",
  description: "Multi-threaded CPU batch copy (the series' cpu_mt), one kworker per selected CPU",
  params: MTCOPY_SECTION,
  usesDma: false,
  enableAttr: "offloading",
  channelsAttr: "threads",
  load(ctx) {
    const mt = new Mtcopy(ctx.m, { fabric: ctx.fabric, params: ctx.params });
    return { attrs: MTCOPY_SYSFS_ATTRS, sysfsRead: (a) => mt.sysfsRead(a), sysfsWrite: (a, b) => mt.sysfsWrite(a, b), rmmod: () => mt.rmmod() };
  },
});
