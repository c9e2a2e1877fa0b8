/**
 * Output files and exit codes, shared by every mmemu command (run, bench, calibrate, profile derive,
 * fuzz, and any command that writes --json, --report, --out or trace files):
 *
 * - `outputPath(option, value, kind)` checks an output path BEFORE the work starts: an empty value, a
 *   path under a regular file, a directory where a file is wanted (or the reverse) or an unwritable
 *   place is a UsageError naming the option, so a bad path never costs a whole benchmark.
 * - `writeFileAtomic(path, data)` writes through a temporary file in the same directory and renames it
 *   into place: readers see the old file or the whole new one, never half of it, and a failure leaves
 *   nothing behind.
 * - `writeFilesAtomic(dir, files)` writes a multi-file output (a report) all or nothing: every file is
 *   staged first, and only when all are staged are they renamed into place.
 * - `AtomicStream` is the streaming form (JSON lines, trace files): written as it goes to a temporary
 *   file, renamed on `commit()`, removed on `abort()`.
 * - Exit codes: `EXIT.OK` (0) success, `EXIT.CHECK_FAILED` (1) an expectation or check failed,
 *   `EXIT.USAGE` (2) a usage or input error (bad option, unreadable or invalid file, unwritable output).
 *   A command throws UsageError for the last; the CLI's top level prints its message on one line.
 */
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

/** The CLI's exit codes (documented in README.md and packages/cli/README.md). */
export const EXIT = { OK: 0, CHECK_FAILED: 1, USAGE: 2 } as const;

/** A usage or input error: the message names the option, file or field; the CLI exits with EXIT.USAGE. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

let tmpSeq = 0;

function tmpName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${++tmpSeq}.tmp`);
}

/** Remove a temporary file if it exists (cleanup after a failure must not fail itself). */
function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // It was never created (its directory does not exist).
  }
}

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code !== undefined ? `${err.code}${err.syscall ? ` (${err.syscall})` : ""}` : err.message;
}

/**
 * Check an output path before any work: returns the path, or throws a UsageError naming `option`.
 * `kind` "file": the path may exist as a file (it is replaced) or not at all, and its nearest existing
 * ancestor must be a writable directory. "dir": the same, but an existing path must be a directory.
 */
export function outputPath(option: string, value: unknown, kind: "file" | "dir" = "file"): string {
  if (typeof value !== "string" || value.trim() === "") throw new UsageError(`${option}: needs a ${kind === "dir" ? "directory" : "file"} path, got ${JSON.stringify(value === true ? "" : value ?? "")}`);
  if (value.includes("\0")) throw new UsageError(`${option}: the path contains a NUL byte`);
  if (kind === "file" && /[/\\]$/.test(value)) throw new UsageError(`${option}: "${value}" names a directory; give a file name`);
  const abs = resolve(value);
  if (existsSync(abs)) {
    const st = statSync(abs);
    if (kind === "file" && st.isDirectory()) throw new UsageError(`${option}: "${value}" is a directory; give a file name`);
    if (kind === "dir" && !st.isDirectory()) throw new UsageError(`${option}: "${value}" exists and is not a directory`);
    if (kind === "dir") writable(option, value, abs);
    else writable(option, value, dirname(abs));
    return value;
  }
  // The first existing ancestor must be a directory we can create entries in.
  let up = dirname(abs);
  while (!existsSync(up)) up = dirname(up);
  if (!statSync(up).isDirectory()) throw new UsageError(`${option}: cannot create "${value}": "${up}" is a file, not a directory`);
  writable(option, value, up);
  return value;
}

function writable(option: string, value: string, dir: string): void {
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    throw new UsageError(`${option}: cannot write "${value}": directory "${dir}" is not writable`);
  }
}

