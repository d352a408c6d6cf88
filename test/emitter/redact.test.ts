import { createHash } from "node:crypto";
import fc from "fast-check";
import safeRegex from "safe-regex2";
import { describe, expect, it } from "vitest";
import { buildEvent } from "../../src/emitter/event.js";
import { policyResolver } from "../../src/emitter/options.js";
import {
  canonicalJson,
  cutUtf8,
  hashArguments,
  maskDeep,
  maskSecrets,
  SECRET_PATTERNS,
  selectFields,
} from "../../src/emitter/redact.js";
import { parseTraceparent } from "../../src/emitter/trace.js";
import { validateEvent } from "../../src/events/index.js";

// Fake credentials of the real shapes (assembled, so secret scanners do not flag this file).
const jwt = [
  "eyJhbGciOiJIUzI1NiJ9",
  "eyJzdWIiOiJ1LTQ4MSIsIm5hbWUiOiJBZGEifQ",
  "c2lnbmF0dXJlLXNpZ25hdHVyZQ",
].join(".");
const samples: Record<string, string> = {
  bearer: "Authorization: Bearer " + "abcDEF123456ghiJKL789",
  jwt: `token was ${jwt} ok`,
  aws_access_key: "key AKIA" + "ABCDEFGHIJKLMNOP here",
  github_token: "ghp_" + "a".repeat(36),
  slack_token: "xoxb-" + "123456789012-abcdefABCDEF",
  slack_webhook: "https://hooks.slack.com/services/" + "T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX",
  openai_key: "sk-proj-" + "Ab3".repeat(10),
  stripe_key: "sk_live_" + "0123456789abcdefXYZ",
  google_api_key: "AIza" + "S".repeat(35),
  private_key: "-----BEGIN RSA PRIVATE KEY-----\nMIIEow" + "A".repeat(64) + "\n-----END RSA PRIVATE KEY-----",
};

describe("secret masking", () => {
  for (const [kind, text] of Object.entries(samples)) {
    it(`masks ${kind}`, () => {
      const masked = maskSecrets(text);
      // The credential body is gone, whichever shape matched first (a JWT after Bearer is a bearer).
      expect(masked).toMatch(/\[REDACTED:[a-z_]+\]/);
      if (kind !== "bearer") expect(masked).toContain(`[REDACTED:${kind}]`);
      for (const tail of [jwt, "abcDEF123456ghiJKL789", "ABCDEFGHIJKLMNOP", "a".repeat(36), "MIIEow"]) {
        expect(masked).not.toContain(tail);
      }
    });
  }

  it("masks a private key cut before its END line", () => {
    expect(maskSecrets("key: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN")).toBe("key: [REDACTED:private_key]");
  });

  it("keeps the name and quotes of password=… pairs", () => {
    expect(maskSecrets("db password=hunter2&user=ada")).toBe("db password=[REDACTED:password]&user=ada");
    expect(maskSecrets('{"db_password": "hunter2", "user": "ada"}')).toBe(
      '{"db_password": "[REDACTED:password]", "user": "ada"}',
    );
    expect(maskSecrets("API_KEY: 12345678")).toBe("API_KEY: [REDACTED:password]");
  });

  it("leaves ordinary text alone", () => {
    for (const text of [
      "the quick brown fox jumps over the lazy dog",
      "risk-assessment for task-42, see https://example.org/docs",
      "patients.csv exported (3 rows), file f-9",
      "max_tokens: 512",
    ]) {
      expect(maskSecrets(text)).toBe(text);
    }
  });

  it("every shape is free of catastrophic backtracking", () => {
    for (const [kind, re] of Object.entries(SECRET_PATTERNS)) expect(safeRegex(re), kind).toBe(true);
  });

  it("masks fields whose name says they hold a credential, whatever the value", () => {
    expect(maskDeep({ user: "ada", password: "x", nested: [{ access_token: "y", max_tokens: 5 }] })).toEqual({
      user: "ada",
      password: "[REDACTED:secret_field]",
      nested: [{ access_token: "[REDACTED:secret_field]", max_tokens: 5 }],
    });
  });
});

