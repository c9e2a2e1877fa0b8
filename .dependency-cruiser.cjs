/**
 * Import rules of the workspace, checked by `pnpm test` (scripts/test-all.mjs runs `pnpm run depcheck`
 * before the package tests) so CI keeps them:
 *
 *  - no value-level import cycle anywhere; a cycle made only of `import type` edges is allowed, since it
 *    vanishes at run time;
 *  - packages form layers and never import upward (a package may import its own layer's peers only
 *    where LAYERS says so, see SAME_LAYER_OK);
 *  - every workspace package directory is placed in LAYERS, so a new package cannot slip past the rule.
 *
 * A package is named by its directory under packages/ (or `test`, the integration tests).
 */

/** Lowest first. A package may import packages of its own or any lower layer. */
const LAYERS = [
  ["kernel"],
  ["trace"],
  ["mm-core"],
  ["platform"],
  ["test-support"],
  ["dmaengine", "offload-api", "syscalls/move_pages"],
  ["timing"],
  ["driver-kit"],
  ["drivers/ptdma", "drivers/sdxi", "drivers/ae4dma", "migrators/mtcopy", "migrators/dcbm"],
  ["components"],
  ["scenario", "bench"],
  ["cli"],
  ["@test"],
];

/** Source path prefix of a package (its src/, test/ and bench/ trees). */
const dir = (pkg) => (pkg === "@test" ? "^test/" : `^packages/${pkg}/`);
const esc = (s) => s.replace(/[/]/g, "[/]");
const anyOf = (pkgs) => pkgs.map((p) => esc(dir(p))).join("|");

const upward = [];
for (let i = 0; i < LAYERS.length - 1; i++) {
  const above = LAYERS.slice(i + 1).flat();
  for (const pkg of LAYERS[i]) {
    upward.push({
      name: "no-upward-import",
      comment: `${pkg} is in layer ${i}; it must not import ${above.join(", ")}`,
      severity: "error",
      from: { path: esc(dir(pkg)) },
      to: { path: anyOf(above) },
    });
  }
}

/** Same-layer imports that are part of the design (a migrator built on a dmaengine driver's tests). */
const SAME_LAYER_OK = [["migrators/dcbm", "drivers/ptdma"]];
const sameLayer = [];
for (const layer of LAYERS) {
  for (const pkg of layer) {
    const peers = layer.filter((p) => p !== pkg && !SAME_LAYER_OK.some(([a, b]) => a === pkg && b === p));
    if (peers.length === 0) continue;
    sameLayer.push({
      name: "no-sideways-import",
      comment: `${pkg} must not import its layer peers ${peers.join(", ")}`,
      severity: "error",
      from: { path: esc(dir(pkg)) },
      to: { path: anyOf(peers) },
    });
  }
}

module.exports = {
  forbidden: [
    {
      name: "no-value-cycle",
      comment: "A value-level import cycle (type-only edges excluded): module initialisation order decides what is undefined.",
      severity: "error",
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ["type-only"] } },
    },
    {
      name: "package-in-a-layer",
      comment: "Every workspace package has a place in LAYERS of .dependency-cruiser.cjs.",
      severity: "error",
      from: { path: "^(packages|test)/", pathNot: anyOf(LAYERS.flat()) },
      to: {},
    },
    ...upward,
    ...sameLayer,
    {
      name: "not-to-unresolvable",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)node_modules/|\\.d\\.ts$" },
    // Workspace sources, plus "@mmemu/..." so an import of a package not declared as a dependency (it
    // does not resolve under pnpm) is reported by not-to-unresolvable.
    includeOnly: "^(packages|test)/|^@mmemu/",
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.base.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".js", ".mjs", ".cjs", ".json"],
    },
  },
};
