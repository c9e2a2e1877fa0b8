/** The shared output helper: paths checked before work, atomic and all-or-nothing writes, option values. */
import test from "ava";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AtomicStream, EXIT, intOption, outputPath, UsageError, writeFileAtomic, writeFilesAtomic } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "mmemu-output-"));

test("exit codes are 0, 1 and 2", (t) => {
  t.deepEqual(EXIT, { OK: 0, CHECK_FAILED: 1, USAGE: 2 });
});

test("outputPath refuses empty values, paths under files, directories for files and files for directories, naming the option", (t) => {
  const file = join(dir, "a-file");
  writeFileSync(file, "x");
  t.throws(() => outputPath("--json", ""), { instanceOf: UsageError, message: '--json: needs a file path, got ""' });
  t.throws(() => outputPath("--json", "  "), { instanceOf: UsageError, message: /^--json: needs a file path/ });
  t.throws(() => outputPath("--json", join(file, "x.json")), { instanceOf: UsageError, message: /^--json: cannot create ".*a-file\/x\.json": ".*a-file" is a file, not a directory$/ });
  t.throws(() => outputPath("--json", dir), { instanceOf: UsageError, message: /^--json: ".*" is a directory; give a file name$/ });
  t.throws(() => outputPath("--json", "out/"), { instanceOf: UsageError, message: /^--json: "out\/" names a directory/ });
  t.throws(() => outputPath("--report", file, "dir"), { instanceOf: UsageError, message: /^--report: ".*a-file" exists and is not a directory$/ });
  t.is(outputPath("--json", join(dir, "new", "deeper", "x.json")), join(dir, "new", "deeper", "x.json"));
  t.false(existsSync(join(dir, "new")), "checking creates nothing");
  t.is(outputPath("--report", join(dir, "rep"), "dir"), join(dir, "rep"));
});

test("outputPath refuses an unwritable directory (when the user is not root, who may write anywhere)", (t) => {
  const ro = join(dir, "ro");
  mkdirSync(ro);
  chmodSync(ro, 0o500);
  if (process.getuid?.() === 0) t.is(outputPath("--out", join(ro, "x")), join(ro, "x"));
  else t.throws(() => outputPath("--out", join(ro, "x")), { instanceOf: UsageError, message: /is not writable/ });
  chmodSync(ro, 0o700);
});

test("writeFileAtomic replaces a file whole and leaves no temporary file; a failure leaves the old file", (t) => {
  const p = join(dir, "atomic", "f.json");
  writeFileAtomic(p, "one");
  writeFileAtomic(p, "two");
  t.is(readFileSync(p, "utf8"), "two");
  t.deepEqual(readdirSync(join(dir, "atomic")), ["f.json"]);
  // A destination that is a directory cannot be replaced: the error names it, nothing is left behind.
  mkdirSync(join(dir, "atomic", "d"));
  t.throws(() => writeFileAtomic(join(dir, "atomic", "d"), "x"), { instanceOf: UsageError, message: /^cannot write ".*atomic\/d": E/ });
  t.deepEqual(readdirSync(join(dir, "atomic")).sort(), ["d", "f.json"]);
});

test("writeFilesAtomic: all files or none", (t) => {
  const d = join(dir, "report");
  t.deepEqual(writeFilesAtomic(d, { "a.md": "A", "b.svg": "B" }).map((p) => p.slice(d.length + 1)), ["a.md", "b.svg"]);
  t.deepEqual(readdirSync(d).sort(), ["a.md", "b.svg"]);
  // The second file cannot be staged (its name is a path under a file): nothing of this call remains.
  t.throws(() => writeFilesAtomic(d, { "c.md": "C", "a.md/x": "X" }), { instanceOf: UsageError });
  t.deepEqual(readdirSync(d).sort(), ["a.md", "b.svg"]);
  t.is(readFileSync(join(d, "a.md"), "utf8"), "A");
});

test("AtomicStream appears only on commit; abort leaves nothing", (t) => {
  const p = join(dir, "stream.jsonl");
  const s = new AtomicStream(p);
  s.write("{}\n");
  t.false(existsSync(p));
  s.commit();
  t.is(readFileSync(p, "utf8"), "{}\n");
  const q = new AtomicStream(join(dir, "aborted.jsonl"));
  q.write("x");
  q.abort();
  t.false(readdirSync(dir).some((n) => n.includes("aborted")));
});

test("intOption takes whole numbers in range and refuses the rest, naming the option", (t) => {
  t.is(intOption("--max-evals", "150", 1, 1000), 150);
  for (const bad of ["abc", "-1", "0", "1.5", "", "1e3", "0x10", "9999"]) {
    t.throws(() => intOption("--max-evals", bad, 1, 1000), { instanceOf: UsageError, message: `--max-evals: expected a whole number from 1 to 1000, got ${JSON.stringify(bad)}` });
  }
});