describe("allow-lists", () => {
  const args = { to: "a@b.c", subject: "hi", body: "secret plans", options: { format: "csv", level: 3 } };

  it("keeps only allow-listed fields, nested by dotted path, absent ones stay absent", () => {
    expect(selectFields(args, ["to", "options.format", "cc", "options.missing"])).toEqual({
      to: "a@b.c",
      options: { format: "csv" },
    });
    expect(selectFields(args, [])).toBeUndefined();
    expect(selectFields(undefined, ["to"])).toBeUndefined();
  });

  it("never follows the prototype chain", () => {
    expect(selectFields(args, ["constructor", "__proto__", "toString"])).toBeUndefined();
  });

  it("masks secrets inside allow-listed values", () => {
    expect(selectFields({ body: `use ${samples.github_token}` }, ["body"])).toEqual({
      body: "use [REDACTED:github_token]",
    });
  });

  it("merges a tool's policy with the * entry: lists united, risk overridden", () => {
    const policy = policyResolver({
      "*": { arguments: ["tenant"], result: ["text"], risk: "low", categories: ["ehr"] },
      send_email: { arguments: ["to"], result: ["message_id"], risk: "high", categories: ["public_sink"] },
    });
    expect(policy("send_email")).toEqual({
      arguments: ["tenant", "to"],
      result: ["message_id"],
      resultText: true,
      risk: "high",
      categories: ["ehr", "public_sink"],
    });
    expect(policy("other")).toMatchObject({ arguments: ["tenant"], risk: "low", categories: ["ehr"] });
    expect(policyResolver({})("x")).toEqual({
      arguments: [],
      result: [],
      resultText: false,
      risk: undefined,
      categories: undefined,
    });
  });
});

describe("arguments hash", () => {
  it("is the SHA-256 of canonical JSON: sorted keys, no whitespace", () => {
    const args = { b: [1, { z: null, a: "é" }], a: true, c: 1.5 };
    const canonical = '{"a":true,"b":[1,{"a":"é","z":null}],"c":1.5}';
    expect(canonicalJson(args)).toBe(canonical);
    expect(hashArguments(args)).toBe(createHash("sha256").update(canonical, "utf8").digest("hex"));
    expect(hashArguments(undefined)).toBe(createHash("sha256").update("{}").digest("hex"));
  });

  it("is stable under key order and keeps the JSON value", () => {
    const shuffle = <T>(xs: T[], seed: number) =>
      xs
        .map((x, i) => ({ x, k: (i * 7919 + seed) % 101 }))
        .sort((p, q) => p.k - q.k)
        .map((p) => p.x);
    const reorder = (v: unknown, seed: number): unknown => {
      if (Array.isArray(v)) return v.map((x) => reorder(x, seed));
      if (v && typeof v === "object") {
        return Object.fromEntries(shuffle(Object.entries(v), seed).map(([k, x]) => [k, reorder(x, seed)]));
      }
      return v;
    };
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(), (value, seed) => {
        expect(hashArguments(reorder(value, seed))).toBe(hashArguments(value));
        // Same JSON value as JSON.stringify writes, only the key order differs.
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });
});

describe("result text cut", () => {
  it("cuts at a UTF-8 byte limit without splitting a character", () => {
    expect(cutUtf8("abc", 8)).toBe("abc");
    expect(cutUtf8("aé€😀", 3)).toBe("aé");
    expect(cutUtf8("aé€😀", 6)).toBe("aé€");
    expect(cutUtf8("😀😀", 5)).toBe("😀");
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), fc.nat(64), (s, n) => {
        const cut = cutUtf8(s, n);
        expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(n);
        expect(s.startsWith(cut)).toBe(true);
      }),
    );
  });
});

describe("events built from calls", () => {
  it("are valid per the event schema, with redaction applied", () => {
    const event = buildEvent(
      {
        receivedAt: Date.now(),
        durationMs: 1.23456,
        tool: "send_email",
        rawArguments: { to: "x@evil.example", body: "all the records", attachment: "f-9" },
        userId: "u-1",
        server: "mail",
        sessionId: "s-1",
        agentId: "agent",
        outcome: "success",
        result: { content: [{ type: "text", text: '{"message_id":"m-1","secret_note":"x"}' }] },
        errorMessage: undefined,
        trace: parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
      },
      policyResolver({
        send_email: { arguments: ["to", "attachment"], result: ["message_id"], risk: "high" },
      })("send_email"),
      { resultTextLimit: 8192, errorSummary: true, labels: { tenant: "t1" } },
    );
    const parsed = validateEvent(JSON.parse(JSON.stringify(event)));
    expect(parsed.ok ? undefined : parsed.reason).toBeUndefined();
    expect(event).toMatchObject({
      arguments: { to: "x@evil.example", attachment: "f-9" },
      // No structuredContent: fields come from a JSON-object text result.
      result: { message_id: "m-1" },
      duration_ms: 1.235,
      session_id: "s-1",
      labels: { tenant: "t1" },
    });
    expect(event.result).not.toHaveProperty("text");
  });

  it("traceparent: only well-formed, non-zero W3C values count", () => {
    expect(parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")).toEqual({
      trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
      span_id: "00f067aa0ba902b7",
    });
    expect(parseTraceparent(`00-${"0".repeat(32)}-00f067aa0ba902b7-01`)).toBeUndefined();
    expect(parseTraceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")).toBeUndefined();
    expect(parseTraceparent("garbage")).toBeUndefined();
    expect(parseTraceparent(42)).toBeUndefined();
  });
});
