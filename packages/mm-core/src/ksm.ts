/**
 * Kernel samepage merging: mirrors mm/ksm.c in the parts page migration meets — one ksmd pass over the
 * MADV_MERGEABLE private anonymous VMAs (ksm_do_scan: identical pages are merged into one write-protected
 * KSM folio, try_to_merge_one_page/replace_page), stable nodes that remember every mapping of a KSM
 * folio (ksm_stable_node + ksm_rmap_item), and the rmap walk over them (rmap_walk_ksm), which is how
 * try_to_migrate() and remove_migration_ptes() find a KSM folio's page-table entries. A KSM folio's
 * folio->mapping holds its stable node id (PAGE_MAPPING_KSM); migration carries it to the new folio.
 *
 * Simplifications: one pass merges at once (no unstable tree, no two-pass checksum); large folios are
 * not split for merging; pinned, locked or isolated pages are skipped, as ksmd skips pages it cannot
 * lock or whose refcount it cannot freeze.
 */
import { PG } from "./folio.js";
import type { Machine } from "./machine.js";
import { PTE, VM, type MmStruct, type Vma } from "./mm-types.js";
import { PAGE_SIZE } from "./physmem.js";
import { tlbFlushMmRange } from "./tlb.js";

/** One mapping of a KSM folio (ksm_rmap_item): the mm and the virtual address. */
interface KsmSite {
  readonly mm: MmStruct;
  readonly addr: number;
}

/** Mirrors struct ksm_stable_node: every place the KSM folio was merged at. */
interface StableNode {
  readonly id: number;
  sites: KsmSite[];
}

interface KsmState {
  readonly nodes: Array<StableNode | undefined>;
  /** Page numbers (in the VMA) of each entry of an array returned by ksmRmapVmas. */
  readonly firsts: WeakMap<Vma[], number[]>;
}

/** What one ksmd pass did (the /sys/kernel/mm/ksm counters it changed). */
export interface KsmScanResult {
  /** Pages whose mapping was switched to a KSM folio (pages_sharing gained). */
  readonly merged: number;
  /** KSM folios in use after the pass (pages_shared). */
  readonly pagesShared: number;
  /** Mappings of KSM folios after the pass (pages_sharing + pages_shared). */
  readonly mappings: number;
}

const states = new WeakMap<Machine, KsmState>();

function stateOf(m: Machine): KsmState {
  let s = states.get(m);
  if (s === undefined) {
    s = { nodes: [undefined], firsts: new WeakMap() };
    states.set(m, s);
  }
  return s;
}

/**
 * rmap_walk_ksm(): the VMAs holding a KSM folio's mappings, one entry per mapping (a VMA appears once
 * per address it maps the folio at). {@link ksmRmapFirst} gives each entry's page number in its VMA.
 */
export function ksmRmapVmas(m: Machine, folio: number): Vma[] {
  const s = stateOf(m);
  const node = s.nodes[m.folios.mapping[folio]!];
  const out: Vma[] = [];
  const firsts: number[] = [];
  if (node !== undefined) {
    for (const site of node.sites) {
      const v = site.mm.findVma(site.addr);
      if (v === null) continue;
      out.push(v);
      firsts.push((site.addr - v.start) / PAGE_SIZE);
    }
  }
  s.firsts.set(out, firsts);
  return out;
}

/** The page number within `vmas[vi]` of a KSM folio's mapping (vmas from {@link ksmRmapVmas}). */
export function ksmRmapFirst(m: Machine, vmas: Vma[], vi: number): number {
  return stateOf(m).firsts.get(vmas)![vi]!;
}

/** Whether the PTE at index i of v maps exactly `pfn` as a present, ordinary page. */
function mapsPage(v: Vma, i: number, pfn: number): boolean {
  const bits = v.pteBits[i]!;
  return (bits & PTE.PRESENT) !== 0 && (bits & PTE.SPECIAL) === 0 && v.ptePfn[i] === pfn;
}

interface Candidate {
  readonly mm: MmStruct;
  readonly v: Vma;
  readonly i: number;
  readonly folio: number;
}

