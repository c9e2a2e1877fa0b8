import test from "ava";
import { KernelCore } from "@mmemu/kernel";
import { PAGE_SIZE, PhysMem, patternDigest } from "@mmemu/mm-core";
import { IOMMU_HUGE_PAGE, Iommu, IommuDomain, IovaDomain, iommuPagesOf, type DmaMaster, type IommuMode } from "@mmemu/platform";

function setup(mode: IommuMode = "translate") {
  const core = new KernelCore();
  const mem = new PhysMem([{ id: 0, pages: 2048 }]);
  const iommu = new Iommu(core, mem);
  const dev: DmaMaster = { name: "dev0", iommu: mode, domain: new IommuDomain() };
  return { core, mem, iommu, dev, iovad: new IovaDomain(1 << 20) };
}

test("the IOVA allocator is size aligned up to 2 MiB and refuses to pass the limit", (t) => {
  const iovad = new IovaDomain(PAGE_SIZE);
  t.is(iovad.alloc(100, 2 ** 32), PAGE_SIZE, "a small mapping is page aligned");
  t.is(iovad.alloc(IOMMU_HUGE_PAGE, 2 ** 32), IOMMU_HUGE_PAGE, "2 MiB and up start on a 2 MiB boundary");
  t.is(iovad.alloc(PAGE_SIZE, 2 * IOMMU_HUGE_PAGE), -1, "past the device's mask");
  t.is(iovad.alloc(PAGE_SIZE, 2 * IOMMU_HUGE_PAGE + PAGE_SIZE), 2 * IOMMU_HUGE_PAGE, "a refusal allocates nothing");
});

test("a device copy translates through the domain and stops at the first unmapped byte", (t) => {
  const { mem, iommu, dev, iovad } = setup();
  mem.fillPages(10, 2, 0xabc);
  const src = iovad.alloc(2 * PAGE_SIZE, 2 ** 32);
  dev.domain.map(src, 10 * PAGE_SIZE, 2 * PAGE_SIZE);
  const dst = iovad.alloc(PAGE_SIZE, 2 ** 32);
  dev.domain.map(dst, 20 * PAGE_SIZE, PAGE_SIZE);
  t.is(iommu.translate(dev, src + PAGE_SIZE + 8), 11 * PAGE_SIZE + 8);
  t.is(iommu.translate(dev, dst + PAGE_SIZE), -1, "past the mapping");
  t.is(iommu.deviceCopy(dev, dst, src, 2 * PAGE_SIZE), PAGE_SIZE, "the second destination page has no translation");
  t.is(mem.digest(20), patternDigest(0xabc));
  t.is(iommu.stats.iommuFaults, 1);
  t.true(dev.domain.unmap(dst));
  t.is(dev.domain.lkAvail, PAGE_SIZE);
  t.is(iommu.deviceCopy(dev, dst, src, PAGE_SIZE), 0, "a stale IOVA faults");
  t.is(iommu.stats.iommuFaults, 2);
});

test("without an IOMMU, bus addresses are physical and accesses to unmapped pages are counted", (t) => {
  const { iommu, dev } = setup("off");
  iommu.refPages(0, PAGE_SIZE, 1);
  t.is(iommu.deviceCopy(dev, PAGE_SIZE, 0, PAGE_SIZE), PAGE_SIZE);
  t.deepEqual(iommu.stats, { unmappedWrites: 1, unmappedReads: 0, iommuFaults: 0 });
  t.is(iommu.iotlbPages(dev, 0, IOMMU_HUGE_PAGE), 0, "no translations without a translating IOMMU");
  t.throws(() => iommu.refPages(PAGE_SIZE, PAGE_SIZE, -1), { message: /no live mapping/ });
});

test("2 MiB leaves where IOVA and phys are both 2 MiB aligned, 4 KiB leaves elsewhere", (t) => {
  t.is(iommuPagesOf(IOMMU_HUGE_PAGE, IOMMU_HUGE_PAGE, IOMMU_HUGE_PAGE), 1);
  t.is(iommuPagesOf(IOMMU_HUGE_PAGE, IOMMU_HUGE_PAGE + PAGE_SIZE, IOMMU_HUGE_PAGE), 512);
  t.is(iommuPagesOf(PAGE_SIZE, 0, 3 * PAGE_SIZE), 3);
});
