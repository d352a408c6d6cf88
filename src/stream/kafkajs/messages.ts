import type { Message } from "kafkajs";
import type { Headers, OutMessage } from "../port.js";

export function toKafkaMessage(m: OutMessage): Message {
  return { key: m.key, value: m.value, headers: m.headers };
}

/** kafkajs headers may be Buffers, strings, arrays or undefined; ours are strings (last value wins). */
export function fromKafkaHeaders(headers: Record<string, unknown> | undefined): Headers {
  const out: Headers = {};
  if (!headers) return out;
  for (const k in headers) {
    if (!Object.hasOwn(headers, k)) continue;
    const v = headers[k];
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    if (last === undefined || last === null) continue;
    out[k] = Buffer.isBuffer(last) ? last.toString("utf8") : String(last);
  }
  return out;
}
