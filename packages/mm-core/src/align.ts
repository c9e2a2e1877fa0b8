/** Mirrors ALIGN() and ALIGN_DOWN() of include/linux/align.h, for any positive alignment. */
export function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

export function alignDown(x: number, a: number): number {
  return Math.floor(x / a) * a;
}
