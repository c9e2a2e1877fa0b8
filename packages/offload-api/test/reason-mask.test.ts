import test from "ava";
import { EINVAL, ERANGE } from "@mmemu/kernel";
import { MR } from "@mmemu/mm-core";
import {
  kstrtobool, kstrtoint, kstrtoul, kstrtouint, migrateOffloadReasonMaskFormat, migrateOffloadReasonMaskParse,
  MIGRATE_OFFLOAD_REASONS_ALLOWED,
} from "@mmemu/offload-api";

function parse(s: string): number {
  const out = { value: -1 };
  const rc = migrateOffloadReasonMaskParse(s, out);
  return rc < 0 ? rc : out.value;
}

const bit = (r: number) => 1 << r;

test("reason_mask parse: numbers, names, all and none, whitespace, clamping", (t) => {
  t.is(MIGRATE_OFFLOAD_REASONS_ALLOWED, 0x3ff);
  t.is(parse("all"), 0x3ff);
  t.is(parse("none"), 0);
  t.is(parse("0x101"), 0x101);
  t.is(parse("257"), 257);
  t.is(parse("0401"), 0o401, "base 0: a leading 0 is octal");
  t.is(parse("0xffff"), 0x3ff, "clamped to the allowed reasons");
  t.is(parse("compaction,demotion"), bit(MR.COMPACTION) | bit(MR.DEMOTION));
  t.is(parse(" compaction , ,syscall_or_cpuset\n"), bit(MR.COMPACTION) | bit(MR.SYSCALL));
  t.is(parse("all,none"), 0, "tokens apply left to right");
  t.is(parse("none,numa_misplaced"), bit(MR.NUMA_MISPLACED));
  t.is(parse(""), 0);
});

test("reason_mask parse: an unknown name is -EINVAL (names are the tracepoint's: syscall_or_cpuset, not syscall)", (t) => {
  t.is(parse("syscall"), -EINVAL);
  t.is(parse("compaction,bogus"), -EINVAL);
  t.is(parse("-1"), -EINVAL);
  const out = { value: 42 };
  migrateOffloadReasonMaskParse("nope", out);
  t.is(out.value, 42, "output untouched on error");
});

test("reason_mask format: names in reason order, or none; round-trips through parse", (t) => {
  t.is(migrateOffloadReasonMaskFormat(0), "none");
  t.is(migrateOffloadReasonMaskFormat(bit(MR.DEMOTION) | bit(MR.COMPACTION)), "compaction,demotion");
  t.is(parse(migrateOffloadReasonMaskFormat(0x3ff)), 0x3ff);
  for (let mask = 0; mask <= 0x3ff; mask += 37) t.is(parse(migrateOffloadReasonMaskFormat(mask)), mask);
});

test("kstrto*: the kernel's accepted forms and errors", (t) => {
  t.is(kstrtoul("16"), 16);
  t.is(kstrtoul("+16\n"), 16, "one trailing newline and a leading + are fine");
  t.is(kstrtoul("0x10"), 16);
  t.is(kstrtoul("010"), 8);
  t.is(kstrtoul("16\n\n"), -EINVAL);
  t.is(kstrtoul(" 16"), -EINVAL, "no leading whitespace");
  t.is(kstrtoul("1 6"), -EINVAL);
  t.is(kstrtoul(""), -EINVAL);
  t.is(kstrtoul("0x"), -EINVAL, "a bare 0x is octal 0 followed by a stray x");
  t.is(kstrtouint("4294967296"), -ERANGE);
  t.is(kstrtouint("4294967295"), 4294967295);
  const out = { value: 0 };
  t.is(kstrtoint("-5", 0, out), 0);
  t.is(out.value, -5);
  t.is(kstrtoint("2147483648", 0, out), -ERANGE);
  for (const s of ["1", "y", "Y", "t", "on", "ON"]) t.is(kstrtobool(s), 1, s);
  for (const s of ["0", "n", "N", "f", "off", "Off"]) t.is(kstrtobool(s), 0, s);
  for (const s of ["", "2", "o", "ox", "maybe"]) t.is(kstrtobool(s), -EINVAL, s);
});
