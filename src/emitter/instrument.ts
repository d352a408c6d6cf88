import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { type Logger, pino } from "pino";
import { ConfigError, loadProducerConfig } from "../config/load.js";
import type { Outcome } from "../events/index.js";
import { type KafkaSecurity, kafkaSecurity } from "../stream/kafkajs/client.js";
import { type CallDelivery, Delivery, type DeliveryStats } from "./delivery.js";
import { type CallRecord, extractResult, isObject, type ResultExtract, resultText } from "./event.js";
import {
  type CallContext,
  defaultIsDenied,
  type EmitterOptions,
  policyResolver,
  userIdFromAuth,
} from "./options.js";
import { ThreadedDelivery } from "./threaded-delivery.js";
import { type TraceIds, traceIdsOf } from "./trace.js";
import { validateOptions } from "./validate.js";

export interface Instrumentation {
  /** Resolves when every event so far is acknowledged by Kafka (or dropped). */
  flush(): Promise<void>;
  /** Stops emitting: flushes for at most `closeTimeoutMs`, then disconnects. The server keeps working. */
  close(): Promise<void>;
  stats(): DeliveryStats;
}

/** A raw request handler as the SDK's Protocol stores it: JSON-RPC request in, result out. */
type RawHandler = (request: unknown, extra: unknown) => Promise<unknown>;
interface ProtocolInternals {
  _requestHandlers?: unknown;
  _serverInfo?: { name?: unknown };
  setRequestHandler: (...args: never[]) => unknown;
  getClientVersion?: () => { name?: string } | undefined;
}
interface McpServerInternals {
  server: ProtocolInternals;
  registerTool?: (...args: unknown[]) => unknown;
  tool?: (...args: unknown[]) => unknown;
  _registeredTools?: Record<string, { handler?: unknown; update?: (u: Record<string, unknown>) => void }>;
}

const WRAPPED = Symbol.for("chainwatch.emitter.wrapped");
const INSTRUMENTED = Symbol.for("chainwatch.emitter.instrumented");
const TOOLS_CALL = "tools/call";

/**
 * Makes every `tools/call` the server handles produce one audit event (shared/spec/events.md).
 *
 * The SDK has no interceptor API, so two wraps: the server's `tools/call` request handler (it sees
 * every call — unknown tools and invalid arguments too, which never reach a tool callback — with
 * its auth, session, headers and `_meta`), and each tool callback registered through `registerTool`
 * / `tool` (it sees the error a tool threw before the SDK turns it into an `isError` result, which is
 * how `denied` is told from `error`). Nothing here can delay or fail a call: the event is queued
 * and sent in the background, and a fault in building it is logged, never thrown.
 */
