/** js-yaml 3.x ships no types; sweep specs use its safe loader only. */
declare module "js-yaml" {
  const yaml: { safeLoad(text: string): unknown };
  export default yaml;
}
