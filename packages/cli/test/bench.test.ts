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

test("bad tune-batch and bench arguments are refused with the argument named, before anything runs", async (t) => {
  const run = (args: string[]) => buildProgram().exitOverride().parseAsync(["node", "mmemu", ...args]);
  await t.throwsAsync(run(["tune-batch", "--folio", "2M", "--channels", "17", "--budget-us", "500"]), { message: /--channels must be a whole number from 1 to 16 .* got "17"/ });
  await t.throwsAsync(run(["tune-batch", "--folio", "2M", "--channels", "4", "--budget-us", "abc"]), { message: /--budget-us must be a positive number of microseconds, got "abc"/ });
  await t.throwsAsync(run(["tune-batch", "--folio", "3M", "--channels", "4", "--budget-us", "500"]), { message: /--folio must be one of 4K, 16K/ });
  await t.throwsAsync(run(["bench", "seed", "--threads", "0x"]), { message: /--threads must be a whole number from 1 to 256, got "0x"/ });
});
