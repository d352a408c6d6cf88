import type { Outcome } from "../events/index.js";
import type { EmittedEvent } from "./delivery.js";
import { uuidv7 } from "./ids.js";
import type { ResolvedPolicy, ToolPolicy } from "./options.js";
import { cutUtf8, hashArguments, maskSecrets, rawFields, selectFields } from "./redact.js";
import type { TraceIds } from "./trace.js";

/** Everything known about one handled `tools/call`, before redaction. */
export interface CallFacts {
  receivedAt: number;
  durationMs: number;
  tool: string;
  rawArguments: unknown;
  userId: string;
  server: string;
  sessionId: string | undefined;
  agentId: string | undefined;
  outcome: Outcome;
  /** The CallToolResult, when the handler returned one. */
  result: unknown;
  /** Why the call failed: a thrown error's message or an `isError` result's text. */
  errorMessage: string | undefined;
  trace: TraceIds | undefined;
}

export interface EventSettings {
  resultTextLimit: number;
  errorSummary: boolean;
  labels: Record<string, string> | undefined;
}

/** What a delivery builds events with: the tools' policies and the event settings. */
export interface EventBuild {
  tools: Record<string, ToolPolicy>;
  settings: EventSettings;
}

const SUMMARY_CHARS = 256;
/** Masking looks a little past the cut, so a secret straddling it is still recognised whole. */
const MASK_MARGIN = 1024;

/**
 * What of a call's result an event can use, read off the result while the call's objects are at
 * hand: the allow-listed structured fields (raw) and the output text, cut a little past the limit.
 * Plain JSON: it can cross to another thread, where `buildFromRecord` masks it.
 */
export interface ResultExtract {
  structured?: Record<string, unknown>;
  text?: string;
}

/** A call as the producer thread receives it: the facts, the result reduced to its extract. */
export type CallRecord = Omit<CallFacts, "result"> & { result: ResultExtract | undefined };

export function buildEvent(f: CallFacts, policy: ResolvedPolicy, s: EventSettings): EmittedEvent {
  return buildFromRecord(toCallRecord(f, policy, s), policy, s);
}

/** The cheap half of building an event: what must be read during the call, nothing masked or hashed. */
export function toCallRecord(f: CallFacts, policy: ResolvedPolicy, s: EventSettings): CallRecord {
  return { ...f, result: extractResult(f.result, policy, s.resultTextLimit) };
}

/** The costly half: ids, hash, masking. Runs on the producer thread for the built-in producer. */
export function buildFromRecord(f: CallRecord, policy: ResolvedPolicy, s: EventSettings): EmittedEvent {
  const args = isObject(f.rawArguments) ? f.rawArguments : undefined;
  const event: EmittedEvent = {
    event_id: uuidv7(f.receivedAt),
    timestamp: f.receivedAt,
    user_id: f.userId,
    server: f.server,
    tool: f.tool,
    method: "tools/call",
    outcome: f.outcome,
    duration_ms: Math.round(f.durationMs * 1000) / 1000,
    arguments_hash: hashArguments(f.rawArguments ?? {}),
  };
  if (f.sessionId) event.session_id = f.sessionId;
  if (f.agentId) event.agent_id = f.agentId;
  const selected = selectFields(args, policy.arguments);
  if (selected) event.arguments = selected;
  const result = f.result && redactResult(f.result, policy, s.resultTextLimit);
  if (result) event.result = result;
  if (s.errorSummary && f.outcome !== "success" && f.errorMessage) {
    event.result_summary = maskSecrets(f.errorMessage.slice(0, SUMMARY_CHARS + MASK_MARGIN)).slice(
      0,
      SUMMARY_CHARS,
    );
  }
  if (policy.risk) event.risk_level = policy.risk;
  if (policy.categories) event.categories = policy.categories;
  if (f.trace) {
    event.trace_id = f.trace.trace_id;
    event.span_id = f.trace.span_id;
  }
  if (s.labels) event.labels = s.labels;
  return event;
}

/** The output text of a CallToolResult: its text content blocks, joined by newlines. */
export function resultText(result: unknown): string | undefined {
  if (!isObject(result) || !Array.isArray(result.content)) return undefined;
  let text: string | undefined;
  for (const block of result.content) {
    if (isObject(block) && block.type === "text" && typeof block.text === "string") {
      text = text === undefined ? block.text : `${text}\n${block.text}`;
    }
  }
  return text;
}

/** The result's extract (`ResultExtract`) for the tool's policy; undefined when it returned no object. */
export function extractResult(
  result: unknown,
  policy: ResolvedPolicy,
  textLimit: number,
): ResultExtract | undefined {
  if (!isObject(result)) return undefined;
  const out: ResultExtract = {};
  if (policy.result.length) {
    const structured = rawFields(structuredSource(result), policy.result);
    if (structured) out.structured = structured;
  }
  if (policy.resultText) {
    const text = resultText(result);
    if (text !== undefined) out.text = text.slice(0, textLimit + MASK_MARGIN);
  }
  return out;
}

function redactResult(
  extract: ResultExtract,
  policy: ResolvedPolicy,
  textLimit: number,
): Record<string, unknown> | undefined {
  let out: Record<string, unknown> | undefined;
  if (extract.structured) out = selectFields(extract.structured, policy.result);
  if (extract.text !== undefined) {
    out ??= {};
    out.text = cutUtf8(maskSecrets(extract.text), textLimit);
  }
  return out;
}

/**
 * Where result fields are read from: `structuredContent`, else a text result that is a JSON object
 * (many servers return their data that way).
 */
function structuredSource(result: Record<string, unknown>): Record<string, unknown> | undefined {
  if (isObject(result.structuredContent)) return result.structuredContent;
  const text = resultText(result);
  if (text === undefined || !text.trimStart().startsWith("{")) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return isObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
