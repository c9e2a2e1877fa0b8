import test from "ava";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadProfile, profileToFile } from "@mmemu/timing";
import { BUILTIN_ENGINES, BUILTIN_MIGRATORS, createMachineWith, loadComponent, loadComponents, moduleProblem, PluginError } from "../src/index.js";

// Plug-in files live outside the repository, as a user's would.
const dir = mkdtempSync(join(tmpdir(), "mmemu-plugin-"));
const file = (name: string, text: string) => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
};

const ENGINE = `
import { defineEngine, defineParamSection, SoftDmaDevice } from "@mmemu/driver-kit";
export default defineEngine({
  kind: "engine", name: "toy", description: "soft memcpy channels, one device",
  params: defineParamSection("toy", "a test engine", {
    chan_bw: { unit: "GB/s", default: 5, min: 1, max: 50, doc: "copy rate", source: "test" },
  }),
  probe(ctx) {
    const d = new SoftDmaDevice(ctx.dmaengine, { name: "toy0", channels: 2, bandwidthGBps: ctx.params.chan_bw, private: true });
    ctx.dmaengine.dmaAsyncDeviceRegister(d);
    return [d];
  },
});
`;

test("built-ins are modules of the plug-in shape, found by name", async (t) => {
  for (const [name, m] of BUILTIN_ENGINES) t.is(moduleProblem({ default: m }, "engine"), null, name);
  for (const [name, m] of BUILTIN_MIGRATORS) t.is(moduleProblem({ default: m }, "migrator"), null, name);
  // Module parameters are part of the shape: a boolean or string default with a doc.
  const dcbm = BUILTIN_MIGRATORS.get("dcbm")!;
  t.regex(moduleProblem({ default: { ...dcbm, moduleParams: { fast: { doc: "x", default: 3 } } } }, "migrator") ?? "", /^export "default"\.moduleParams\.fast\.default: /);
  t.is((await loadComponent("ptdma", "engine")).module, BUILTIN_ENGINES.get("ptdma")!);
});

test("a plug-in file outside the repository imports @mmemu/driver-kit, and its section joins the profile and the machine", async (t) => {
  const f = file("toy.ts", ENGINE);
  const c = await loadComponents({ engines: [f] });
  t.deepEqual(c.selection.engines, [f]);
  t.deepEqual(c.files, [f]);
  t.true(c.schema.names.includes("toy"));
  const p = loadProfile("zen3-ptdma", c.schema);
  t.is(p.params.toy!.chan_bw, 5);
  const em = createMachineWith(p, c.engines, { pagesPerNode: 4096 });
  t.is(em.engines.get("toy")!.length, 1);
  t.deepEqual(em.dmaengine!.devices.map((d) => d.dev.name), ["toy0"], "only the selected engine is probed");
  // Without the plug-in, a profile file that sets its parameters is refused naming the section.
  const withToy = { ...profileToFile(p), toy: { chan_bw: 9 } };
  const builtin = await loadComponents({});
  t.false(builtin.schema.names.includes("toy"));
  t.throws(() => loadProfile(file("p.json", JSON.stringify(withToy)), builtin.schema), { message: /"toy": not a profile key nor a parameter section/ });
});

test("a wrong shape is one line naming the file, the export and what is missing, before anything runs", async (t) => {
  const cases: Array<[string, string, "engine" | "migrator", RegExp]> = [
    ["nodefault.ts", "export const probe = () => [];", "engine", /nodefault\.ts: export "default": missing \(the file must `export default defineEngine\(\{ \.\.\. \}\)`; it exports probe\)$/],
    ["noprobe.ts", `export default { kind: "engine", name: "np", description: "x" };`, "engine", /noprobe\.ts: export "default"\.probe: missing \(expected a function\)$/],
    ["kind.ts", ENGINE, "migrator", /kind\.ts: export "default": is an engine \(kind "engine"\), not a migrator$/],
    ["name.ts", ENGINE.replace('name: "toy"', 'name: "Toy!"'), "engine", /name\.ts: export "default"\.name: expected lower case letters/],
    ["section.ts", ENGINE.replace('defineParamSection("toy"', 'defineParamSection("other"'), "engine", /section\.ts: export "default"\.params\.name: "other" must be the module's name "toy"/],
    ["nomigload.ts", `export default { kind: "migrator", name: "m", description: "x", usesDma: false, enableAttr: "offloading" };`, "migrator", /nomigload\.ts: export "default"\.load: missing/],
  ];
  for (const [name, text, kind, re] of cases) {
    const e = await t.throwsAsync(loadComponent(file(name, text), kind), { instanceOf: PluginError });
    t.regex(e!.message, re, name);
    t.false(e!.message.includes("\n"), `${name}: one line`);
  }
  const text = await t.throwsAsync(loadComponent(file("notes.txt", "hello\n"), "migrator"), { instanceOf: PluginError });
  t.regex(text!.message, /^--migrator .*notes\.txt: not a TypeScript or JavaScript module \(expected a \.ts, /);
  const missing = await t.throwsAsync(loadComponent(join(dir, "absent.ts"), "engine"));
  t.regex(missing!.message, /^--engine .*absent\.ts: no such file/);
  const unknown = await t.throwsAsync(loadComponent("xdma9", "engine"));
  t.is(unknown!.message, `--engine "xdma9": not a built-in engine (ptdma, sdxi, ae4dma) nor a file (give a path such as ./xdma9.ts)`);
});

test("a plug-in that throws while loading is reported with its own stack frames", async (t) => {
  const f = file("throws.ts", `import { EIO } from "@mmemu/driver-kit";\nfunction init(): never {\n  throw new Error("no hardware " + EIO);\n}\ninit();\nexport default {};\n`);
  const e = await t.throwsAsync(loadComponent(f, "engine"), { instanceOf: PluginError });
  t.regex(e!.message, /cannot load .*throws\.ts: Error: no hardware 5/);
  t.regex(e!.message, new RegExp(`\\n\\s+at .*${f.replaceAll("/", "\\/").replaceAll(".", "\\.")}:3:`));
});

test("an engine whose probe throws is reported with the plug-in's own frames", async (t) => {
  const f = file("badprobe.ts", ENGINE.replace("const d = new SoftDmaDevice", "if (ctx.params.chan_bw > 0) throw new RangeError(\"no BAR\");\n    const d = new SoftDmaDevice"));
  const c = await loadComponents({ engines: [f] });
  const e = t.throws(() => createMachineWith(loadProfile("zen3-ptdma", c.schema), c.engines, { pagesPerNode: 4096 }), { instanceOf: PluginError });
  t.regex(e!.message, /^engine toy: probe threw: RangeError: no BAR\n\s+at .*badprobe\.ts:\d+:\d+/);
});
