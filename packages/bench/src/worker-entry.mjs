/**
 * The pool's worker entry. Piscina first tries require() on a task file, and under Node 20 tsx loads
 * TypeScript into a worker thread only through its CommonJS hook (its ESM hooks register on the main
 * thread alone), so the whole emulator used to be compiled to CommonJS in the workers, where every
 * imported binding (PAGE_SIZE, PG, Cost, ...) is a getter on an export object: the seed benchmark's
 * points ran 3-4x slower in the pool than in the main thread. Here the worker registers tsx's ESM
 * hooks itself and imports the task as ES modules. The top-level await makes piscina's require()
 * attempt fail, so it falls back to import() of this file. Results are the same either way.
 */
import { register } from "tsx/esm/api";

register();
const { default: runPointTask } = await import("./worker.ts");
export default runPointTask;
