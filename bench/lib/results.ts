import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** What every results file records about the machine it ran on (cli.md: benchmarks). */
export function machine(): { cores: number; memory: number; node: string; node_flags: string[] } {
  // The V8 flags the run had (e.g. the young generation size, which moves these figures a lot).
  const flags = process.execArgv.filter((a, i, all) => a !== "--import" && all[i - 1] !== "--import");
  return { cores: availableParallelism(), memory: totalmem(), node: process.version, node_flags: flags };
}

const resultsDir = join(dirname(fileURLToPath(import.meta.url)), "..", "results");

/** Writes bench/results/<name>.json: one flat object of named figures plus `machine` and `at`. */
export function writeResults(name: string, result: object): string {
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}
