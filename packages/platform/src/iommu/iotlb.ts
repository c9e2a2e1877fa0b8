import { ioPagesIn, type IommuDomain } from "./io-pgtable.js";

/**
 * The IOMMU translations (IOTLB entries) a device access to [bus, bus + len) in `dom` touches. A
 * streaming copy reuses none, so each is a miss and a page walk. Every mapped entry is one physically
 * contiguous range; the part of it that is 2 MiB aligned on both sides (IOVA ≡ phys mod 2 MiB) is
 * mapped with 2 MiB pages, one translation per 2 MiB, and the rest costs one per 4 KiB page. AMD's v1
 * table can map a naturally aligned 16 KiB..1 MiB folio with one replicated large PTE
 * (AMD_IOMMU_PGSIZES has every power of two), but the published 1-channel figures (16K..1M folios at
 * 2.6-4.6 GB/s, 2M at 12.7) show them translated per 4 KiB, as an IOTLB that only holds 4 KiB, 2 MiB
 * and 1 GiB entries would; physically adjacent folios are not coalesced. Unmapped parts of the range
 * count nothing (the access faults there anyway).
 */
export function iotlbPages(dom: IommuDomain, bus: number, len: number): number {
  if (len <= 0) return 0;
  const starts = dom.iovaStart;
  const lens = dom.iovaLen;
  const phys = dom.iovaPhys;
  let i = dom.find(bus);
  if (i < 0) return 0;
  const end = bus + len;
  let a = bus;
  let n = 0;
  while (a < end && i < dom.iovaCount) {
    const s = starts[i]!;
    if (s >= end) break;
    const e = s + lens[i]!;
    if (a < s) a = s;
    const b = e < end ? e : end;
    if (b > a) {
      n += ioPagesIn(a, b, s, e, phys[i]!);
      a = b;
    }
    i++;
  }
  return n;
}
