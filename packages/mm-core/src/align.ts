/** Mirrors ALIGN(), ALIGN_DOWN() and IS_ALIGNED() of include/linux/align.h, for any positive alignment. */
export function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

export function alignDown(x: number, a: number): number {
  return Math.floor(x / a) * a;
}

/**
 * IS_ALIGNED() of a finite x to a power of two `a` (the division is exact, so this is x % a === 0).
 * Not written with %: addresses past 2^31 are doubles, and V8 computes a double remainder with a
 * call into the C library (about 20 ns); the division and floor take about one.
 */
export function isAligned(x: number, a: number): boolean {
  return Math.floor(x / a) * a === x;
}
