import type { CallRecord, EventBuild } from "../../src/emitter/event.js";

/** A successful call to tool `t` as the server's thread records it, with `over` in place of its fields. */
export function callRecord(over: Partial<CallRecord> = {}): CallRecord {
  return {
    receivedAt: 1_700_000_000_000,
    durationMs: 1,
    tool: "t",
    rawArguments: {},
    userId: "u",
    server: "s",
    sessionId: undefined,
    agentId: undefined,
    outcome: "success",
    result: undefined,
    errorMessage: undefined,
    trace: undefined,
    ...over,
  };
}

/** How a delivery builds events in these tests: tool `t` may send the given argument fields. */
export const buildWith = (args: string[]): EventBuild => ({
  tools: { t: { arguments: args } },
  settings: { resultTextLimit: 8192, errorSummary: true, labels: undefined },
});
