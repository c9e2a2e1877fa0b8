import test from "ava";
import { buildProgram } from "../src/index.js";

test("bench, calibrate and tune-batch are registered with their options", (t) => {
  const program = buildProgram();
  const names = program.commands.map((c) => c.name());
  for (const n of ["run", "bench", "calibrate", "tune-batch"]) t.true(names.includes(n), `${n} in ${names.join(", ")}`);
  const bench = program.commands.find((c) => c.name() === "bench")!;
  t.deepEqual(bench.commands.map((c) => c.name()).sort(), ["predict", "seed", "speed"]);
  const cal = program.commands.find((c) => c.name() === "calibrate")!;
  t.true(cal.options.some((o) => o.long === "--stages"));
});
