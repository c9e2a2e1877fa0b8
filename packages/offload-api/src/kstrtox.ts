import { EINVAL, ERANGE } from "@mmemu/kernel";

/**
 * The string-to-number helpers sysfs stores and module parameters use (lib/kstrtox.c), so knobs
 * accept and refuse exactly what the kernel's do: an optional "+", a radix prefix when the base is 0
 * ("0x" hex, a leading "0" octal), digits only, and at most one trailing newline.
 */

function parseUnsigned(buf: string, base: number): bigint | number {
  let s = buf;
  if (s.startsWith("+")) s = s.slice(1);
  let radix = base;
  if (radix === 0) {
    if (s[0] === "0") radix = (s[1] === "x" || s[1] === "X") && /^[0-9a-fA-F]$/.test(s[2] ?? "") ? 16 : 8;
    else radix = 10;
  }
  if (radix === 16 && s[0] === "0" && (s[1] === "x" || s[1] === "X")) s = s.slice(2);
  if (s.endsWith("\n")) s = s.slice(0, -1);
  if (s.length === 0) return -EINVAL;
  let v = 0n;
  const r = BigInt(radix);
  for (const ch of s) {
    const d = parseInt(ch, 36);
    if (Number.isNaN(d) || d >= radix) return -EINVAL;
    v = v * r + BigInt(d);
  }
  return v;
}

/**
 * Mirrors kstrtoul()/kstrtoull() on a 64-bit kernel. Returns the value, or -EINVAL (not a number) /
 * -ERANGE (above 2^64 - 1, or above 2^53 where JavaScript numbers stop being exact).
 */
export function kstrtoul(buf: string, base = 0): number {
  const v = parseUnsigned(buf, base);
  if (typeof v === "number") return v;
  if (v > 0xffffffffffffffffn || v > BigInt(Number.MAX_SAFE_INTEGER)) return -ERANGE;
  return Number(v);
}

/** Mirrors kstrtouint(): like {@link kstrtoul} but -ERANGE above UINT_MAX. */
export function kstrtouint(buf: string, base = 0): number {
  const v = kstrtoul(buf, base);
  if (v < 0) return v;
  return v > 0xffffffff ? -ERANGE : v;
}

/**
 * Mirrors kstrtoint(): a signed int. Because a negative result is also how errors are reported,
 * the value comes back through `out` and the return is 0 or -errno.
 */
export function kstrtoint(buf: string, base: number, out: { value: number }): number {
  const neg = buf.startsWith("-");
  const v = kstrtoul(neg ? buf.slice(1) : buf, base);
  if (v < 0) return v;
  if (neg ? v > 0x80000000 : v > 0x7fffffff) return -ERANGE;
  out.value = neg ? -v : v;
  return 0;
}

/**
 * Mirrors kstrtobool(): y/Y/t/T/1/"on" are true, n/N/f/F/0/"off" false (only the first one or two
 * characters are looked at, as in the kernel). Returns 1, 0, or -EINVAL.
 */
export function kstrtobool(buf: string): number {
  switch (buf[0]) {
    case "y": case "Y": case "t": case "T": case "1":
      return 1;
    case "n": case "N": case "f": case "F": case "0":
      return 0;
    case "o": case "O":
      if (buf[1] === "n" || buf[1] === "N") return 1;
      if (buf[1] === "f" || buf[1] === "F") return 0;
      return -EINVAL;
    default:
      return -EINVAL;
  }
}
