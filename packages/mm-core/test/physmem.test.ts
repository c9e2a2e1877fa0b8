import test from "ava";
import fc from "fast-check";
import { PageAllocator, PhysMem, PAGE_SIZE, patternDigest } from "../src/index.js";

test("bytes written are read back exactly and whole-page copies carry them", (t) => {
  const mem = new PhysMem([{ id: 0, pages: 8 }]);
  const data = new TextEncoder().encode("hello, migration");
  mem.write(3 * PAGE_SIZE + 100, data);
  t.deepEqual(mem.read(3 * PAGE_SIZE + 100, data.length), data);
  mem.copyPages(5, 3, 1);
  t.deepEqual(mem.read(5 * PAGE_SIZE + 100, data.length), data);
  t.is(mem.digest(5), mem.digest(3));
  t.not(mem.digest(5), mem.digest(4));
});

test("a filled page and a byte page with the same words have the same digest", (t) => {
  const mem = new PhysMem([{ id: 0, pages: 4 }]);
  mem.fillPages(0, 1, 0xdeadbeef);
  const bytes = new Uint8Array(PAGE_SIZE);
  new DataView(bytes.buffer).setUint32(0, 0xdeadbeef, true);
  for (let i = 4; i < PAGE_SIZE; i += 4) bytes.copyWithin(i, 0, 4);
  mem.write(PAGE_SIZE, bytes);
  t.is(mem.digest(0), mem.digest(1));
  t.is(mem.digest(0), patternDigest(0xdeadbeef));
  t.is(mem.pagesWithBytes, 1);
  t.is(mem.digest(2), 0, "untouched pages are zero");
});

test("a torn copy (partial page) is visible byte for byte", (t) => {
  const mem = new PhysMem([{ id: 0, pages: 4 }]);
  mem.fillPages(0, 1, 0x11111111);
  mem.fillPages(1, 1, 0x22222222);
  mem.copyPhys(PAGE_SIZE, 0, 1000);
  const out = mem.read(PAGE_SIZE, PAGE_SIZE);
  t.is(out[999], 0x11);
  t.is(out[1000], 0x22);
  t.not(mem.digest(1), mem.digest(0));
});

test("readInto() reads byte pages and pattern pages across page edges into a buffer at an offset", (t) => {
  const mem = new PhysMem([{ id: 0, pages: 4 }]);
  mem.fillPages(0, 1, 0x11223344);
  mem.write(PAGE_SIZE - 2 + PAGE_SIZE, new Uint8Array([7, 8, 9, 10]));
  mem.fillPages(3, 1, 0xa0b0c0d0);
  const out = new Uint8Array(PAGE_SIZE * 3 + 16).fill(0xee);
  // From byte 4094 of page 0 to byte 2 of page 3: pattern, byte page, byte page, pattern.
  mem.readInto(PAGE_SIZE - 2, out, 5, 2 * PAGE_SIZE + 4);
  t.deepEqual([...out.subarray(0, 5)], [0xee, 0xee, 0xee, 0xee, 0xee], "nothing before the offset");
  t.deepEqual([...out.subarray(5, 7)], [0x22, 0x11], "the pattern's last bytes, little-endian");
  t.deepEqual([...out.subarray(5 + PAGE_SIZE, 5 + PAGE_SIZE + 4)], [7, 8, 9, 10], "bytes written across an edge");
  t.deepEqual([...out.subarray(5 + 2 * PAGE_SIZE + 2, 5 + 2 * PAGE_SIZE + 4)], [0xd0, 0xc0], "the next pattern page's first bytes");
  t.is(out[5 + 2 * PAGE_SIZE + 4], 0xee, "nothing past the length");
  t.deepEqual(out.subarray(5, 5 + 2 * PAGE_SIZE + 4), mem.read(PAGE_SIZE - 2, 2 * PAGE_SIZE + 4), "the same bytes read() returns");
  // Two pattern pages in turn: the expansion of the first is not reused for the second.
  const a = new Uint8Array(4);
  mem.readInto(0, a, 0, 4);
  mem.readInto(3 * PAGE_SIZE, a, 0, 2);
  t.deepEqual([...a], [0xd0, 0xc0, 0x22, 0x11]);
  t.is(mem.pagesWithBytes, 2, "reading materialises no page");
  t.throws(() => mem.readInto(0, a, 2, 4), { message: /do not fit the buffer of 4 at 2/ });
  t.throws(() => mem.readInto(4 * PAGE_SIZE - 2, a, 0, 4), { message: /outside physical memory/ });
});

test("out-of-range physical accesses are errors naming the range", (t) => {
  const mem = new PhysMem([{ id: 0, pages: 1 }]);
  t.throws(() => mem.copyPhys(0, PAGE_SIZE - 10, 20), { message: /outside physical memory/ });
});

