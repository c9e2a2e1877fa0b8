import test from "ava";
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

test("dmatest --engine ptdma: every check on both channels, PASSED, exit code untouched", async (t) => {
  const { out, code } = await capture(["dmatest", "--engine", "ptdma", "--in-flight", "8"]);
  t.regex(out, /^dmatest ptdma: 2 channel\(s\) \(dma0chan0, dma1chan0\)/);
  for (const check of ["memcpy", "in-flight", "polled", "terminate", "fault ptdma.hang"]) t.regex(out, new RegExp(`^(PASS|WARN) ${check.replace(".", "\\.")} +dma0chan0`, "m"));
  t.regex(out, /\nPASSED: \d+ passed, 0 failed, \d+ warnings, \d+ skipped$/);
  t.is(code, undefined);
});

test("bad dmatest arguments are refused in one line naming the option", async (t) => {
  await t.throwsAsync(run(["dmatest", "--engine", "xdma"]), { message: '--engine "xdma" is not a built-in engine (ptdma, sdxi, ae4dma)' });
  await t.throwsAsync(run(["dmatest", "--engine", "ae4dma", "--in-flight", "0"]), { message: '--in-flight must be a whole number from 1 to 1024, got "0"' });
  await t.throwsAsync(run(["dmatest", "--engine", "ae4dma", "--set", "max_hw_q=17"]), { message: "--set max_hw_q=17: must be an integer in [1, 16] count" });
  await t.throwsAsync(run(["dmatest", "--engine", "ae4dma", "--set", "nope=1"]), { message: /^--set nope: ae4dma has no such parameter \(known: max_hw_q, / });
});
