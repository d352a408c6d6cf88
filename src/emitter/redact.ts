import { sha256 } from "../sha256.js";

/**
 * Redaction: what of a tool call's arguments and result may leave the server.
 * Everything is dropped unless allow-listed, and strings that look like credentials are masked even
 * when allow-listed, because an allow-list names fields, not the secrets a user pastes into them.
 */

/**
 * Canonical JSON: object keys sorted (UTF-16 code unit order, as RFC 8785), no whitespace, values
 * serialised as JSON.stringify does. Equal arguments give equal text whatever their key order.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function") return canonicalJson((value as { toJSON(): unknown }).toJSON());
  if (Array.isArray(value)) {
    // JSON.stringify writes null for holes and for values it cannot represent inside arrays.
    return `[${value.map((v) => (v === undefined || typeof v === "function" ? "null" : canonicalJson(v))).join(",")}]`;
  }
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(obj).sort()) {
    const v = obj[key];
    if (v === undefined || typeof v === "function" || typeof v === "symbol") continue;
    parts.push(`${JSON.stringify(key)}:${canonicalJson(v)}`);
  }
  return `{${parts.join(",")}}`;
}

/** SHA-256 hex of the canonical JSON of the full, unredacted arguments. */
export function hashArguments(args: unknown): string {
  const text = canonicalJson(args ?? {});
  return sha256(text, "hex");
}

/**
 * Common credential shapes. One alternation with named groups, so a string is scanned once.
 * Every branch is linear: no nested quantifiers (checked by the redaction tests with safe-regex2).
 */
const SECRET_SOURCES: Record<string, string> = {
  private_key:
    "-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY-----[\\s\\S]*?(?:-----END[ A-Z0-9]{0,40}PRIVATE KEY-----|$)",
  jwt: "\\beyJ[A-Za-z0-9_-]{8,}\\.eyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{8,}",
  bearer: "\\b[Bb]earer[ \\t]+[A-Za-z0-9._~+/-]{16,}=*",
  aws_access_key: "\\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\\b",
  github_token: "\\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})",
  slack_token: "\\bxox[abposr]-[A-Za-z0-9-]{10,250}",
  slack_webhook: "https://hooks\\.slack\\.com/services/[A-Za-z0-9/_-]{20,}",
  openai_key: "\\bsk-(?:proj-|svcacct-|admin-|ant-)?[A-Za-z0-9_-]{20,}",
  stripe_key: "\\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}",
  google_api_key: "\\bAIza[A-Za-z0-9_-]{35}",
  // `password=…`, `"api_key": "…"`, `secret: …`: the name stays, the value goes.
  password:
    "\\b[A-Za-z0-9_-]{0,40}?(?:password|passwd|pwd|secret|client_secret|api[_-]?key|access[_-]?token|auth[_-]?token|aws_secret_access_key)[\"']?[ \\t]*[=:][ \\t]*(?:\"[^\"\\n]*\"|'[^'\\n]*'|[^\\s&,;\"']+)",
};

const KINDS = Object.keys(SECRET_SOURCES);
const SECRET_RE = new RegExp(KINDS.map((k) => `(?<${k}>${SECRET_SOURCES[k]})`).join("|"), "gi");
/** For tests: each shape on its own. */
export const SECRET_PATTERNS: Readonly<Record<string, RegExp>> = Object.fromEntries(
  KINDS.map((k) => [k, new RegExp(SECRET_SOURCES[k]!, "i")]),
);