test("machine layout errors name the problem", (t) => {
  t.throws(() => new PhysMem([]), { message: /at least one NUMA node/ });
  t.throws(() => new PhysMem([{ id: 0, pages: 4 }, { id: 0, pages: 4 }]), { message: /declared twice/ });
  t.throws(() => new PhysMem([{ id: 0, pages: -1 }]), { message: /non-negative/ });
});

test("buddy allocator: blocks merge back; fragmentation fails large orders while small ones succeed", (t) => {
  const mem = new PhysMem([{ id: 0, pages: 1024 }, { id: 1, pages: 1024 }]);
  const a = new PageAllocator(mem);
  t.is(a.nrFree(0), 1024);
  const big = a.alloc(0, 9);
  t.is(big % 512, 0);
  t.is(a.nrFree(0), 512);
  a.free(big, 9);
  t.is(a.nrFreeAtLeast(0, 10), 1024, "merged back into one order-10 block");
  const pages: number[] = [];
  for (let p; (p = a.alloc(1, 0)) >= 0; ) pages.push(p);
  t.is(pages.length, 1024);
  t.is(a.alloc(1, 0), -1, "a full node fails");
  for (const p of pages) if (p % 2 === 0) a.free(p, 0);
  t.is(a.nrFree(1), 512);
  t.is(a.alloc(1, 1), -1, "no two adjacent free pages");
  t.true(a.alloc(1, 0) >= 0);
});

test("property: any sequence of allocations and frees conserves pages and never double-allocates", (t) => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 10 }), fc.boolean()), { maxLength: 200 }), (ops) => {
      const mem = new PhysMem([{ id: 0, pages: 2048 }]);
      const a = new PageAllocator(mem);
      const live: Array<[number, number]> = [];
      const owner = new Int32Array(2048).fill(-1);
      for (const [order, free] of ops) {
        if (free && live.length > 0) {
          const [p, o] = live.pop()!;
          for (let i = p; i < p + (1 << o); i++) owner[i] = -1;
          a.free(p, o);
          continue;
        }
        const p = a.alloc(0, order);
        if (p < 0) continue;
        if (p % (1 << order) !== 0) return false;
        for (let i = p; i < p + (1 << order); i++) {
          if (owner[i] !== -1) return false;
          owner[i] = p;
        }
        live.push([p, order]);
      }
      const used = live.reduce((s, [, o]) => s + (1 << o), 0);
      return a.nrFree(0) === 2048 - used;
    }),
  );
  t.pass();
});

test("buddy allocator on nodes whose sizes are not multiples of 2 MiB: blocks are aligned to absolute pfns", (t) => {
  // 13 MiB, 19 MiB and 10 MiB + 4 KiB: nodes 1 and 2 start off a 2 MiB boundary, as real nodes may.
  const mem = new PhysMem([{ id: 0, pages: 3328 }, { id: 1, pages: 4864 }, { id: 2, pages: 2561 }]);
  const a = new PageAllocator(mem);
  t.is(a.nrFree(1), 4864);
  const heads: number[] = [];
  for (let p; (p = a.alloc(1, 9)) >= 0; ) heads.push(p);
  for (const h of heads) t.is(h % 512, 0, `order-9 head ${h} is 2 MiB aligned`);
  t.true(heads.every((h) => mem.nodeOfPfn[h] === 1 && mem.nodeOfPfn[h + 511] === 1), "every block lies inside node 1");
  // Node 1 is pfns 3328..8191: the aligned 2 MiB blocks are 3584, 4096, ..., 7680 -> 9 of them.
  t.is(heads.length, 9);
  for (const h of heads) a.free(h, 9);
  t.is(a.nrFree(1), 4864, "freed blocks merge back without crossing the node's edges");
  t.is(a.nrFreeAtLeast(2, 0), 2561);
});

test("property: odd node sizes keep every allocation aligned, inside its node and conserved", (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 3000 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 10 }), fc.boolean()), { maxLength: 120 }), (p0, p1, ops) => {
      const mem = new PhysMem([{ id: 0, pages: p0 }, { id: 1, pages: p1 }]);
      const a = new PageAllocator(mem);
      const live: Array<[number, number]> = [];
      for (const [order, free] of ops) {
        if (free && live.length > 0) {
          const [p, o] = live.pop()!;
          a.free(p, o);
          continue;
        }
        const p = a.alloc(1, order);
        if (p < 0) continue;
        if (p % (1 << order) !== 0 || mem.nodeOfPfn[p] !== 1 || mem.nodeOfPfn[p + (1 << order) - 1] !== 1 || p + (1 << order) > p0 + p1) return false;
        live.push([p, order]);
      }
      const used = live.reduce((s, [, o]) => s + (1 << o), 0);
      return a.nrFree(1) === p1 - used && a.nrFree(0) === p0;
    }),
  );
  t.pass();
});
