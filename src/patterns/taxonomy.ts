import type { ToolCallEvent } from "../events/schema.js";
import { ToolCache } from "../events/tool-cache.js";
import type { Taxonomy } from "./compiled.js";
import { compileGlob, type GlobMatcher } from "./glob.js";
import type { TaxonomyFile } from "./schema.js";

/** Distinct `server/tool` pairs remembered; past this the cache starts over (a hostile tool-name flood). */
export const TAXONOMY_CACHE_LIMIT = 10_000;

const EMPTY: ReadonlySet<string> = new Set();

interface Rule {
  category: string;
  /** A glob with `/` is matched against `server/tool`, otherwise against the tool name. */
  qualified: boolean;
  match: GlobMatcher;
}

/**
 * The merged taxonomies: an event's categories are its own plus every category one of whose globs
 * matches its tool. The taxonomy part depends only on (server, tool) and is cached, since this runs
 * for every event.
 */
export class CompiledTaxonomy implements Taxonomy {
  private readonly rules: Rule[] = [];
  private readonly cache = new ToolCache<ReadonlySet<string>>(TAXONOMY_CACHE_LIMIT);
  /** Every category name the taxonomies define. */
  readonly categories: ReadonlySet<string>;

  constructor(files: readonly TaxonomyFile[] = []) {
    const names = new Set<string>();
    for (const file of files) {
      for (const [category, globs] of Object.entries(file.categories)) {
        names.add(category);
        for (const glob of globs)
          this.rules.push({ category, qualified: glob.includes("/"), match: compileGlob(glob) });
      }
    }
    this.categories = names;
  }

  categoriesOf(event: ToolCallEvent): ReadonlySet<string> {
    const own = event.categories;
    const fromTaxonomy = this.ofTool(event.server, event.tool);
    if (own === undefined || own.length === 0) return fromTaxonomy;
    if (fromTaxonomy.size === 0 && own.length === 1) return new Set(own);
    const all = new Set(fromTaxonomy);
    for (const c of own) all.add(c);
    return all;
  }

  /** The taxonomy's categories for a tool of a server (cached). */
  ofTool(server: string, tool: string): ReadonlySet<string> {
    const hit = this.cache.get(server, tool);
    if (hit) return hit;
    const found = this.lookup(server, tool);
    this.cache.set(server, tool, found);
    return found;
  }

  private lookup(server: string, tool: string): ReadonlySet<string> {
    if (this.rules.length === 0) return EMPTY;
    const qualified = `${server}/${tool}`;
    const found = new Set<string>();
    for (const r of this.rules) {
      if (!found.has(r.category) && r.match(r.qualified ? qualified : tool)) found.add(r.category);
    }
    return found.size ? found : EMPTY;
  }
}
