import test from "ava";
import { defineParamSection, ParamSchema, sectionValues, type ParamTable } from "@mmemu/kernel";

const table = {
  chan_bw: { unit: "GB/s", default: 10, min: 1, max: 100, doc: "copy rate", source: "test" },
  irq_latency: { unit: "ns", default: 500, min: 0, max: 10_000, integer: true, doc: "interrupt delivery", source: "test" },
} as const satisfies ParamTable;

/** A stand-in for the platform's fabric section (the kernel package cannot import the platform). */
const FABRIC_SECTION = defineParamSection("fabric", "a test fabric", {
  node_mem_bw: { unit: "GB/s", default: 150, min: 1, max: 2000, doc: "memory bandwidth", source: "test" },
});

test("a section names its parameters and a schema finds them by section.name", (t) => {
  const xdma = defineParamSection("xdma", "a test engine", table);
  const schema = new ParamSchema([FABRIC_SECTION, xdma]);
  t.deepEqual(schema.names, ["fabric", "xdma"]);
  t.is(schema.spec("xdma.chan_bw")?.default, 10);
  t.is(schema.spec("xdma.nope"), undefined);
  t.is(schema.spec("xdma.chan_bw.x"), undefined);
  t.is(schema.spec("xdma.toString"), undefined, "inherited object properties are not parameters");
  t.is(schema.stageOf("xdma.chan_bw"), "dma");
  t.is(sectionValues({ xdma: { chan_bw: 3, irq_latency: 1 } }, xdma).chan_bw, 3);
  t.throws(() => sectionValues({}, xdma), { message: /no values for parameter section "xdma"/ });
});

test("schemas are values: extending one leaves it unchanged, so what one test loads never leaks into another", (t) => {
  const base = new ParamSchema([FABRIC_SECTION]);
  const more = base.with([defineParamSection("xdma", "a test engine", table)]);
  t.deepEqual(base.names, ["fabric"]);
  t.deepEqual(more.names, ["fabric", "xdma"]);
  t.deepEqual(base.with([FABRIC_SECTION]).names, ["fabric"], "the same section twice counts once");
});

test("bad declarations are refused with a message naming them", (t) => {
  t.throws(() => defineParamSection("X-dma", "bad", table), { message: /parameter section "X-dma": the name must match/ });
  t.throws(() => defineParamSection("xdma", "bad", { a: { ...table.chan_bw, default: 1000 } }), { message: /xdma\.a: default 1000 is outside \[1, 100\]/ });
  t.throws(() => defineParamSection("xdma", "bad", { b: { ...table.irq_latency, default: 0.5 } }), { message: /xdma\.b: integer parameter/ });
  const a = defineParamSection("xdma", "one", table);
  const b = defineParamSection("xdma", "another", table);
  t.throws(() => new ParamSchema([a, b]), { message: /"xdma" is declared twice \("one" and "another"\)/ });
  t.throws(() => new ParamSchema([defineParamSection("topology", "x", table)], ["name", "topology"]), { message: /"topology": the name is reserved/ });
});
