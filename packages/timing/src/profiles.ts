/**
 * Shipped profiles live as JSON files in packages/timing/profiles/; a name resolves to
 * profiles/<name>.json, anything containing a slash or ending in .json is a path.
 */
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ParamSchema } from "@mmemu/kernel";
import { ProfileError, resolveProfile, type HardwareProfile } from "./profile.js";

export const PROFILES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "profiles");

/** Names of the shipped profiles. */
export function builtinProfileNames(): string[] {
  return readdirSync(PROFILES_DIR).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5)).sort();
}

/** The file a profile name or path refers to. */
export function profilePath(nameOrPath: string): string {
  if (nameOrPath.includes("/") || nameOrPath.endsWith(".json")) return resolve(nameOrPath);
  return join(PROFILES_DIR, `${nameOrPath}.json`);
}

/** Load, validate (against the loaded components' sections) and freeze a profile by name or path. */
export function loadProfile(nameOrPath: string, schema: ParamSchema): HardwareProfile {
  const file = profilePath(nameOrPath);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new Error(`profile "${nameOrPath}": cannot read ${file} (shipped: ${builtinProfileNames().join(", ")})`);
  }
  // A UTF-8 byte order mark is not part of the JSON text.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.includes("\0")) throw new Error(`profile "${nameOrPath}": ${file} is not UTF-8 text (UTF-16? save it as UTF-8)`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`profile "${nameOrPath}": ${file} is not JSON (${(e as Error).message})`);
  }
  try {
    return resolveProfile(json, schema);
  } catch (e) {
    // Name the file as well as the fields: "profile.json: invalid hardware profile ...: ptdma.chan_bw: ...".
    if (e instanceof ProfileError) throw new ProfileError(e.profile, e.problems, file);
    throw e;
  }
}
