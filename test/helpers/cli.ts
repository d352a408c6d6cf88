// Runs `chainwatch …` as a user does: the real bin in a separate process, importing the built dist/
// (`npm test` builds it first; while developing, `npm run build`).
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";

export const repoRoot = resolve(import.meta.dirname, "../..");
const bin = resolve(repoRoot, "bin/chainwatch.js");

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function chainwatch(
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<CliRun> {
  if (!existsSync(resolve(repoRoot, "dist/cli/main.js"))) {
    throw new Error("dist/ is missing: run `npm run build` first (npm test does)");
  }
  return new Promise((done) => {
    const child = execFile(
      process.execPath,
      [bin, ...args],
      { cwd: repoRoot, timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        // On a non-zero exit, execFile's error carries the exit code.
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
        done({ code, stdout, stderr });
      },
    );
    child.stdin?.end(opts.input ?? "");
  });
}
