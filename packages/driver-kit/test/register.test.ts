import test from "ava";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as kit from "../src/index.js";

const register = fileURLToPath(new URL("../register.mjs", import.meta.url));

test("node --import register.mjs runs TypeScript outside the repository with @mmemu/driver-kit resolved", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "mmemu-kit-"));
  const f = join(dir, "probe.ts");
  writeFileSync(f, `import { PAGE_SIZE, defineParamSection, DMA_MEMCPY } from "@mmemu/driver-kit";\nconst s: number = PAGE_SIZE;\nconsole.log(s, DMA_MEMCPY, defineParamSection("x", "d", {}).name);\n`);
  const r = spawnSync(process.execPath, ["--import", register, f], { encoding: "utf8", cwd: dir });
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout.trim(), `4096 ${kit.DMA_MEMCPY} x`);
});

test("the kit exports what the guides' plug-ins use, from one entry", (t) => {
  for (const name of ["defineEngine", "defineMigrator", "defineParamSection", "VirtDmaChan", "vchanCookieComplete", "Fabric", "dmaMapSgtable", "migrateOffloadRegister", "Module", "kstrtouint", "FaultPoint", "Tracepoint"] as const) {
    t.is(typeof (kit as Record<string, unknown>)[name], "function", name);
  }
  const e = kit.defineEngine({ kind: "engine", name: "e", description: "d", probe: () => [] });
  t.true(Object.isFrozen(e));
});
