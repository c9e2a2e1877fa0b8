/**
 * A module.register() resolve hook for plug-ins:
 * - `@mmemu/driver-kit` imported from anywhere (a plug-in file in /tmp, a scaffolded project) resolves
 *   as if imported from inside this package, so it names the same module URL as the emulator's own
 *   import and a plug-in shares the emulator's module instances;
 * - a TypeScript file outside node_modules is an ES module even with no package.json saying so
 *   (plug-ins `export default`; compiled as CommonJS they would load a second copy of the emulator).
 */
let parentURL;

export function initialize(data) {
  parentURL = data.parentURL;
}

export async function resolve(specifier, context, next) {
  if (specifier === "@mmemu/driver-kit" || specifier.startsWith("@mmemu/driver-kit/")) return next(specifier, { ...context, parentURL });
  const r = await next(specifier, context);
  if (r.url.startsWith("file:") && /\.(ts|tsx)$/.test(r.url) && !r.url.includes("/node_modules/") && r.format !== "module") {
    return { ...r, format: "module" };
  }
  return r;
}
