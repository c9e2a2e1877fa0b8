import { EAGAIN } from "@mmemu/kernel";

/**
 * Module references, after kernel/module/main.c: try_module_get() pins a module so its code cannot be
 * unloaded while someone may still call it; module_put() drops the pin. A migrator names its owner
 * module, and the registration core pins it for as long as the migrator is installed.
 */

/** The states of struct module that matter here (MODULE_STATE_LIVE / MODULE_STATE_GOING). */
export type ModuleState = "live" | "going";

/** Mirrors struct module: a name, a reference count and a state. */
export class Module {
  /** References taken with try_module_get() and not yet put. */
  refcnt = 0;
  /** "going" once rmmod has started: new references are refused. */
  state: ModuleState = "live";

  constructor(readonly name: string) {
    if (name.length === 0 || name.length >= MODULE_NAME_LEN) throw new RangeError(`module name must be 1..${MODULE_NAME_LEN - 1} characters, got ${JSON.stringify(name)}`);
  }
}

/** Mirrors MODULE_NAME_LEN (64 - sizeof(unsigned long)). */
export const MODULE_NAME_LEN = 56;

/** Mirrors try_module_get(): false when the module is being unloaded. A null module (built-in code) always succeeds. */
export function tryModuleGet(mod: Module | null): boolean {
  if (mod === null) return true;
  if (mod.state !== "live") return false;
  mod.refcnt++;
  return true;
}

/** Mirrors module_put(). Dropping a reference nobody holds is a bug and throws. */
export function modulePut(mod: Module | null): void {
  if (mod === null) return;
  if (mod.refcnt <= 0) throw new Error(`module_put(${mod.name}): no reference is held`);
  mod.refcnt--;
}

/** Mirrors module_refcount(). */
export function moduleRefcount(mod: Module): number {
  return mod.refcnt;
}

/**
 * The first step of delete_module(2): refuse while references are held (-EWOULDBLOCK, which is
 * -EAGAIN), else mark the module going so that no new reference can be taken. Returns 0 or -errno.
 */
export function moduleBeginUnload(mod: Module): number {
  if (mod.refcnt > 0) return -EAGAIN;
  mod.state = "going";
  return 0;
}
