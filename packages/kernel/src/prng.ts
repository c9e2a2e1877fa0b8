import { xoroshiro128plus, xoroshiro128plusFromState } from "pure-rand/generator/xoroshiro128plus";
import type { JumpableRandomGenerator } from "pure-rand/types/JumpableRandomGenerator";

/**
 * Seeded randomness. Every component draws from its own named stream, derived from the machine seed
 * and the stream name, so adding draws in one component never shifts another's sequence. State can be
 * saved and restored (pure-rand xoroshiro128+).
 */
export class PrngStream {
  constructor(
    readonly name: string,
    private gen: JumpableRandomGenerator,
  ) {}

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    return this.gen.next() >>> 0;
  }

  /** A uniform integer in [0, n). */
  below(n: number): number {
    if (!(n > 0)) throw new RangeError(`PrngStream.below: n must be > 0, got ${n}`);
    if (n <= 0x1_0000_0000) {
      // Rejection sampling keeps it exactly uniform.
      const limit = Math.floor(0x1_0000_0000 / n) * n;
      for (;;) {
        const x = this.nextU32();
        if (x < limit) return x % n;
      }
    }
    return Math.floor(this.float() * n);
  }

  /** A uniform float in [0, 1) with 53 bits. */
  float(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return p > 0 && (p >= 1 || this.float() < p);
  }

  /** Saveable state. */
  getState(): readonly number[] {
    return this.gen.getState();
  }

  setState(state: readonly number[]): void {
    this.gen = xoroshiro128plusFromState(state);
  }
}

/** FNV-1a over a string: a stable 32-bit hash for deriving stream seeds from names. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The per-machine source of named streams. */
export class Prng {
  private readonly streams = new Map<string, PrngStream>();

  constructor(readonly seed: number) {
    if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  }

  /** The stream for a component ("dcbm", "fault-inject", ...); the same name gives the same stream. */
  stream(name: string): PrngStream {
    let s = this.streams.get(name);
    if (s === undefined) {
      const gen = xoroshiro128plus((this.seed ^ hashString(name)) | 0);
      s = new PrngStream(name, gen);
      this.streams.set(name, s);
    }
    return s;
  }
}
