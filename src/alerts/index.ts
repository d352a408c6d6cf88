export * from "./build.js";
export * from "./schema.js";
export * from "./summary.js";
export type * from "./types.js";
