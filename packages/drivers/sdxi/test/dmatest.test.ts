import test from "ava";
import { dmatestEngine, type DmaEngineModule } from "@mmemu/dmaengine";
import { createSdxiFunctions, SDXI_SECTION } from "../src/index.js";

const sdxiEngineModule: DmaEngineModule = {
  name: "sdxi", section: SDXI_SECTION,
  probe: (ctx) => createSdxiFunctions({ core: ctx.core, engine: ctx.dma, fabric: ctx.fabric, nodes: ctx.nodes, params: ctx.params, iommu: ctx.iommu }).map((e) => e.dma),
};

test("SDXI passes the dmatest conformance kit, memcpy_sg included", (t) => {
  const r = dmatestEngine(sdxiEngineModule, { inFlight: 32 });
  t.deepEqual(r.cases.filter((c) => c.status === "fail"), []);
  t.is(r.cases.filter((c) => c.test === "memcpy_sg" && c.status === "pass").length, r.channels.length, "memcpy_sg on every channel");
});
