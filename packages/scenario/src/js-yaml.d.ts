/** The part of js-yaml 3.x scenarios use (the package ships no types). */
declare module "js-yaml" {
  /** Parse one YAML document with the safe schema (no custom tags). */
  export function safeLoad(text: string): unknown;
  const yaml: { safeLoad(text: string): unknown };
  export default yaml;
}
