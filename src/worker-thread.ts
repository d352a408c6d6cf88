import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

/**
 * Starts the worker module `name` (without extension) next to the module at `here` (its
 * `import.meta.url`): the built `.js` in `dist/`. From the TypeScript sources (tsx, vitest) a worker
 * must load `.ts`, and on Node 20 a worker does not inherit the module hooks of the thread that
 * started it (privatenumber/tsx#354), so it registers tsx itself first.
 */
export function startWorkerNextTo(here: string, name: string, workerData: unknown): Worker {
  if (!here.endsWith(".ts")) return new Worker(new URL(`./${name}.js`, here), { workerData });
  const require = createRequire(here);
  const tsxPackage = require.resolve("tsx/package.json");
  const tsxApi = (require("tsx/package.json") as { exports: Record<string, { import: { default: string } }> })
    .exports["./esm/api"]!.import.default;
  const api = new URL(tsxApi, pathToFileURL(tsxPackage)).href;
  const entry = new URL(`./${name}.ts`, here).href;
  const code = `import(${JSON.stringify(api)}).then((tsx) => (tsx.register(), import(${JSON.stringify(entry)})))`;
  return new Worker(code, { eval: true, workerData });
}
