/**
 * bigbatch: a migrator written as an mmemu plug-in (the final code of docs/offload.md, "Write your own
 * migrator"). It copies batches of at least `min_folios` folios on the CPU, through the fabric at the
 * profile's CPU copy rate, and declines smaller ones (the core then copies them folio by folio).
 *
 *   pnpm mmemu bench seed --migrator ./bigbatch.ts
 *   pnpm mmemu profile show --migrator ./bigbatch.ts --set bigbatch.min_folios=8
 */
import {
  defineMigrator, defineParamSection, kstrtouint, migrateOffloadInit, moduleBeginUnload, Module, offloadingAttribute, Cost, EINVAL, ENOENT, EOPNOTSUPP, FOLIO_CONTENT_COPIED,
  PAGE_SIZE, type Migrator,
} from "@mmemu/driver-kit";

export const BIGBATCH_SECTION = defineParamSection("bigbatch", "bigbatch: CPU copy of large batches only (example migrator)", {
  min_folios: { unit: "count", default: 4, min: 1, max: 1 << 18, integer: true, doc: "Smallest batch the migrator copies; smaller ones are declined with -EOPNOTSUPP.", source: "example value [U]" },
});

export default defineMigrator({
  kind: "migrator",
  name: "bigbatch",
  description: "Copies batches of at least min_folios folios on the CPU, declines smaller ones",
  params: BIGBATCH_SECTION,
  usesDma: false,
  enableAttr: "offloading",
  load(ctx) {
    const { m, fabric } = ctx;
    migrateOffloadInit(m);
    let minFolios = ctx.params.min_folios;
    const owner = new Module("bigbatch");
    const migrator: Migrator = {
      name: "BIGBATCH",
      owner,
      offloadCopy(dst, src, n) {
        if (n < minFolios) return -EOPNOTSUPP; // decline: nothing is copied, the core copies them
        for (let i = 0; i < n; i++) {
          const pages = 1 << m.folios.order[src[i]!]!;
          m.charge(Cost.CPU_COPY_PAGE, pages); // the per-page work where it happens
          // The bytes take the fabric's time (CPU copy rate, memory controllers, the link).
          fabric.cpuCopyWait(m.mem.nodeOfPfn[src[i]!]!, m.mem.nodeOfPfn[dst[i]!]!, pages * PAGE_SIZE);
          m.mem.copyPages(dst[i]!, src[i]!, pages); // the contents move here
          m.folios.migrateInfo[dst[i]!]! |= FOLIO_CONTENT_COPIED; // V6: this dst is done
        }
        return 0; // V4/V5: all copied
      },
    };
    const offloading = offloadingAttribute(m, migrator);
    return {
      attrs: ["offloading", "min_folios"],
      sysfsRead(attr) {
        if (attr === "offloading") return offloading.read();
        if (attr === "min_folios") return `${minFolios}\n`;
        return -ENOENT;
      },
      sysfsWrite(attr, buf) {
        if (attr === "offloading") return offloading.write(buf);
        if (attr === "min_folios") {
          const v = kstrtouint(buf, 0);
          if (v < 0) return v;
          if (v < 1) return -EINVAL;
          minFolios = v;
          return buf.length;
        }
        return -ENOENT;
      },
      rmmod: () => moduleBeginUnload(owner),
    };
  },
});
