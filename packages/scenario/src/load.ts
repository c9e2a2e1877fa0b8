/**
 * Reading a scenario: JSON or YAML text -> zod schema -> the checks the schema cannot express (names
 * defined before use, address expressions, CPUs and nodes that exist). Any problem rejects the whole
 * file before anything runs, with the path of the offending field and what was expected there.
 */
import { readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { isPluginPath } from "@mmemu/components";
import yaml from "js-yaml";
import { ScenarioSchema, type Scenario } from "./schema.js";
import { checkScenario, type LimitOverrides } from "./check.js";

/** A scenario that cannot be run; `problems` are "path: what was expected" lines. */
export class ScenarioError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`${file}: invalid scenario\n  ${problems.join("\n  ")}`);
    this.name = "ScenarioError";
  }
}

/** JSON path of a zod issue path: steps[3].pages[1]. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out === "" ? "(top level)" : out;
}

/** Parse scenario text (JSON, or YAML when `yamlText`) and validate it; throws ScenarioError. */
export function parseScenario(text: string, file = "<scenario>", yamlText = /\.ya?ml$/i.test(file), overrides: LimitOverrides = {}): Scenario {
  let raw: unknown;
  // A UTF-8 byte order mark (some Windows editors write one) is not part of the text.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (yamlText) {
    const tab = tabIndent(text);
    if (tab !== 0) throw new ScenarioError(file, [`line ${tab}: indented with a tab; YAML indentation must be spaces`]);
  }
  try {
    raw = yamlText ? yaml.safeLoad(text) : JSON.parse(text);
  } catch (e) {
    throw new ScenarioError(file, [`not valid ${yamlText ? "YAML" : "JSON"}: ${(e as Error).message.split("\n")[0]}`]);
  }
  return validateScenario(raw, file, overrides);
}

/** The first line (1-based) whose indentation contains a tab, or 0. */
function tabIndent(text: string): number {
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) if (/^ *\t/.test(lines[i]!)) return i + 1;
  return 0;
}

/** Validate an already-parsed object; throws ScenarioError. */
export function validateScenario(raw: unknown, file = "<scenario>", overrides: LimitOverrides = {}): Scenario {
  const r = ScenarioSchema.safeParse(raw);
  if (!r.success) throw new ScenarioError(file, r.error.issues.flatMap((i) => describeIssue(i, [])));
  const problems = checkScenario(r.data, overrides);
  if (problems.length > 0) throw new ScenarioError(file, problems);
  return r.data;
}

/** Scenario files larger than this are refused before reading (the largest shipped one is ~20 KiB). */
export const MAX_SCENARIO_BYTES = 16 << 20;

/** Read and validate a scenario file (.json, .yaml or .yml); throws ScenarioError. */
export function loadScenarioFile(path: string, overrides: LimitOverrides = {}): Scenario {
  let bytes: Buffer;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new ScenarioError(path, ["is a directory, not a scenario file"]);
    if (st.size > MAX_SCENARIO_BYTES) throw new ScenarioError(path, [`${st.size} bytes: larger than the ${MAX_SCENARIO_BYTES}-byte limit for a scenario file`]);
    bytes = readFileSync(path);
  } catch (e) {
    if (e instanceof ScenarioError) throw e;
    throw new ScenarioError(path, [`cannot read the file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`]);
  }
  const s = parseScenario(decodeText(bytes, path), path, undefined, overrides);
  // Plug-in files and profile files are named relative to the scenario that names them.
  const here = dirname(resolve(path));
  const rel = (x: string) => (isPluginPath(x) ? resolve(here, x) : x);
  const mc = s.machine as { profile?: string; migrator?: string; engines?: string[] };
  if (mc.profile !== undefined && (mc.profile.includes("/") || mc.profile.endsWith(".json"))) mc.profile = resolve(here, mc.profile);
  if (mc.migrator !== undefined) mc.migrator = rel(mc.migrator);
  if (mc.engines !== undefined) mc.engines = mc.engines.map(rel);
  return s;
}

/** The file's text: UTF-8 (with or without a BOM); UTF-16 and other binary content are refused by name. */
function decodeText(b: Buffer, path: string): string {
  if ((b[0] === 0xff && b[1] === 0xfe) || (b[0] === 0xfe && b[1] === 0xff)) {
    throw new ScenarioError(path, ["the file is UTF-16 encoded; save it as UTF-8"]);
  }
  // UTF-16 without a BOM: every other byte of ASCII text is zero.
  const probe = b.subarray(0, 64);
  let zeros = 0;
  for (const x of probe) if (x === 0) zeros++;
  if (probe.length >= 4 && zeros * 3 >= probe.length) throw new ScenarioError(path, ["the file looks UTF-16 encoded (NUL bytes between characters); save it as UTF-8"]);
  if (b.includes(0)) throw new ScenarioError(path, ["the file contains NUL bytes: not a text file"]);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(b);
  } catch {
    throw new ScenarioError(path, ["the file is not valid UTF-8 text"]);
  }
}

interface Issue {
  readonly code: string;
  readonly message: string;
  readonly path: ReadonlyArray<PropertyKey>;
  readonly keys?: readonly string[];
  readonly errors?: ReadonlyArray<readonly Issue[]>;
}

/**
 * One issue as "path: problem" lines. A value that matches no alternative of a union is reported by the
 * alternative it got furthest into (["MOVE", "FAST"] is an array with a bad element, not "not a number").
 */
function describeIssue(i: Issue, prefix: ReadonlyArray<PropertyKey>): string[] {
  const path = [...prefix, ...i.path];
  if (i.code === "invalid_union" && i.errors !== undefined && i.errors.length > 0) {
    let best: readonly Issue[] | null = null;
    let bestDepth = -1;
    for (const branch of i.errors) {
      if (branch.length === 0) continue;
      const shallowTypeMiss = branch.every((b) => b.path.length === 0 && b.code === "invalid_type");
      const depth = shallowTypeMiss ? -0.5 : Math.max(...branch.map((b) => b.path.length));
      if (depth > bestDepth) {
        best = branch;
        bestDepth = depth;
      }
    }
    if (best !== null && bestDepth >= 0) return best.flatMap((b) => describeIssue(b, path));
    // Every alternative failed on the type of the value itself: list what would have been accepted.
    const expected = [...new Set(i.errors.flat().map((b) => (b as { expected?: string }).expected).filter((x) => x !== undefined))];
    if (expected.length > 0) return [`${formatPath(path)}: expected ${expected.join(" or ")}`];
  }
  return [`${formatPath(path)}: ${issueText(i)}`];
}

function issueText(i: { message: string; code: string; keys?: readonly string[] | undefined }): string {
  if (i.code === "unrecognized_keys" && i.keys) return `unknown field${i.keys.length > 1 ? "s" : ""} ${i.keys.map((k) => `"${k}"`).join(", ")}`;
  return i.message.replace(/^Invalid input: /, "");
}