export function instrumentMcpServer(
  server: McpServer | Server,
  options: EmitterOptions = {},
): Instrumentation {
  validateOptions(options);
  const mcp = ("server" in server ? server : undefined) as McpServerInternals | undefined;
  const inner = (mcp ? mcp.server : server) as unknown as ProtocolInternals;
  const handlers = inner._requestHandlers;
  if (!(handlers instanceof Map)) {
    throw new Error(
      "chainwatch emitter: this @modelcontextprotocol/sdk version is not supported (no request handler map on the server)",
    );
  }
  // A second emitter would find the handler already wrapped and silently emit nothing.
  const marked = inner as unknown as Record<symbol, unknown>;
  if (marked[INSTRUMENTED]) throw new Error("chainwatch emitter: this server is already instrumented");
  const serverName = options.serverName ?? inner._serverInfo?.name;
  if (typeof serverName !== "string" || serverName === "") {
    throw new Error("chainwatch emitter: the server has no name; pass options.serverName");
  }

  const logger =
    options.logger ??
    pino(
      { name: "chainwatch-emitter", level: process.env.CHAINWATCH_LOG_LEVEL ?? "info" },
      pino.destination(2),
    );
  const env = process.env;
  const settings = {
    resultTextLimit: options.resultTextLimit ?? 8192,
    errorSummary: options.errorSummary ?? true,
    labels: options.labels ? { ...options.labels } : undefined,
  };
  const topic = options.topic ?? env.CHAINWATCH_INPUT_TOPIC ?? "mcp.tool-calls";
  const queueSize = options.queueSize ?? 10_000;
  const build = { tools: options.tools ?? {}, settings };
  const common = {
    topic,
    queueSize,
    batchSize: options.batchSize ?? 500,
    lingerMs: options.lingerMs ?? 20,
    logger,
    warnIntervalMs: options.warnIntervalMs ?? 30_000,
    build,
  };
  const delivery: CallDelivery = options.producer
    ? new Delivery({ ...common, producer: options.producer })
    : new ThreadedDelivery({
        ...common,
        brokers:
          options.brokers ??
          (env.CHAINWATCH_KAFKA_BROKERS ?? "127.0.0.1:9092").split(",").map((b) => b.trim()),
        clientId: options.clientId ?? "chainwatch-emitter",
        ...producerSecurity(options, env),
        queueBytes: options.queueBytes ?? Math.min(queueSize * 2048, 16 * 1024 * 1024),
      });
  const policyOf = policyResolver(options.tools);
  const userIdOf = options.userId;
  const isDenied = options.isDenied ?? defaultIsDenied;
  const anonymous = options.anonymousUserId ?? "anonymous";
  /** What tool callbacks threw, by the request's `extra` (looked at only for an `isError` result). */
  const thrownBy = new WeakMap<object, unknown>();
  let closed = false;
  const faultLog = rateLimited(logger, 30_000);

  /** Makes the finished call its own record (outcome, error text, result extract) and hands it on. */
  const record = (call: Call) => {
    try {
      const { returned, error, extra } = call;
      if (error !== undefined) {
        call.outcome = isDenied(error) ? "denied" : "error";
        call.errorMessage = error instanceof Error ? error.message : String(error);
      } else if (isObject(returned) && returned.isError === true) {
        const thrown = isObject(extra) ? thrownBy.get(extra) : undefined;
        if (thrown !== undefined) thrownBy.delete(extra as object);
        call.outcome = thrown !== undefined && isDenied(thrown) ? "denied" : "error";
        call.errorMessage = resultText(returned);
      }
      call.result = extractResult(returned, policyOf(call.tool), settings.resultTextLimit);
      // The costly half (ids, hash, masking) is the delivery's: the built-in producer's thread does it.
      delivery.push(call, !call.known);
    } catch (err) {
      faultLog("building a tool-call event failed; the call itself is unaffected", err);
    }
  };

  // Events are built after the response is on its way: redaction, hashing and ids cost the call
  // nothing. Everything finished in one turn of the event loop is recorded in one go; the two
  // arrays take turns, so a turn allocates none.
  let pending: Call[] = [];
  let spare: Call[] = [];
  const drain = () => {
    const batch = pending;
    pending = spare;
    for (const call of batch) record(call);
    batch.length = 0;
    spare = batch;
  };
  const finish = (call: Call, returned: unknown, error: unknown) => {
    if (closed) return;
    call.durationMs = performance.now() - call.t0;
    call.returned = returned;
    call.error = error;
    if (pending.push(call) === 1) setImmediate(drain);
  };

  /**
   * What is known when the request arrives; read now, because the OTel context is the caller's now,
   * and the user asked now, in the request's own async context (an AsyncLocalStorage-based lookup
   * sees the right request), not later when the event is built.
   */
  const start = (request: unknown, extra: unknown): Call => {
    const call = new Call(serverName, anonymous, extra);
    const params = isObject(request) && isObject(request.params) ? request.params : {};
    const meta = isObject(params._meta) ? params._meta : undefined;
    const x = isObject(extra) ? extra : {};
    const requestInfo = isObject(x.requestInfo) ? x.requestInfo : undefined;
    const name = params.name;
    if (typeof name === "string" && name !== "") call.tool = name.slice(0, 256);
    call.rawArguments = params.arguments;
    call.trace = traceIdsOf(meta);
    call.sessionId = typeof x.sessionId === "string" ? x.sessionId : undefined;
    call.agentId = inner.getClientVersion?.()?.name;
    try {
      const authInfo = x.authInfo as CallContext["authInfo"];
      const user = userIdOf
        ? userIdOf({
            tool: call.tool,
            arguments: isObject(call.rawArguments) ? call.rawArguments : undefined,
            authInfo,
            sessionId: call.sessionId,
            headers: requestInfo?.headers as CallContext["headers"],
            meta,
            clientName: call.agentId,
          })
        : userIdFromAuth(authInfo);
      if (typeof user === "string" && user !== "") {
        call.userId = user.slice(0, 256);
        call.known = true;
      }
    } catch (err) {
      faultLog("userId() threw; the event is sent as anonymous", err);
    }
    return call;
  };

  const wrapHandler = (original: RawHandler): RawHandler => {
    const wrapped: RawHandler = (request, extra) => {
      const call = start(request, extra);
      let running: Promise<unknown>;
      try {
        running = original(request, extra);
      } catch (err) {
        finish(call, undefined, err);
        throw err;
      }
      return running.then(
        (result) => {
          finish(call, result, undefined);
          return result;
        },
        (err: unknown) => {
          finish(call, undefined, err);
          throw err;
        },
      );
    };
    (wrapped as unknown as Record<symbol, unknown>)[WRAPPED] = true;
    return wrapped;
  };

  const wrapToolsCall = () => {
    const current = handlers.get(TOOLS_CALL) as RawHandler | undefined;
    if (current && !(current as unknown as Record<symbol, unknown>)[WRAPPED]) {
      handlers.set(TOOLS_CALL, wrapHandler(current));
    }
  };

  const noteThrown = (extra: unknown, err: unknown) => {
    if (isObject(extra)) thrownBy.set(extra, err);
  };
  const wrapCallback = (cb: unknown): unknown => {
    if (typeof cb !== "function" || (cb as unknown as Record<symbol, unknown>)[WRAPPED]) return cb;
    const original = cb as (...args: unknown[]) => unknown;
    // Watches for a throw, and changes nothing else: the SDK gets what the tool returned (a promise
    // is observed, not replaced), so a call that succeeds costs one reaction more than unwrapped.
    const wrapped = function (this: unknown, ...args: unknown[]) {
      // The SDK passes the request's `extra` last; it is the key the handler wrap finds a throw by.
      const extra = args[args.length - 1];
      let out: unknown;
      try {
        out = original.apply(this, args);
      } catch (err) {
        noteThrown(extra, err);
        throw err;
      }
      if (!isThenable(out)) return out;
      const running = Promise.resolve(out);
      running.then(undefined, (err: unknown) => noteThrown(extra, err));
      return running;
    };
    (wrapped as unknown as Record<symbol, unknown>)[WRAPPED] = true;
    return wrapped;
  };

  const wrapRegisteredTool = (registered: unknown) => {
    if (!isObject(registered) || typeof registered.update !== "function") return;
    const update = registered.update as (u: Record<string, unknown>) => unknown;
    registered.update = (updates: Record<string, unknown>) =>
      update.call(
        registered,
        "callback" in updates ? { ...updates, callback: wrapCallback(updates.callback) } : updates,
      );
  };

  // Tools registered before instrumenting.
  for (const registered of Object.values(mcp?._registeredTools ?? {})) {
    if (typeof registered.handler === "function") registered.handler = wrapCallback(registered.handler);
    wrapRegisteredTool(registered);
  }
  // Tools registered later: wrap their callbacks, and the request handler McpServer installs lazily.
  for (const method of ["registerTool", "tool"] as const) {
    const original = mcp?.[method];
    if (!mcp || typeof original !== "function") continue;
    mcp[method] = (...args: unknown[]) => {
      const last = args.length - 1;
      if (last >= 0) args[last] = wrapCallback(args[last]);
      const registered = original.apply(mcp, args);
      wrapRegisteredTool(registered);
      wrapToolsCall();
      return registered;
    };
  }
  // Any other way a tools/call handler gets set (a low-level Server, a later SDK version).
  const setRequestHandler = inner.setRequestHandler;
  inner.setRequestHandler = function (this: unknown, ...args: never[]) {
    const out = setRequestHandler.apply(this, args);
    wrapToolsCall();
    return out;
  };
  wrapToolsCall();
  marked[INSTRUMENTED] = true;

  return {
    flush: () => {
      drain();
      return delivery.flush();
    },
    close: async () => {
      drain();
      closed = true;
      await delivery.close(options.closeTimeoutMs ?? 5_000);
    },
    stats: () => {
      drain();
      return delivery.stats();
    },
  };
}

