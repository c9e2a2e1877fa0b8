import test from "ava";
import { builtinProfileNames, loadProfile, profileToFile, resolveProfile } from "@mmemu/timing";
import { BUILTIN_SCHEMA } from "../src/index.js";

test("every shipped profile validates against the built-in components' sections and round-trips", (t) => {
  t.deepEqual(BUILTIN_SCHEMA.names, ["cpu", "dmaengine", "ptdma", "sdxi", "ae4dma", "fabric", "mtcopy"]);
  for (const name of builtinProfileNames()) {
    const p = loadProfile(name, BUILTIN_SCHEMA);
    t.deepEqual(resolveProfile(JSON.parse(JSON.stringify(profileToFile(p))), BUILTIN_SCHEMA), p, name);
  }
});