/** Write a whole file atomically (temporary file + rename); creates missing directories. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(resolve(path)), { recursive: true });
  const tmp = tmpName(path);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    removeQuietly(tmp);
    throw new UsageError(`cannot write "${path}": ${reason(e)}`);
  }
}

/**
 * Write several files into `dir` (names may include subdirectories), all or nothing: each is staged as a temporary file beside its final
 * name; if any staging fails, every staged file is removed and nothing is replaced. Returns the paths.
 */
export function writeFilesAtomic(dir: string, files: Readonly<Record<string, string | Uint8Array>>): string[] {
  const staged: Array<[string, string]> = [];
  try {
    mkdirSync(dir, { recursive: true });
    for (const [name, data] of Object.entries(files)) {
      const path = join(dir, name);
      const tmp = tmpName(path);
      // A name may have directories ("test/x.test.ts"): they are created, the file still staged.
      mkdirSync(dirname(path), { recursive: true });
      staged.push([tmp, path]);
      writeFileSync(tmp, data);
    }
  } catch (e) {
    for (const [tmp] of staged) removeQuietly(tmp);
    throw new UsageError(`cannot write the files of "${dir}": ${reason(e)}`);
  }
  for (const [tmp, path] of staged) renameSync(tmp, path);
  return staged.map(([, path]) => path);
}

/** A file written as it goes (JSON lines, traces) that appears under its name only when committed. */
export class AtomicStream {
  private fd: number;
  private readonly tmp: string;
  private done = false;

  constructor(readonly path: string) {
    mkdirSync(dirname(resolve(path)), { recursive: true });
    this.tmp = tmpName(path);
    try {
      this.fd = openSync(this.tmp, "w");
    } catch (e) {
      throw new UsageError(`cannot write "${path}": ${reason(e)}`);
    }
  }

  write(text: string): void {
    if (this.done) throw new Error(`${this.path}: written after commit/abort`);
    writeSync(this.fd, text);
  }

  /** Close and rename into place. */
  commit(): void {
    if (this.done) return;
    this.done = true;
    closeSync(this.fd);
    renameSync(this.tmp, this.path);
  }

  /** Close and remove the temporary file (the destination is left as it was). */
  abort(): void {
    if (this.done) return;
    this.done = true;
    closeSync(this.fd);
    removeQuietly(this.tmp);
  }
}

/**
 * A whole number option in [min, max] ("--max-evals 150"); anything else ("abc", "-1", "0", "1.5", "")
 * is a UsageError naming the option and the accepted range.
 */
export function intOption(option: string, value: unknown, min: number, max: number): number {
  const s = typeof value === "string" ? value.trim() : String(value);
  const n = Number(s);
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${option}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

interface CommandLike {
  readonly commands: readonly CommandLike[];
  exitOverride(): unknown;
  parseAsync(argv: readonly string[]): Promise<unknown>;
}

/**
 * Run a commander program with mmemu's exit codes: commander's own usage errors (unknown option,
 * missing argument) exit EXIT.USAGE instead of commander's 1; help and --version exit 0; any error a
 * command throws is printed on one line as "<name>: message" (no stack trace) and exits EXIT.USAGE.
 * A command that finds a failed check sets process.exitCode = EXIT.CHECK_FAILED itself.
 */
export async function runCli(program: CommandLike, argv: readonly string[], name: string): Promise<void> {
  const override = (c: CommandLike): void => {
    c.exitOverride();
    for (const sub of c.commands) override(sub);
  };
  override(program);
  try {
    await program.parseAsync(argv);
  } catch (e) {
    const err = e as { code?: string; exitCode?: number; message?: string };
    if (typeof err.code === "string" && err.code.startsWith("commander.")) {
      // commander has printed its message already.
      process.exitCode = err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
      return;
    }
    // Continuation lines are indented once (a message that indents its own, as a sweep spec's list of problems, keeps its indent).
    const lines = String(err.message ?? e).split("\n").map((l, i) => (i === 0 || l.startsWith("  ") ? l : `  ${l}`));
    process.stderr.write(`${name}: ${lines.join("\n")}\n`);
    process.exitCode = EXIT.USAGE;
  }
}
