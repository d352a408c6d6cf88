/**
 * `chainwatch/emitter`: one audit event per MCP tool call, to Kafka.
 *
 *   import { instrumentMcpServer } from "chainwatch/emitter";
 *   const emitter = instrumentMcpServer(server, { tools: { send_email: { arguments: ["to"], risk: "high" } } });
 *   process.on("SIGTERM", () => emitter.close());
 */

export { EmitterKafkaProducer } from "../stream/kafkajs/lazy-producer.js";
export type { DeliveryStats, EmittedEvent } from "./delivery.js";
export { type Instrumentation, instrumentMcpServer } from "./instrument.js";
export {
  type CallContext,
  DeniedError,
  defaultUserId,
  type EmitterOptions,
  type ToolPolicy,
} from "./options.js";
export { canonicalJson, hashArguments, maskSecrets } from "./redact.js";
export { parseTraceparent } from "./trace.js";
