/**
 * Mends kafkajs 2.2.4's read_committed filter, which lets records of aborted transactions through
 * when transactions of two producers overlap in one partition. The broker lists a fetch's aborted
 * transactions in the order they ended, not began, and kafkajs steps into at most one of them per
 * record, at the head of that list: a transaction that began first but aborted last is entered
 * late, and its records before that point reach the application. The Java client orders the list
 * by first offset and enters every transaction that has begun (Fetcher's abortedTransactions queue).
 *
 * chainwatch's alert and dead-letter topics are written by one transactional producer per input
 * partition, so their transactions overlap by design; an aborted attempt (a failed commit, retried)
 * was read back as a duplicate by a kafkajs reader, ours included.
 *
 * The mend filters each fetched partition the Java client's way as the Fetch answer is decoded,
 * then hands kafkajs an empty aborted list, so its own filter passes everything on. Control records
 * stay: kafkajs needs them to move past a transaction's end. Applied once, on import, to the Fetch
 * answer decoders (versions 4 to 11, the ones with aborted transactions); a kafkajs laid out
 * differently is left alone.
 */
import { createRequire } from "node:module";

/** What the mend reads of a record kafkajs decoded. */
export interface FetchedRecord {
  offset: string;
  key: Buffer | null;
  isControlRecord?: boolean;
  /** Absent in the pre-0.11 message format, which has no transactions. */
  batchContext?: { producerId: string; inTransaction: boolean };
}

/** One aborted transaction in a Fetch answer: its producer and its first offset in the partition. */
export interface AbortedTransaction {
  producerId: string;
  firstOffset: string;
}

/** A control record's key: version (int16), then type (int16), 0 = abort, 1 = commit. */
function isAbortMarker(r: FetchedRecord): boolean {
  const k = r.key;
  return !!k && k.length >= 4 && k.readInt16BE(2) === 0;
}

/**
 * The records a read_committed reader may see, control records kept: those of a producer are dropped
 * from the first offset of its aborted transaction up to that transaction's abort marker.
 */
export function withoutAborted(records: FetchedRecord[], aborted: AbortedTransaction[]): FetchedRecord[] {
  if (aborted.length === 0) return records;
  const pending = [...aborted].sort((a, b) => compareOffsets(a.firstOffset, b.firstOffset));
  const abortedProducers = new Set<string>();
  let next = 0;
  const out: FetchedRecord[] = [];
  for (const r of records) {
    const offset = BigInt(r.offset);
    while (next < pending.length && BigInt(pending[next]!.firstOffset) <= offset) {
      abortedProducers.add(pending[next]!.producerId);
      next++;
    }
    if (!r.batchContext) {
      out.push(r);
      continue;
    }
    const { producerId, inTransaction } = r.batchContext;
    if (r.isControlRecord) {
      if (isAbortMarker(r)) abortedProducers.delete(producerId);
      out.push(r);
    } else if (!(inTransaction && abortedProducers.has(producerId))) {
      out.push(r);
    }
  }
  return out;
}

function compareOffsets(a: string, b: string): number {
  const d = BigInt(a) - BigInt(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

interface FetchAnswer {
  responses?: Array<{
    partitions?: Array<{ abortedTransactions?: AbortedTransaction[] | null; messages?: FetchedRecord[] }>;
  }>;
}

interface ResponseModule {
  decode: (raw: Buffer) => Promise<FetchAnswer>;
  [PATCHED]?: boolean;
}

const PATCHED = Symbol.for("chainwatch.kafkajs.readCommittedFix");
const VERSIONS = [4, 5, 6, 7, 8, 9, 10, 11];

function mend(answer: FetchAnswer): FetchAnswer {
  for (const topic of answer.responses ?? []) {
    for (const p of topic.partitions ?? []) {
      if (!p.abortedTransactions?.length) continue;
      p.messages = withoutAborted(p.messages ?? [], p.abortedTransactions);
      p.abortedTransactions = [];
    }
  }
  return answer;
}

/** The Fetch answer versions now mended (all of 4 to 11 with this kafkajs). */
export const mendedFetchVersions: number[] = [];

const require = createRequire(import.meta.url);
for (const v of VERSIONS) {
  let mod: ResponseModule;
  try {
    mod = require(`kafkajs/src/protocol/requests/fetch/v${v}/response.js`);
  } catch {
    continue; // another kafkajs layout: nothing to mend
  }
  if (typeof mod.decode !== "function") continue;
  if (!mod[PATCHED]) {
    const decode = mod.decode;
    mod.decode = async (raw) => mend(await decode(raw));
    mod[PATCHED] = true;
  }
  mendedFetchVersions.push(v);
}
