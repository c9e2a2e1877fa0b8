import test from "ava";
import { dmatestEngine } from "@mmemu/dmaengine";
import { sdxiEngineModule } from "../src/index.js";

test("SDXI passes the dmatest conformance kit, memcpy_sg included", (t) => {
  const r = dmatestEngine(sdxiEngineModule, { inFlight: 32 });
  t.deepEqual(r.cases.filter((c) => c.status === "fail"), []);
  t.is(r.cases.filter((c) => c.test === "memcpy_sg" && c.status === "pass").length, r.channels.length, "memcpy_sg on every channel");
});