/**
 * One tools/call, followed from the request to its end. Once finished it is also the call record
 * a delivery takes (the fields of `CallRecord`; the others are for while it runs): one object per
 * call, not one per stage.
 */
class Call implements CallRecord {
  readonly receivedAt = Date.now();
  readonly t0 = performance.now();
  durationMs = 0;
  rawArguments: unknown = undefined;
  tool = "(missing)";
  userId: string;
  /** Whether `userId` came from the `userId` option, not the anonymous default. */
  known = false;
  sessionId: string | undefined = undefined;
  agentId: string | undefined = undefined;
  outcome: Outcome = "success";
  result: ResultExtract | undefined = undefined;
  errorMessage: string | undefined = undefined;
  trace: TraceIds | undefined = undefined;
  /** The request's `extra`, by which the callback wrap notes what a tool threw. */
  extra: unknown;
  /** What the request handler returned or threw. */
  returned: unknown = undefined;
  error: unknown = undefined;

  constructor(
    readonly server: string,
    anonymous: string,
    extra: unknown,
  ) {
    this.userId = anonymous;
    this.extra = extra;
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    (typeof v === "object" || typeof v === "function") &&
    v !== null &&
    typeof (v as { then?: unknown }).then === "function"
  );
}

function rateLimited(logger: Logger, intervalMs: number): (msg: string, err: unknown) => void {
  let last = 0;
  return (msg, err) => {
    const now = Date.now();
    if (now - last < intervalMs) return;
    last = now;
    logger.error({ err }, `chainwatch emitter: ${msg}`);
  };
}

