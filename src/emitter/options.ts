import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import type { Logger } from "pino";
import type { RiskLevel } from "../events/index.js";
import type { KafkaSecurity } from "../stream/kafkajs/client.js";
import type { Producer } from "../stream/port.js";

/** What the emitter may send about one tool. Every list is an allow-list: what it doesn't name is dropped. */
export interface ToolPolicy {
  /** Argument fields to send (dotted paths: `to`, `options.format`). Default: none. */
  arguments?: string[];
  /** Result fields to send, from `structuredContent` (or a JSON-object text result); `text` is the output text. */
  result?: string[];
  /** The server's own risk class of this tool. */
  risk?: RiskLevel;
  /** Categories the server already knows (`enumerate`, `export`, `public_sink`, …). */
  categories?: string[];
}

/** What `userId` and friends can see of a call. */
export interface CallContext {
  tool: string;
  /** The arguments as the client sent them, before redaction. */
  arguments: Record<string, unknown> | undefined;
  authInfo: AuthInfo | undefined;
  sessionId: string | undefined;
  /** HTTP request headers, for HTTP transports. */
  headers: Record<string, string | string[] | undefined> | undefined;
  /** `params._meta` of the request. */
  meta: Record<string, unknown> | undefined;
  /** The client's name from `initialize`, when known. */
  clientName: string | undefined;
}

export interface EmitterOptions {
  /** Kafka brokers for the built-in kafkajs producer. Default `CHAINWATCH_KAFKA_BROKERS` or `127.0.0.1:9092`. */
  brokers?: string[];
  /** Kafka client id for the built-in producer. Default `chainwatch-emitter`. */
  clientId?: string;
  /**
   * TLS to the brokers for the built-in producer: true (the system's CAs) or `{ ca }` (PEM text of the
   * CAs to trust). Default from `CHAINWATCH_KAFKA_TLS` / `CHAINWATCH_KAFKA_TLS_CA` (a file), as `run`.
   */
  ssl?: boolean | { ca: string | string[] };
  /** SASL for the built-in producer. Default from `CHAINWATCH_KAFKA_SASL_MECHANISM` / `_USERNAME` / `_PASSWORD`. */
  sasl?: KafkaSecurity["sasl"];
  /**
   * Use this producer instead of the built-in one (tests, another Kafka client); it runs on the
   * server's thread, fed by an in-memory queue (`queueBytes` does not apply).
   */
  producer?: Producer;
  /** Topic. Default `CHAINWATCH_INPUT_TOPIC` or `mcp.tool-calls`. */
  topic?: string;
  /** The `server` field. Default the name the McpServer was created with. */
  serverName?: string;
  /** The end user of a call. Default: `authInfo.extra.user_id`, `authInfo.extra.sub`, else none. */
  userId?: (ctx: CallContext) => string | undefined | null;
  /** `user_id` when `userId` finds none (the event is still sent, and counted). Default `anonymous`. */
  anonymousUserId?: string;
  /** Per-tool policy; the `"*"` entry applies to every tool (lists are merged, `risk` is overridden). */
  tools?: Record<string, ToolPolicy>;
  /** Limit of `result.text` in UTF-8 bytes. Default 8192. */
  resultTextLimit?: number;
  /** Send the error message (masked, ≤ 256 chars) as `result_summary` of failed calls. Default true. */
  errorSummary?: boolean;
  /** Decides whether an error a tool threw means the call was refused (`denied`) rather than failed. */
  isDenied?: (error: unknown) => boolean;
  /** Fixed `labels` of every event (tenant, environment, …). */
  labels?: Record<string, string>;
  /** Events held in memory at most; beyond it new events are dropped and counted. Default 10 000. */
  queueSize?: number;
  /**
   * Bytes of serialised events held at most by the built-in producer (the size of the queue it
   * shares with its thread, allocated up front); beyond it new events are dropped and counted.
   * Default `queueSize` × 2 KiB, at most 16 MiB.
   */
  queueBytes?: number;
  /** Events per produce request at most. Default 500. */
  batchSize?: number;
  /**
   * How long an event may wait for others to share its produce request, ms; also the least time
   * between two requests while events trickle in. Default 20: a kafkajs request costs about a
   * millisecond of CPU whatever its size (on the producer thread), so this caps that cost at a few
   * percent of a core.
   */
  lingerMs?: number;
  /** How long `close()` waits for the queue to drain before giving up on it, ms. Default 5000. */
  closeTimeoutMs?: number;
  /** Logger. Default pino on stderr (stdout is the protocol channel of stdio servers). */
  logger?: Logger;
  /** At most one "dropping events" warning per this many ms. Default 30 000. */
  warnIntervalMs?: number;
}

/** Thrown by a tool to refuse a call (policy, missing consent): the event's outcome is `denied`. */
export class DeniedError extends Error {
  override readonly name = "DeniedError";
  readonly denied = true;
}

export function defaultIsDenied(error: unknown): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    ((error as { denied?: unknown }).denied === true || (error as { name?: unknown }).name === "DeniedError")
  );
}

export function defaultUserId(ctx: CallContext): string | undefined {
  return userIdFromAuth(ctx.authInfo);
}

/** `defaultUserId` from the auth info alone (no context object made per call). */
export function userIdFromAuth(authInfo: AuthInfo | undefined): string | undefined {
  const extra = authInfo?.extra;
  for (const key of ["user_id", "sub"]) {
    const v = extra?.[key];
    if (typeof v === "string" && v !== "") return v;
  }
  return undefined;
}

/** A tool's policy: its own entry merged over the `"*"` entry. */
export interface ResolvedPolicy {
  arguments: string[];
  result: string[];
  resultText: boolean;
  risk: RiskLevel | undefined;
  categories: string[] | undefined;
}

export function policyResolver(tools: Record<string, ToolPolicy> = {}): (tool: string) => ResolvedPolicy {
  const star = tools["*"] ?? {};
  const cache = new Map<string, ResolvedPolicy>();
  const merge = (a: string[] = [], b: string[] = []) => [...new Set([...a, ...b])];
  return (tool) => {
    let p = cache.get(tool);
    if (p) return p;
    const own = (Object.hasOwn(tools, tool) ? tools[tool] : undefined) ?? {};
    const result = merge(star.result, own.result);
    const categories = merge(star.categories, own.categories);
    p = {
      arguments: merge(star.arguments, own.arguments),
      result: result.filter((f) => f !== "text"),
      resultText: result.includes("text"),
      risk: own.risk ?? star.risk,
      categories: categories.length ? categories : undefined,
    };
    // Unknown tool names come from clients: don't let them grow the cache without bound.
    if (cache.size < 10_000) cache.set(tool, p);
    return p;
  };
}
