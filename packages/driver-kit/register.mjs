/**
 * For code outside the repository (a plug-in's own tests, its package.json "test" script):
 *   node --import /path/to/mmemu/packages/driver-kit/register.mjs --test test/*.test.ts
 * runs TypeScript (tsx's loader) and resolves `@mmemu/driver-kit` to this checkout, with no install.
 */
import { register } from "node:module";
import { register as registerTsx } from "tsx/esm/api";

registerTsx();
register("./src/resolve-hook.mjs", import.meta.url, { data: { parentURL: import.meta.url } });