const PAIR_SPLIT = /^([^=:]*[=:][ \t]*)(["']?)/;

/** Masks every credential-shaped substring as `[REDACTED:<kind>]`. */
export function maskSecrets(text: string): string {
  // Shorter than the shortest shape: nothing to find, skip the regex.
  if (text.length < 16) return text;
  SECRET_RE.lastIndex = 0;
  return text.replace(SECRET_RE, (match, ...rest) => {
    const groups = rest[rest.length - 1] as Record<string, string | undefined>;
    const kind = KINDS.find((k) => groups[k] !== undefined) ?? "secret";
    if (kind === "password") {
      // Keep the name and the quotes, so JSON or a query string stays readable.
      const [, name = "", quote = ""] = PAIR_SPLIT.exec(match) ?? [];
      return `${name}${quote}[REDACTED:password]${quote}`;
    }
    return `[REDACTED:${kind}]`;
  });
}

/** A field whose very name says it holds a credential is masked whatever its value looks like. */
const SECRET_KEY =
  /^(?:[A-Za-z0-9_-]*[_-])?(?:pass(?:word|wd)?|pwd|secret|token|api[_-]?key|private[_-]?key|authorization|credentials?)$/i;

/** Deep copy of a JSON value with every string masked, and credential-named fields masked whole. */
export function maskDeep(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return maskSecrets(value);
  if (value === null || typeof value !== "object") return value;
  if (depth > 32) return "[REDACTED:too_deep]";
  if (Array.isArray(value)) return value.map((v) => maskDeep(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] =
      SECRET_KEY.test(k) && v !== null && (typeof v === "string" || typeof v === "number")
        ? "[REDACTED:secret_field]"
        : maskDeep(v, depth + 1);
  }
  return out;
}

/**
 * The allow-listed fields of `source`, masked. Paths are dotted (`options.format`) and follow only
 * own properties of plain objects. An absent field stays absent.
 */
export function selectFields(
  source: Record<string, unknown> | undefined,
  paths: readonly string[],
): Record<string, unknown> | undefined {
  return pickFields(source, paths, true);
}

/**
 * The allow-listed fields of `source` as they are (shared with `source`, which is never written
 * into), for `selectFields` to mask later, elsewhere, with the same result.
 */
export function rawFields(
  source: Record<string, unknown> | undefined,
  paths: readonly string[],
): Record<string, unknown> | undefined {
  return pickFields(source, paths, false);
}

function pickFields(
  source: Record<string, unknown> | undefined,
  paths: readonly string[],
  mask: boolean,
): Record<string, unknown> | undefined {
  if (!source || paths.length === 0) return undefined;
  let out: Record<string, unknown> | undefined;
  /** Containers made here (raw mode): anything else in `out` is the caller's, never written into. */
  const made = mask ? undefined : new WeakSet<object>();
  for (const path of paths) {
    const keys = path.split(".");
    let v: unknown = source;
    let found = true;
    for (const k of keys) {
      if (typeof v !== "object" || v === null || Array.isArray(v) || !Object.hasOwn(v, k)) {
        found = false;
        break;
      }
      v = (v as Record<string, unknown>)[k];
    }
    if (!found || v === undefined) continue;
    out ??= {};
    if (made) setRawPath(out, keys, v, made);
    else
      setPath(
        out,
        keys,
        SECRET_KEY.test(keys[keys.length - 1]!) && isScalar(v) ? "[REDACTED:secret_field]" : maskDeep(v),
      );
  }
  return out;
}

function isScalar(v: unknown): boolean {
  return typeof v === "string" || typeof v === "number";
}

/**
 * `setPath` for values taken as they are: a path under a value already taken whole is in it already,
 * so nothing of the source is ever written into (it may even be frozen).
 */
function setRawPath(
  target: Record<string, unknown>,
  keys: string[],
  value: unknown,
  made: WeakSet<object>,
): void {
  let t = target;
  for (let i = 0; i < keys.length - 1; i++) {
    const k = keys[i]!;
    const next = t[k];
    if (typeof next === "object" && next !== null) {
      if (!made.has(next)) return;
      t = next as Record<string, unknown>;
    } else {
      const container: Record<string, unknown> = {};
      made.add(container);
      t[k] = container;
      t = container;
    }
  }
  t[keys[keys.length - 1]!] = value;
}

function setPath(target: Record<string, unknown>, keys: string[], value: unknown): void {
  let t = target;
  for (let i = 0; i < keys.length - 1; i++) {
    const k = keys[i]!;
    const next = t[k];
    if (typeof next !== "object" || next === null) t[k] = {};
    t = t[k] as Record<string, unknown>;
  }
  t[keys[keys.length - 1]!] = value;
}

/** Cuts `text` to at most `maxBytes` of UTF-8 without splitting a character. */
export function cutUtf8(text: string, maxBytes: number): string {
  // Each UTF-16 unit is at most 3 UTF-8 bytes, so short strings need no measuring.
  if (text.length * 3 <= maxBytes) return text;
  const buf = Buffer.from(text, "utf8");
  if (buf.length <= maxBytes) return text;
  let end = maxBytes;
  // Step back over continuation bytes (10xxxxxx) to the start of a character.
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString("utf8");
}
