/**
 * @mmemu/timing — hardware profiles (immutable, validated, derivable), and the TimingModel cost meter with
 * exact integer-ns accounting.
 */
export { CPU_COST_PARAMS, CPU_COST_SECTION, COST_PRICING, unpricedCostKinds, pricingOf } from "./cpu-costs.js";
export { TimingModel, PRICE_SCALE } from "./timing-model.js";
export {
  PROFILE_KEYS, profileSchema, profileFileSchema, ProfileError, profileProblems, resolveProfile, deriveProfile,
  profileToFile, getParam, paramSpec, withParams, withSchema,
} from "./profile.js";
export { loadProfile, profilePath, PROFILES_DIR, builtinProfileNames } from "./profiles.js";

export type { CpuCostName, CostPricing } from "./cpu-costs.js";
export type { CostBreakdownLine, CpuCopyFabric } from "./timing-model.js";
export type {
  HardwareProfile, ProfileDraft, ProfileFile, ProfileNode, ProfileEngine, ProfileCalibration,
} from "./profile.js";
