// The published event schema (schemas/event.schema.json) as a user's validator reads it, against what
// the code accepts: an emitter that validates with the schema must not reject what the service takes.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { parseEvent } from "../../src/events/parse.js";
import { repoRoot } from "../helpers/cli.js";
import { minimalEvent } from "../helpers/events.js";

const schema = JSON.parse(readFileSync(resolve(repoRoot, "schemas/event.schema.json"), "utf8"));
// Formats (date-time) are left to the code: this is about the shape, nulls and required fields.
const validate = new Ajv2020({ strict: false, validateFormats: false }).compile(schema);

const base = minimalEvent;

describe("schemas/event.schema.json", () => {
  it("accepts null for every optional envelope field, as events.md and the code do", () => {
    const optional = Object.keys(schema.properties).filter((k) => !schema.required.includes(k));
    expect(optional.length).toBeGreaterThan(10);
    const event = { ...base, ...Object.fromEntries(optional.map((k) => [k, null])) };
    expect(parseEvent(JSON.stringify(event)).ok).toBe(true);
    expect(validate(event), JSON.stringify(validate.errors)).toBe(true);
  });

  it("refuses null in a required field, as the code does", () => {
    for (const key of schema.required as string[]) {
      const event = { ...base, [key]: null };
      expect(parseEvent(JSON.stringify(event)).ok, key).toBe(false);
      expect(validate(event), key).toBe(false);
    }
  });

  it("agrees with the code on every line of the example stream", () => {
    const lines = readFileSync(resolve(repoRoot, "examples/stream.jsonl"), "utf8").split("\n");
    let checked = 0;
    for (const line of lines) {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        continue;
      }
      checked++;
      expect(validate(value), line).toBe(parseEvent(line).ok);
    }
    expect(checked).toBeGreaterThan(250);
  });
});
