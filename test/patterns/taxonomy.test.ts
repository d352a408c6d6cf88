import { describe, expect, it } from "vitest";
import { type ToolCallEvent, validateEvent } from "../../src/events/index.js";
import { patternSetFromJson } from "../../src/patterns/loader.js";
import { CompiledTaxonomy, TAXONOMY_CACHE_LIMIT } from "../../src/patterns/taxonomy.js";

function event(server: string, tool: string, categories?: string[]): ToolCallEvent {
  const r = validateEvent({ event_id: "e", timestamp: 0, user_id: "u", server, tool, categories });
  if (!r.ok) throw new Error(r.reason);
  return r.event;
}

const sorted = (s: ReadonlySet<string>) => [...s].sort();

describe("taxonomy", () => {
  const tax = new CompiledTaxonomy([
    {
      categories: {
        enumerate: ["list_*", "search_*"],
        public_sink: ["send_*", "*/http_request"],
        ehr: ["ehr/*"],
      },
    },
  ]);

  it("matches a glob without / against the tool name", () => {
    expect(sorted(tax.categoriesOf(event("mail", "send_email")))).toEqual(["public_sink"]);
    expect(sorted(tax.categoriesOf(event("mail", "read_email")))).toEqual([]);
  });
  it("matches a glob with / against server/tool", () => {
    expect(sorted(tax.categoriesOf(event("web", "http_request")))).toEqual(["public_sink"]);
    expect(sorted(tax.categoriesOf(event("ehr", "get_patient")))).toEqual(["ehr"]);
    expect(sorted(tax.categoriesOf(event("fhir", "get_patient")))).toEqual([]);
    // a tool name alone never matches a server/tool glob
    expect(sorted(tax.categoriesOf(event("x", "ehr")))).toEqual([]);
  });
  it("adds the event's own categories", () => {
    expect(sorted(tax.categoriesOf(event("mail", "send_email", ["private_data"])))).toEqual([
      "private_data",
      "public_sink",
    ]);
    expect(sorted(tax.categoriesOf(event("x", "y", ["own"])))).toEqual(["own"]);
  });
  it("gives several categories when several match", () => {
    const t = new CompiledTaxonomy([{ categories: { a: ["x_*"], b: ["*_y"] } }]);
    expect(sorted(t.categoriesOf(event("s", "x_y")))).toEqual(["a", "b"]);
  });
  it("caches per server/tool and returns the same answer after the cache resets", () => {
    const first = tax.categoriesOf(event("mail", "send_email"));
    expect(tax.categoriesOf(event("mail", "send_email"))).toBe(first);
    for (let i = 0; i <= TAXONOMY_CACHE_LIMIT; i++) tax.categoriesOf(event("flood", `tool_${i}`));
    expect(sorted(tax.categoriesOf(event("mail", "send_email")))).toEqual(["public_sink"]);
  });
  it("merges several taxonomies as a union", () => {
    const set = patternSetFromJson(
      [
        {
          json: { id: "p", version: 1, title: "t", severity: "low", steps: [{ id: "a", where: {} }] },
          source: "p.json",
        },
      ],
      [
        { json: { categories: { sink: ["send_*"], enumerate: ["list_*"] } }, source: "a.json" },
        { json: { categories: { sink: ["post_*"], secret: ["send_*"] } }, source: "b.json" },
      ],
    );
    expect(sorted(set.taxonomy.categoriesOf(event("s", "send_x")))).toEqual(["secret", "sink"]);
    expect(sorted(set.taxonomy.categoriesOf(event("s", "post_x")))).toEqual(["sink"]);
    expect(sorted(set.taxonomy.categoriesOf(event("s", "list_x")))).toEqual(["enumerate"]);
  });
});
