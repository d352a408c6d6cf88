export * from "./compile.js";
export type * from "./compiled.js";
export { parseDuration } from "./duration.js";
export { formatIssue, type PatternIssue, PatternLoadError } from "./errors.js";
export { compileGlob } from "./glob.js";
export * from "./loader.js";
export { compileWhere, jsonEquals } from "./predicate.js";
export { type PatternFile, patternSchema, type TaxonomyFile, taxonomySchema } from "./schema.js";
export { CompiledTaxonomy } from "./taxonomy.js";