/**
 * TLS and SASL of the built-in producer: the options, else the variables `chainwatch run` reads for
 * them (validated the same way; a CA file is read here, so the thread gets its text).
 */
function producerSecurity(options: EmitterOptions, env: NodeJS.ProcessEnv): KafkaSecurity {
  const out: KafkaSecurity = {};
  const fromEnv = options.ssl === undefined || options.sasl === undefined ? kafkaSecurityFromEnv(env) : {};
  const ssl = options.ssl ?? fromEnv.ssl;
  if (ssl) out.ssl = typeof ssl === "boolean" ? ssl : { ca: ([] as string[]).concat(ssl.ca) };
  const sasl = options.sasl ?? fromEnv.sasl;
  if (sasl) out.sasl = { ...sasl };
  return out;
}

function kafkaSecurityFromEnv(env: NodeJS.ProcessEnv): KafkaSecurity {
  // Only these variables: brokers and topic have options and defaults of their own here.
  const security = Object.fromEntries(
    Object.entries(env).filter(
      ([k]) => k.startsWith("CHAINWATCH_KAFKA_TLS") || k.startsWith("CHAINWATCH_KAFKA_SASL_"),
    ),
  );
  let c: ReturnType<typeof loadProducerConfig>;
  try {
    c = loadProducerConfig({ env: security });
  } catch (err) {
    if (err instanceof ConfigError) throw new TypeError(`chainwatch emitter: ${err.problems.join("; ")}`);
    throw err;
  }
  try {
    return kafkaSecurity(c);
  } catch (err) {
    // Only the CA file is read here.
    throw new TypeError(`chainwatch emitter: CHAINWATCH_KAFKA_TLS_CA: ${(err as Error).message}`);
  }
}
