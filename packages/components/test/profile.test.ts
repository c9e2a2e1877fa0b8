import test from "ava";
import { defineParamSection } from "@mmemu/kernel";
import { loadProfile, deriveProfile, getParam, profileProblems, ProfileError, resolveProfile, profileToFile, withParams, withSchema } from "@mmemu/timing";
import { BUILTIN_SCHEMA as schema, createMachine } from "../src/index.js";

const load = (name: string) => loadProfile(name, schema);

const base = load("zen3-ptdma-base");

test("a parameter out of range is reported by its name", (t) => {
  const bad = { ...profileToFile(base), ptdma: { chan_bw: -3 } };
  const problems = profileProblems(bad, schema);
  t.true(problems.some((p) => p.startsWith("ptdma.chan_bw:") && p.includes("outside")), problems.join("\n"));
});

test("an unknown parameter is reported with the known names", (t) => {
  const e = t.throws(() => resolveProfile({ ...profileToFile(base), cpu: { lru_cache_disabel: 5 } }, schema), { instanceOf: ProfileError });
  t.regex(e!.message, /cpu\.lru_cache_disabel: unknown parameter/);
});

test("a malformed field is reported by its path", (t) => {
  const file = profileToFile(base);
  const problems = profileProblems({ ...file, topology: { ...file.topology, nodes: [{ id: 0, socket: 0, cpus: "many", mem_gib: 1 }] } }, schema);
  t.true(problems.some((p) => p.startsWith("topology.nodes.0.cpus")), problems.join("\n"));
});

test("an engine on a missing node and a bad free name are reported", (t) => {
  const file = profileToFile(base);
  const problems = profileProblems({ ...file, topology: { ...file.topology, ptdma: [{ node: 7, quadrant: 0 }] }, free: ["ptdma.nope"] }, schema);
  t.true(problems.some((p) => p.startsWith("topology.ptdma.0.node")));
  t.true(problems.some((p) => p.startsWith('free: "ptdma.nope"')));
});

test("derive changes one value, leaves the base untouched, and the result is frozen", (t) => {
  const fast = deriveProfile(base, (p) => {
    p.params.ptdma.chan_bw = 20;
  });
  t.is(fast.params.ptdma.chan_bw, 20);
  t.is(base.params.ptdma.chan_bw, load("zen3-ptdma-base").params.ptdma.chan_bw);
  t.not(fast, base);
  t.is(fast.params.cpu, base.params.cpu, "untouched sections are shared");
  t.true(Object.isFrozen(fast) && Object.isFrozen(fast.params.ptdma) && Object.isFrozen(fast.topology.nodes[0]));
  t.throws(() => {
    (fast.params.ptdma as { chan_bw: number }).chan_bw = 1;
  });
});

test("derive validates the result", (t) => {
  const e = t.throws(() => withParams(base, { "fabric.xsocket_link_bw": 0 }), { instanceOf: ProfileError });
  t.regex(e!.message, /fabric\.xsocket_link_bw/);
});

test("a profile round-trips through its file form", (t) => {
  const again = resolveProfile(JSON.parse(JSON.stringify(profileToFile(base))), schema);
  t.deepEqual(again, base);
});

test("fit bounds must name a parameter and lie inside its declared range", (t) => {
  const file = profileToFile(base);
  t.deepEqual(profileProblems({ ...file, bounds: { "ptdma.chan_bw": [8, 20] } }, schema), []);
  const problems = profileProblems({ ...file, bounds: { "ptdma.chan_bw": [8, 500], "cpu.nope": [1, 2], "cpu.syscall": [5, 1] } }, schema);
  t.true(problems.some((p) => p.startsWith("bounds.ptdma.chan_bw:") && p.includes("[0.1, 200]")), problems.join("\n"));
  t.true(problems.some((p) => p.startsWith('bounds: "cpu.nope"')));
  t.true(problems.some((p) => p.startsWith("bounds.cpu.syscall:")));
  t.deepEqual(base.bounds["cpu.cpu_copy_bw"], [6, 20], "the shipped base declares plausible ranges");
});

test("a component's own section joins the profile without editing timing: defaults filled, --set-able, omitted from files while default", (t) => {
  const xdma = defineParamSection("xdma", "a plug-in engine", {
    chan_bw: { unit: "GB/s", default: 10, min: 1, max: 100, doc: "copy rate", source: "test" },
  });
  const wider = schema.with([xdma]);
  const p = withSchema(base, wider);
  t.is(p.params.xdma!.chan_bw, 10);
  t.is(p.params.ptdma!.chan_bw, base.params.ptdma!.chan_bw);
  t.is(profileToFile(p).xdma, undefined, "a section at its defaults is not written");
  const fast = withParams(p, { "xdma.chan_bw": 40 });
  t.deepEqual(profileToFile(fast).xdma, { chan_bw: 40 });
  t.throws(() => withParams(p, { "xdma.chan_bw": 400 }), { message: /xdma\.chan_bw: 400 GB\/s is outside \[1, 100\]/ });
  // A file written with the plug-in loaded names the section when read without it.
  const e = t.throws(() => resolveProfile(profileToFile(fast), schema), { instanceOf: ProfileError });
  t.regex(e!.message, /"xdma": not a profile key nor a parameter section of the loaded components \(sections: cpu, dmaengine, ptdma, sdxi, ae4dma, fabric, mtcopy\)/);
  t.is(getParam(fast, "xdma.chan_bw"), 40);
});
