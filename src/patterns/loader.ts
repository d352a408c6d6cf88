import { existsSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { checkPattern, unknownCategories } from "./check.js";
import { compilePattern, makePatternSet } from "./compile.js";
import type { PatternSet } from "./compiled.js";
import { type PatternIssue, PatternLoadError, zodIssues } from "./errors.js";
import { JsonTextError, parseJsonText } from "./json-text.js";
import { type PatternFile, patternSchema, type TaxonomyFile, taxonomySchema } from "./schema.js";
import { CompiledTaxonomy } from "./taxonomy.js";

/** `<package root>/patterns`: the same two levels up from src/patterns (tsx, vitest) and dist/patterns. */
export const BUILTIN_PATTERNS_DIR = fileURLToPath(new URL("../../patterns", import.meta.url));

export const TAXONOMY_FILE_NAME = "taxonomy.json";

export interface JsonSource {
  json: unknown;
  /** File name shown in messages; fixture paths are resolved against its directory. */
  source: string;
}

export interface LoadOptions {
  /** Files or directories (read recursively for *.json); none = the built-in library. */
  patterns?: string[];
  /** Taxonomy files (or directories of them), merged with any taxonomy.json found among the patterns. */
  taxonomies?: string[];
  /**
   * Also report `tests[].events` fixtures that do not exist (`patterns validate|test`). Off by default:
   * a deployment without its fixtures must still detect.
   */
  checkFixtures?: boolean;
}

/** A loaded and checked set, with what it was read from (for summaries). */
export interface LoadedPatternSet extends PatternSet {
  taxonomyFiles: string[];
  /** Not errors, worth a look: categories no loaded taxonomy defines (only when one is loaded). */
  warnings: PatternIssue[];
  /** The JSON it was built from: `patternSetFromJson` builds the same set again (in another thread). */
  sources: { patterns: JsonSource[]; taxonomies: JsonSource[] };
}

/**
 * Reads, validates, checks and compiles a pattern set. All or nothing: on any problem it throws a
 * `PatternLoadError` listing every problem of every file.
 */
export async function loadPatternSet(opts: LoadOptions = {}): Promise<LoadedPatternSet> {
  const patternPaths = opts.patterns?.length ? opts.patterns : [BUILTIN_PATTERNS_DIR];
  const issues: PatternIssue[] = [];
  const seen = new Set<string>();
  const patterns: JsonSource[] = [];
  const taxonomies: JsonSource[] = [];
  const order: string[] = [];

  // Files are named in messages as the user named them (a directory's files under the directory as
  // given); the built-in library, which nobody named, relative to the working directory.
  const builtin = !opts.patterns?.length;
  const nameOf = (file: string) =>
    builtin && file.startsWith(BUILTIN_PATTERNS_DIR) ? displayName(resolve(file)) : file;
  const read = async (file: string, kind: "auto" | "taxonomy") => {
    const abs = resolve(file);
    if (seen.has(abs)) return;
    seen.add(abs);
    const shown = nameOf(file);
    order.push(shown);
    let json: unknown;
    try {
      json = parseJsonText(await readFile(abs, "utf8"));
    } catch (err) {
      issues.push({ file: shown, path: "", message: readProblem(err) });
      return;
    }
    if (kind === "taxonomy" || isTaxonomy(abs, json)) taxonomies.push({ json, source: shown });
    else patterns.push({ json, source: shown });
  };

  for (const [paths, kind] of [
    [patternPaths, "auto"],
    [opts.taxonomies ?? [], "taxonomy"],
  ] as const) {
    for (const p of paths) {
      let files: string[];
      try {
        files = (await stat(p)).isDirectory() ? await jsonFilesUnder(p) : [p];
      } catch (err) {
        order.push(nameOf(p));
        issues.push({ file: nameOf(p), path: "", message: readProblem(err) });
        continue;
      }
      for (const f of files) await read(f, kind);
    }
  }

  const analysed = analyse(patterns, taxonomies);
  issues.push(...analysed.issues);
  // Fixtures must exist; only the loader (not the pure path) touches the file system for them.
  for (const { file, source } of opts.checkFixtures ? analysed.patterns : []) {
    file.tests?.forEach((t, i) => {
      const path = resolve(dirname(source), t.events);
      if (!existsSync(path)) {
        issues.push({
          file: source,
          path: `tests[${i}].events`,
          message: `fixture not found: ${displayName(path)}`,
        });
      }
    });
  }
  if (issues.length === 0 && patterns.length === 0 && taxonomies.length === 0) {
    issues.push({
      file: patternPaths.join(", "),
      path: "",
      message: "no pattern or taxonomy files (*.json) found",
    });
  }
  if (issues.length) throw new PatternLoadError(byFileOrder(issues, order));
  const warnings: PatternIssue[] = [];
  if (analysed.taxonomies.length) {
    const known = new Set(analysed.taxonomies.flatMap((t) => Object.keys(t.categories)));
    for (const { file, source } of analysed.patterns) {
      for (const w of unknownCategories(file, known)) warnings.push({ file: source, ...w });
    }
  }
  return {
    ...build(analysed),
    taxonomyFiles: taxonomies.map((t) => t.source),
    warnings,
    sources: { patterns, taxonomies },
  };
}

/** The same as `loadPatternSet` on already-parsed JSON, without touching the file system. */
export function patternSetFromJson(patterns: JsonSource[], taxonomies: JsonSource[] = []): PatternSet {
  const analysed = analyse(patterns, taxonomies);
  if (analysed.issues.length) throw new PatternLoadError(analysed.issues);
  return build(analysed);
}

interface Analysed {
  issues: PatternIssue[];
  patterns: Array<{ file: PatternFile; source: string }>;
  taxonomies: TaxonomyFile[];
}

function analyse(patterns: JsonSource[], taxonomies: JsonSource[]): Analysed {
  const out: Analysed = { issues: [], patterns: [], taxonomies: [] };
  for (const { json, source } of taxonomies) {
    const r = taxonomySchema.safeParse(json, { reportInput: true });
    if (r.success) out.taxonomies.push(r.data);
    else out.issues.push(...zodIssues(source, r.error.issues));
  }
  const ids = new Map<string, string>();
  for (const { json, source } of patterns) {
    const r = patternSchema.safeParse(json, { reportInput: true });
    if (!r.success) {
      out.issues.push(...zodIssues(source, r.error.issues));
      continue;
    }
    const checked = checkPattern(r.data);
    for (const c of checked) out.issues.push({ file: source, ...c });
    const first = ids.get(r.data.id);
    if (first !== undefined) {
      out.issues.push({
        file: source,
        path: "id",
        message: `duplicate pattern id "${r.data.id}" (also in ${first})`,
      });
    } else ids.set(r.data.id, source);
    if (checked.length === 0) out.patterns.push({ file: r.data, source });
  }
  return out;
}

function build(a: Analysed): PatternSet {
  const compiled = a.patterns.map(({ file, source }) => compilePattern(file, source));
  return makePatternSet(compiled, new CompiledTaxonomy(a.taxonomies));
}

/** Issues grouped by file, files in the order they were found (sort is stable: within a file, as found). */
function byFileOrder(issues: PatternIssue[], order: string[]): PatternIssue[] {
  const rank = new Map(order.map((f, i) => [f, i]));
  return [...issues].sort((a, b) => (rank.get(a.file) ?? -1) - (rank.get(b.file) ?? -1));
}

/** `taxonomy.json`, or a file whose top level is `{ "categories": … }` without pattern keys. */
export function isTaxonomy(file: string, json: unknown): boolean {
  if (basename(file) === TAXONOMY_FILE_NAME) return true;
  return (
    typeof json === "object" &&
    json !== null &&
    !Array.isArray(json) &&
    Object.hasOwn(json, "categories") &&
    !Object.hasOwn(json, "steps") &&
    !Object.hasOwn(json, "id")
  );
}

/** *.json under a directory, recursively, sorted; `fixtures/`, `node_modules/` and dot-dirs skipped. */
async function jsonFilesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name === "fixtures" || e.name === "node_modules" || e.name.startsWith(".")) continue;
      out.push(...(await jsonFilesUnder(path)));
    } else if (e.name.endsWith(".json") && (e.isFile() || e.isSymbolicLink())) out.push(path);
  }
  return out;
}

function displayName(abs: string): string {
  const rel = relative(process.cwd(), abs);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : abs;
}

function readProblem(err: unknown): string {
  if (err instanceof JsonTextError) return err.message;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file or directory";
  if (code === "EACCES") return "permission denied";
  if (code === "EISDIR") return "is a directory";
  return err instanceof Error ? err.message : String(err);
}
