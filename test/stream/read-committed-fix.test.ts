// The read_committed filter as mended by src/stream/kafkajs/read-committed-fix.ts, on records shaped
// as kafkajs decodes them.
import { describe, expect, it } from "vitest";
import {
  type FetchedRecord,
  mendedFetchVersions,
  withoutAborted,
} from "../../src/stream/kafkajs/read-committed-fix.js";

const data = (offset: number, producerId: string, inTransaction = true): FetchedRecord => ({
  offset: String(offset),
  key: Buffer.from(`k${offset}`),
  batchContext: { producerId, inTransaction },
});
const marker = (offset: number, producerId: string, type: "abort" | "commit"): FetchedRecord => ({
  offset: String(offset),
  key: Buffer.from([0, 0, 0, type === "abort" ? 0 : 1]),
  isControlRecord: true,
  batchContext: { producerId, inTransaction: true },
});
const offsets = (rs: FetchedRecord[]) => rs.map((r) => Number(r.offset));

describe("withoutAborted", () => {
  it("drops a transaction that began first and aborted last, listed after the one inside it", () => {
    // A: 0, 2 (aborted at 4). B: 1 (aborted at 3). The broker lists B first: it ended first.
    const records = [
      data(0, "A"),
      data(1, "B"),
      data(2, "A"),
      marker(3, "B", "abort"),
      marker(4, "A", "abort"),
    ];
    const aborted = [
      { producerId: "B", firstOffset: "1" },
      { producerId: "A", firstOffset: "0" },
    ];
    expect(offsets(withoutAborted(records, aborted))).toEqual([3, 4]);
  });

  it("enters every transaction begun before the first record of a fetch that starts mid-way", () => {
    const records = [
      data(5, "B"),
      data(6, "A"),
      marker(7, "A", "abort"),
      marker(8, "B", "abort"),
      data(9, "C", false),
    ];
    const aborted = [
      { producerId: "A", firstOffset: "2" },
      { producerId: "B", firstOffset: "3" },
    ];
    expect(offsets(withoutAborted(records, aborted))).toEqual([7, 8, 9]);
  });

  it("keeps committed transactions, records outside transactions and a producer's later transactions", () => {
    const records = [
      data(0, "A"),
      data(1, "B"),
      data(2, "C", false),
      marker(3, "A", "abort"),
      data(4, "A"),
      marker(5, "B", "commit"),
      marker(6, "A", "commit"),
    ];
    expect(offsets(withoutAborted(records, [{ producerId: "A", firstOffset: "0" }]))).toEqual([
      1, 2, 3, 4, 5, 6,
    ]);
  });

  it("keeps records of the old message format, which carry no transaction", () => {
    const old: FetchedRecord = { offset: "1", key: null };
    expect(offsets(withoutAborted([data(0, "A"), old], [{ producerId: "A", firstOffset: "0" }]))).toEqual([
      1,
    ]);
  });

  it("passes everything on when nothing was aborted", () => {
    const records = [data(0, "A"), marker(1, "A", "commit")];
    expect(withoutAborted(records, [])).toBe(records);
  });

  it("is applied to every Fetch answer version that lists aborted transactions", () => {
    expect(mendedFetchVersions).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);
  });
});
