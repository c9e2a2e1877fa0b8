/**
 * Registering the copy-offload migrator for a dcbm point. Until @mmemu/dcbm lands this fails loudly.
 */
import type { EmulatedMachine } from "@mmemu/timing";

export function attachOffload(_em: EmulatedMachine, _channels: number): void {
  throw new Error("dcbm points need @mmemu/dcbm, which is not in the tree yet");
}
