// kafkajs's request queue as mended by src/stream/kafkajs/request-queue-fix.ts: no timer while nothing
// waits, and requests that do wait (a full in-flight window, a broker's throttle) still go out.
import { afterEach, describe, expect, it, vi } from "vitest";
import { RequestQueue, requestQueueMended } from "../../src/stream/kafkajs/request-queue-fix.js";

interface Queue {
  pending: unknown[];
  inflight: Map<number, unknown>;
  throttleCheckTimeoutId: unknown;
  throttledUntil: number;
  push(request: object): void;
  fulfillRequest(response: { correlationId: number; payload: Buffer; size: number }): void;
  maybeThrottle(ms: number): void;
  destroy(): void;
}

const logger = { debug() {}, info() {}, warn() {}, error() {} };

function queue(maxInFlightRequests: number): { q: Queue; sent: number[] } {
  const sent: number[] = [];
  const q = new RequestQueue!({
    maxInFlightRequests,
    requestTimeout: 30_000,
    enforceRequestTimeout: false,
    clientId: "t",
    broker: "b:9092",
    logger,
  }) as unknown as Queue;
  return { q, sent };
}

function request(sent: number[], correlationId: number) {
  return {
    entry: { correlationId, apiKey: 0, apiName: "Produce", apiVersion: 3, resolve() {}, reject() {} },
    expectResponse: true,
    sendRequest: () => sent.push(correlationId),
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("kafkajs request queue, mended", () => {
  it("is mended on import", () => {
    expect(RequestQueue).toBeDefined();
    expect(requestQueueMended()).toBe(true);
  });

  it("arms no timer once a response leaves nothing waiting (kafkajs 2.2.4 re-armed a 1 ms one for ever)", () => {
    vi.useFakeTimers();
    const { q, sent } = queue(5);
    q.push(request(sent, 1));
    q.fulfillRequest({ correlationId: 1, payload: Buffer.alloc(0), size: 0 });
    expect(sent).toEqual([1]);
    expect(q.throttleCheckTimeoutId).toBeNull();
    expect(vi.getTimerCount()).toBe(0);
    q.destroy();
  });

  it("still sends a request that waited for a full in-flight window, when a response frees it", () => {
    vi.useFakeTimers();
    const { q, sent } = queue(1);
    q.push(request(sent, 1));
    q.push(request(sent, 2));
    expect(sent).toEqual([1]);
    expect(q.pending).toHaveLength(1);
    q.fulfillRequest({ correlationId: 1, payload: Buffer.alloc(0), size: 0 });
    expect(sent).toEqual([1, 2]);
    q.fulfillRequest({ correlationId: 2, payload: Buffer.alloc(0), size: 0 });
    // The check armed while request 2 waited runs once, finds nothing, and is not armed again.
    vi.advanceTimersByTime(100);
    expect(vi.getTimerCount()).toBe(0);
    q.destroy();
  });

  it("sends a request held by a broker's throttle once the throttle ends, with no response to trigger it", () => {
    vi.useFakeTimers();
    const { q, sent } = queue(5);
    q.maybeThrottle(50);
    q.push(request(sent, 1));
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(49);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(20);
    expect(sent).toEqual([1]);
    q.destroy();
  });
});
