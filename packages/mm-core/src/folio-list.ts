/**
 * A list of folios (head pfns) in order, standing in for a list_head threaded through folio->lru.
 * Backed by a growable Int32Array so the migration lists allocate nothing per folio.
 */
export class FolioList {
  pfns: Int32Array;
  length = 0;

  constructor(capacity = 16) {
    this.pfns = new Int32Array(Math.max(1, capacity));
  }

  static of(...pfns: number[]): FolioList {
    const l = new FolioList(pfns.length);
    for (const p of pfns) l.push(p);
    return l;
  }

  get(i: number): number {
    return this.pfns[i]!;
  }

  /** list_add_tail() */
  push(pfn: number): void {
    if (this.length === this.pfns.length) {
      const n = new Int32Array(this.pfns.length * 2);
      n.set(this.pfns);
      this.pfns = n;
    }
    this.pfns[this.length++] = pfn;
  }

  /** list_splice_tail_init(this, into) */
  spliceTailInto(into: FolioList): void {
    for (let i = 0; i < this.length; i++) into.push(this.pfns[i]!);
    this.length = 0;
  }

  clear(): void {
    this.length = 0;
  }

  /** Empty the list with room for `capacity` folios, keeping its array when that is large enough. */
  reset(capacity: number): void {
    this.length = 0;
    if (this.pfns.length < capacity) this.pfns = new Int32Array(capacity);
  }

  get empty(): boolean {
    return this.length === 0;
  }

  /** A snapshot of the current contents. */
  snapshot(): Int32Array {
    return this.pfns.slice(0, this.length);
  }

  toArray(): number[] {
    return Array.from(this.pfns.subarray(0, this.length));
  }

  includes(pfn: number): boolean {
    for (let i = 0; i < this.length; i++) if (this.pfns[i] === pfn) return true;
    return false;
  }
}