/**
 * One full ksmd pass (what writing 1 to /sys/kernel/mm/ksm/run and waiting for a full scan does): every
 * present small anonymous page of a MADV_MERGEABLE private VMA whose contents equal another such page,
 * or an existing KSM page, ends up mapped read-only to a single KSM folio; the duplicates are freed.
 */
export function ksmScan(m: Machine): KsmScanResult {
  const f = m.folios;
  const s = stateOf(m);
  const groups = new Map<number, Candidate[]>();
  const stableByDigest = new Map<number, number>();
  for (const mm of m.mms) {
    if (!mm) continue;
    for (const v of mm.vmas) {
      if ((v.flags & VM.MERGEABLE) === 0 || v.file !== null || (v.flags & (VM.SHARED | VM.HUGETLB | VM.PFNMAP | VM.IO)) !== 0) continue;
      for (let i = 0; i < v.pteBits.length; i++) {
        const bits = v.pteBits[i]!;
        if ((bits & PTE.PRESENT) === 0 || (bits & PTE.SPECIAL) !== 0) continue;
        const pfn = v.ptePfn[i]!;
        const folio = f.folioOf(pfn);
        if (f.order[folio] !== 0 || !f.isAnon(folio) || f.test(folio, PG.locked | PG.zoneDevice | PG.hugetlb)) continue;
        const digest = m.mem.digest(pfn);
        if (f.test(folio, PG.ksm)) {
          if (!stableByDigest.has(digest)) stableByDigest.set(digest, folio);
          continue;
        }
        // ksmd cannot merge what it cannot freeze: pinned or isolated pages.
        if (f.pincount[folio]! > 0 || !f.test(folio, PG.lru)) continue;
        let g = groups.get(digest);
        if (g === undefined) groups.set(digest, (g = []));
        g.push({ mm, v, i, folio });
      }
    }
  }
  let merged = 0;
  const flush = new Set<MmStruct>();
  for (const [digest, cands] of groups) {
    let ksm = stableByDigest.get(digest) ?? -1;
    if (ksm < 0) {
      // A single page has nothing to merge with yet.
      if (cands.length < 2) continue;
      ksm = cands[0]!.folio;
      const id = s.nodes.length;
      s.nodes.push({ id, sites: [] });
      f.set(ksm, PG.ksm);
      f.clear(ksm, PG.anonExclusive);
      f.mapping[ksm] = id;
    }
    const node = s.nodes[f.mapping[ksm]!]!;
    for (const c of cands) {
      const addr = c.v.start + c.i * PAGE_SIZE;
      if (c.folio !== ksm) {
        if (!mapsPage(c.v, c.i, c.folio)) continue;
        // replace_page(): map the KSM page instead, then drop the duplicate's mapping and reference.
        c.v.ptePfn[c.i] = ksm;
        f.mapcount[ksm]!++;
        f.refcount[ksm]!++;
        f.mapcount[c.folio]!--;
        f.clear(c.folio, PG.anonExclusive);
        m.folioPut(c.folio);
        merged++;
      }
      c.v.pteBits[c.i] = (c.v.pteBits[c.i]! & ~PTE.WRITE) | PTE.PRESENT;
      if (!node.sites.some((x) => x.mm === c.mm && x.addr === addr)) node.sites.push({ mm: c.mm, addr });
      flush.add(c.mm);
    }
  }
  for (const mm of flush) tlbFlushMmRange(m, mm, 0, Number.MAX_SAFE_INTEGER);
  // Forget mappings that went away (munmap, COW break) so rmap walks stay short.
  let pagesShared = 0;
  let mappings = 0;
  for (const node of s.nodes) {
    if (node === undefined) continue;
    node.sites = node.sites.filter((x) => {
      const v = x.mm.findVma(x.addr);
      if (v === null) return false;
      const i = (x.addr - v.start) / PAGE_SIZE;
      const bits = v.pteBits[i]!;
      if (bits & PTE.MIGRATION) return true;
      return (bits & PTE.PRESENT) !== 0 && f.test(f.folioOf(v.ptePfn[i]!), PG.ksm) && f.mapping[f.folioOf(v.ptePfn[i]!)] === node.id;
    });
    if (node.sites.length > 0) {
      pagesShared++;
      mappings += node.sites.length;
    }
  }
  return { merged, pagesShared, mappings };
}
