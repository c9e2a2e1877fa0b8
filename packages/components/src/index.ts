/**
 * @mmemu/components — what an emulated machine is built from: the built-in components' parameter
 * sections and the profile schema they make.
 */
export { BUILTIN_SECTIONS, BUILTIN_SCHEMA } from "./builtin.js";
