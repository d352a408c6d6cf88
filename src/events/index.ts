export * from "./parse.js";
export * from "./path.js";
export * from "./schema.js";
