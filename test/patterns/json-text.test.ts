import { describe, expect, it } from "vitest";
import { errorOffset, JsonTextError, parseJsonText } from "../../src/patterns/json-text.js";

function failure(text: string): string {
  try {
    parseJsonText(text);
  } catch (err) {
    expect(err).toBeInstanceOf(JsonTextError);
    return (err as Error).message;
  }
  throw new Error("parsed");
}

describe("parseJsonText", () => {
  it("parses JSON", () => {
    expect(parseJsonText('{"a": [1, true, null]}')).toEqual({ a: [1, true, null] });
  });
  it("locates errors V8 reports without a position", () => {
    expect(failure('{"a":}')).toBe("1:6: not JSON: Unexpected token '}'");
    expect(failure('{\n  "a": tru\n}')).toBe("2:11: not JSON: Unexpected token '\\n'");
  });
  it("locates errors V8 reports with a position, on the right line", () => {
    expect(failure('{\n "a": 1\n "b": 2\n}')).toBe("3:2: not JSON: Expected ',' or '}' after property value");
  });
  it("a premature end points past the last character", () => {
    expect(failure('{"a": [1,')).toBe("1:10: not JSON: Unexpected end of JSON input");
    expect(failure("")).toBe("1:1: not JSON: Unexpected end of JSON input");
  });
  it("the scanner agrees with V8 where V8 gives a position", () => {
    for (const text of ['{"a":1,}', "[1,2", '{"a" 1}', '{"a":"\\x"}', "[01]", "{} {}", '["a\u0001"]']) {
      let v8: number | undefined;
      try {
        JSON.parse(text);
      } catch (err) {
        const m = / at position (\d+)/.exec((err as Error).message);
        v8 = m ? Number(m[1]) : text.length;
      }
      expect([text, errorOffset(text)]).toEqual([text, v8]);
    }
  });
});
