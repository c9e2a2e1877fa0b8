/**
 * Assignment 4 starter: a migrator that copies a batch with the CPU only when every folio in it is at
 * least 64 KiB, and declines any other batch with -EOPNOTSUPP (the core then copies it folio by folio).
 * Fill in offloadCopy; everything else (module shape, sysfs, registration) is done. Grade it with
 *   SUBMISSION=$PWD/starter.ts node --import <mmemu>/packages/driver-kit/register.mjs --test <mmemu>/examples/assignments/4-large-folios/grade.test.ts
 */
import {
  defineMigrator, migrateOffloadInit, moduleBeginUnload, Module, offloadingAttribute, ENOENT, EOPNOTSUPP, type Migrator,
} from "@mmemu/driver-kit";

export default defineMigrator({
  kind: "migrator",
  name: "largefolio",
  description: "CPU copy of batches made only of folios of 64 KiB or more",
  usesDma: false,
  enableAttr: "offloading",
  load(ctx) {
    const { m, fabric } = ctx;
    migrateOffloadInit(m);
    const owner = new Module("largefolio");
    const migrator: Migrator = {
      name: "LARGEFOLIO",
      owner,
      offloadCopy(dst, src, n) {
        // TODO: decline (return -EOPNOTSUPP, copying nothing) unless every src folio is >= 64 KiB
        // (m.folios.order[pfn] is the folio's order; a 4 KiB page is order 0). Otherwise copy each
        // pair: the bytes through the fabric (fabric.cpuCopyWait(srcNode, dstNode, bytes), nodes from
        // m.mem.nodeOfPfn), the contents with m.mem.copyPages(dst, src, pages), mark each dst with
        // FOLIO_CONTENT_COPIED for V6, and return 0.
        void dst, src, n, fabric;
        return -EOPNOTSUPP;
      },
    };
    const offloading = offloadingAttribute(m, migrator);
    return {
      attrs: ["offloading"],
      sysfsRead: (attr) => (attr === "offloading" ? offloading.read() : -ENOENT),
      sysfsWrite: (attr, buf) => (attr === "offloading" ? offloading.write(buf) : -ENOENT),
      rmmod: () => moduleBeginUnload(owner),
    };
  },
});
