import test from "ava";
import { fileURLToPath } from "node:url";
import { buildProgram } from "../src/index.js";

const run = (args: string[]) => buildProgram().exitOverride().parseAsync(["node", "mmemu", ...args]);

/** Run in-process; what it printed and the exit code it set. */
async function capture(args: string[]): Promise<{ out: string; code: number | undefined }> {
  const lines: string[] = [];
  const orig = console.log;
  const code0 = process.exitCode;
  process.exitCode = undefined;
  console.log = (...a: unknown[]) => void lines.push(a.join(" "));
  try {
    await run(args);
    return { out: lines.join("\n"), code: process.exitCode as number | undefined };
  } finally {
    console.log = orig;
    process.exitCode = code0;
  }
}

test.serial("dmatest --engine ptdma: every check on every channel of the profile's functions, PASSED, exit code untouched", async (t) => {
  const { out, code } = await capture(["dmatest", "--engine", "ptdma", "--in-flight", "8"]);
  t.regex(out, /^dmatest ptdma: 16 channel\(s\) \(dma0chan0, dma1chan0, /);
  for (const check of ["memcpy", "in-flight", "polled", "terminate", "fault ptdma.hang"]) t.regex(out, new RegExp(`^(PASS|WARN) ${check.replace(".", "\\.")} +dma0chan0`, "m"));
  t.regex(out, /\nPASSED: \d+ passed, 0 failed, \d+ warnings, \d+ skipped$/);
  t.is(code, undefined);
});

test.serial("dmatest takes a plug-in engine file: the guide's xdma passes", async (t) => {
  const xdma = fileURLToPath(new URL("../../../examples/plugins/xdma.ts", import.meta.url));
  const { out, code } = await capture(["dmatest", "--engine", xdma, "--in-flight", "8"]);
  t.regex(out, /^dmatest xdma: \d+ channel\(s\)/);
  t.regex(out, /\nPASSED: \d+ passed, 0 failed/);
  t.is(code, undefined);
});

test("bad dmatest arguments are refused in one line naming the option", async (t) => {
  await t.throwsAsync(run(["dmatest", "--engine", "nope"]), { message: /^--engine "nope": not a built-in engine \(ptdma, sdxi, ae4dma\) nor a file/ });
  await t.throwsAsync(run(["dmatest", "--engine", "ae4dma", "--in-flight", "0"]), { message: '--in-flight: expected a whole number from 1 to 1024, got "0"' });
  await t.throwsAsync(run(["dmatest", "--engine", "ae4dma", "--set", "ae4dma.max_hw_q=17"]), { message: /ae4dma\.max_hw_q/ });
  await t.throwsAsync(run(["dmatest", "--engine", "ptdma", "--set", "ptdma.functions_per_node=0"]), { message: /no parameter "ptdma\.functions_per_node"/ });
  await t.throwsAsync(run(["dmatest", "--engine", "ae4dma", "--set", "ae4dma.functions_per_node=0"]), { message: "--engine ae4dma: profile zen3-ptdma-base+ae4dma.functions_per_node=0 places no ae4dma device (choose a --profile that does, or --set its placement)" });
});
