import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileGlob } from "../../src/patterns/glob.js";

const m = (glob: string, s: string) => compileGlob(glob)(s);

describe("compileGlob", () => {
  it("literal globs match exactly", () => {
    expect(m("ls", "ls")).toBe(true);
    expect(m("ls", "lsx")).toBe(false);
    expect(m("ls", "")).toBe(false);
  });
  it("* matches any run, including empty, / and leading dots", () => {
    expect(m("*", "")).toBe(true);
    expect(m("*", "a/b/../c")).toBe(true);
    expect(m("*", ".hidden")).toBe(true);
    expect(m("send_*", "send_")).toBe(true);
    expect(m("*_list", "users_list")).toBe(true);
    expect(m("*Search*", "doSearchNow")).toBe(true);
    expect(m("ehr/*", "ehr/a/b")).toBe(true);
    expect(m("*/http_request", "web/http_request")).toBe(true);
    expect(m("a*b*c", "a/x/b/y/c")).toBe(true);
    expect(m("a*b*c", "a/x/b/y/d")).toBe(false);
  });
  it("? matches exactly one character, / included", () => {
    expect(m("a?c", "a/c")).toBe(true);
    expect(m("a?c", "ac")).toBe(false);
    expect(m("a?c", "abbc")).toBe(false);
  });
  it("classes: sets, ranges, negation, ] as first member", () => {
    expect(m("list[A-Z]*", "listUsers")).toBe(true);
    expect(m("list[A-Z]*", "list_users")).toBe(false);
    expect(m("[!a]x", "bx")).toBe(true);
    expect(m("[!a]x", "ax")).toBe(false);
    expect(m("[^a]x", "ax")).toBe(false);
    expect(m("[]]x", "]x")).toBe(true);
    expect(m("[a-]", "-")).toBe(true);
    expect(m("[abc", "[abc")).toBe(true); // unclosed: literal
  });
  it("is case-sensitive", () => {
    expect(m("Send_*", "send_email")).toBe(false);
    expect(m("*Find*", "find_x")).toBe(false);
  });
  it("\\ escapes; regex and brace characters are literal", () => {
    expect(m("a\\*b", "a*b")).toBe(true);
    expect(m("a\\*b", "axb")).toBe(false);
    expect(m("(x)", "(x)")).toBe(true);
    expect(m("(x)", "x")).toBe(false);
    expect(m("{a,b}", "a")).toBe(false);
    expect(m("!foo", "!foo")).toBe(true);
    expect(m("a.b+", "a.b+")).toBe(true);
    expect(m("a.b", "axb")).toBe(false);
  });
  it("stays linear on adversarial input", () => {
    const glob = "*a*a*a*a*a*a*a*b";
    const input = "a".repeat(20_000);
    expect(m(glob, input)).toBe(false);
  });
  it("agrees with a regex translation on random globs over a small alphabet", () => {
    const toRegex = (g: string) =>
      new RegExp(
        `^${[...g].map((c) => (c === "*" ? "[\\s\\S]*" : c === "?" ? "[\\s\\S]" : c.replace(/[./]/, "\\$&"))).join("")}$`,
      );
    const alphabet = fc.constantFrom("a", "b", "/", ".");
    fc.assert(
      fc.property(
        fc.array(fc.oneof(alphabet, fc.constantFrom("*", "?")), { maxLength: 8 }).map((a) => a.join("")),
        fc.array(alphabet, { maxLength: 10 }).map((a) => a.join("")),
        (glob, s) => m(glob, s) === toRegex(glob).test(s),
      ),
      { numRuns: 2000 },
    );
  });
});
