import test from "ava";
import { deriveProfile, loadProfile, profileProblems, ProfileError, resolveProfile, profileToFile, withParams } from "../src/index.js";

const base = loadProfile("zen3-ptdma-base");

test("a parameter out of range is reported by its name", (t) => {
  const bad = { ...profileToFile(base), ptdma: { chan_bw: -3 } };
  const problems = profileProblems(bad);
  t.true(problems.some((p) => p.startsWith("ptdma.chan_bw:") && p.includes("outside")), problems.join("\n"));
});

test("an unknown parameter is reported with the known names", (t) => {
  const e = t.throws(() => resolveProfile({ ...profileToFile(base), cpu: { lru_cache_disabel: 5 } }), { instanceOf: ProfileError });
  t.regex(e!.message, /cpu\.lru_cache_disabel: unknown parameter/);
});

test("a malformed field is reported by its path", (t) => {
  const file = profileToFile(base);
  const problems = profileProblems({ ...file, topology: { ...file.topology, nodes: [{ id: 0, socket: 0, cpus: "many", mem_gib: 1 }] } });
  t.true(problems.some((p) => p.startsWith("topology.nodes.0.cpus")), problems.join("\n"));
});

test("an engine on a missing node and a bad free name are reported", (t) => {
  const file = profileToFile(base);
  const problems = profileProblems({ ...file, topology: { ...file.topology, ptdma: [{ node: 7, quadrant: 0 }] }, free: ["ptdma.nope"] });
  t.true(problems.some((p) => p.startsWith("topology.ptdma.0.node")));
  t.true(problems.some((p) => p.startsWith('free: "ptdma.nope"')));
});

test("derive changes one value, leaves the base untouched, and the result is frozen", (t) => {
  const fast = deriveProfile(base, (p) => {
    p.ptdma.chan_bw = 20;
  });
  t.is(fast.ptdma.chan_bw, 20);
  t.is(base.ptdma.chan_bw, loadProfile("zen3-ptdma-base").ptdma.chan_bw);
  t.not(fast, base);
  t.is(fast.cpu, base.cpu, "untouched sections are shared");
  t.true(Object.isFrozen(fast) && Object.isFrozen(fast.ptdma) && Object.isFrozen(fast.topology.nodes[0]));
  t.throws(() => {
    (fast.ptdma as { chan_bw: number }).chan_bw = 1;
  });
});

test("derive validates the result", (t) => {
  const e = t.throws(() => withParams(base, { "fabric.xsocket_link_bw": 0 }), { instanceOf: ProfileError });
  t.regex(e!.message, /fabric\.xsocket_link_bw/);
});

test("a profile round-trips through its file form", (t) => {
  const again = resolveProfile(JSON.parse(JSON.stringify(profileToFile(base))));
  t.deepEqual(again, base);
});

test("fit bounds must name a parameter and lie inside its declared range", (t) => {
  const file = profileToFile(base);
  t.deepEqual(profileProblems({ ...file, bounds: { "ptdma.chan_bw": [8, 20] } }), []);
  const problems = profileProblems({ ...file, bounds: { "ptdma.chan_bw": [8, 500], "cpu.nope": [1, 2], "cpu.syscall": [5, 1] } });
  t.true(problems.some((p) => p.startsWith("bounds.ptdma.chan_bw:") && p.includes("[0.1, 200]")), problems.join("\n"));
  t.true(problems.some((p) => p.startsWith('bounds: "cpu.nope"')));
  t.true(problems.some((p) => p.startsWith("bounds.cpu.syscall:")));
  t.deepEqual(base.bounds["cpu.cpu_copy_bw"], [6, 20], "the shipped base declares plausible ranges");
});
