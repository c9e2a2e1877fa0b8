import { Cost, EOPNOTSUPP } from "@mmemu/kernel";
import { FOLIO_CONTENT_COPIED, PAGE_SIZE, type Machine } from "@mmemu/mm-core";
import { Module, type Migrator } from "@mmemu/offload-api";

/**
 * A migrator that copies batches of at least `minFolios` folios on the CPU and declines smaller
 * ones, which the core then copies folio by folio in the move phase.
 */
export function bigBatchCopier(m: Machine, minFolios: number): Migrator {
  return {
    name: "BIGBATCH",
    owner: new Module("bigbatch"),
    offloadCopy(dst, src, n) {
      if (n < minFolios) return -EOPNOTSUPP; // decline the batch: nothing is copied
      for (let i = 0; i < n; i++) {
        const pages = 1 << m.folios.order[src[i]!]!;
        m.charge(Cost.CPU_COPY_PAGE, pages); // report the work where it happens
        m.charge(Cost.CPU_COPY_BYTE, pages * PAGE_SIZE);
        m.mem.copyPages(dst[i]!, src[i]!, pages); // the contents move here
        m.folios.migrateInfo[dst[i]!]! |= FOLIO_CONTENT_COPIED; // V6: this dst is done
      }
      return 0; // V4/V5: all copied
    },
  };
}
