import { once } from "node:events";
import { createReadStream, createWriteStream, openSync } from "node:fs";
import { access, constants, stat } from "node:fs/promises";
import type { Readable, Writable } from "node:stream";
import type { Command } from "commander";
import { encodeAlert } from "../alerts/build.js";
import { Detector } from "../engine/detector.js";
import { isBlankLine, jsonlLines } from "../events/jsonl.js";
import { parseEvent } from "../events/parse.js";
import type { PatternSet } from "../patterns/compiled.js";
import { loadPatternSet, PatternLoadError } from "../patterns/index.js";
import { MemoryStore } from "../state/memory.js";
import { type BatchItem, processBatch } from "../stream/batch.js";
import { createLogger } from "../telemetry/logger.js";
import { type CliContext, UsageError } from "./errors.js";

export interface ReplayOptions {
  patterns: string[];
  taxonomy: string[];
  input: string;
  output: string;
  dlq?: string;
  batchSize: number;
  progress: boolean;
  logLevel: string;
}

export interface ReplayStats {
  lines: number;
  events: number;
  invalid: number;
  duplicates: number;
  tooLate: number;
  evicted: number;
  alerts: number;
  alertsPerPattern: Map<string, number>;
  elapsedMs: number;
}

const PROGRESS_EVERY_MS = 3000;

export function registerReplay(program: Command, ctx: CliContext): void {
  const collect = (v: string, prev: string[]) => [...prev, v];
  program
    .command("replay")
    .description(
      "Run the detector over JSONL events (file or stdin), state in memory, alerts as JSONL to stdout or " +
        "a file. Invalid lines go to stderr (`line N: reason`) or --dlq, and the run goes on.",
    )
    .option(
      "--patterns <path>",
      "pattern file or directory (repeatable); default the built-in library",
      collect,
      [],
    )
    .option("--taxonomy <file>", "taxonomy file (repeatable; merged)", collect, [])
    .option("--input <file|->", "JSONL events, - for stdin", "-")
    .option("--output <file|->", "alerts as JSONL, - for stdout", "-")
    .option("--dlq <file>", "invalid lines as JSONL {line, reason, raw} instead of stderr")
    .option("--batch-size <n>", "events per batch", "500")
    .option("--progress", "print progress on stderr every few seconds (default: when stderr is a terminal)")
    .action(async (raw: Record<string, unknown>, cmd: Command) => {
      const { logLevel } = cmd.optsWithGlobals<{ logLevel: string }>();
      const batchSize = Number(raw.batchSize);
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1_000_000) {
        throw new UsageError(
          `replay: --batch-size must be an integer from 1 to 1000000, got '${raw.batchSize}'`,
        );
      }
      const opts: ReplayOptions = {
        patterns: raw.patterns as string[],
        taxonomy: raw.taxonomy as string[],
        input: raw.input as string,
        output: raw.output as string,
        batchSize,
        progress: raw.progress === true || process.stderr.isTTY === true,
        logLevel,
      };
      if (typeof raw.dlq === "string") opts.dlq = raw.dlq;
      await replay(opts);
      ctx.setExitCode(0);
    });
}

/** Loads the patterns (a pattern error is a usage error: exit 2) and replays the input. */
export async function replay(opts: ReplayOptions): Promise<ReplayStats> {
  const logger = createLogger(opts.logLevel, { command: "replay" });
  let set: PatternSet;
  try {
    set = await loadPatternSet({
      ...(opts.patterns.length ? { patterns: opts.patterns } : {}),
      taxonomies: opts.taxonomy,
    });
  } catch (err) {
    if (err instanceof PatternLoadError) throw new UsageError(`replay: invalid patterns:\n${err.message}`);
    throw err;
  }
  if (opts.input !== "-") {
    try {
      await access(opts.input, constants.R_OK);
      if ((await stat(opts.input)).isDirectory()) throw new Error("a directory");
    } catch {
      throw new UsageError(`replay: cannot read --input ${opts.input}`);
    }
  }
  logger.info({ patterns: set.patterns.length, retentionMs: set.retentionMs }, "patterns loaded");

  const input: Readable = opts.input === "-" ? process.stdin : createReadStream(opts.input);
  const output = opts.output === "-" ? process.stdout : openForWriting(opts.output, "--output");
  const dlq = opts.dlq ? openForWriting(opts.dlq, "--dlq") : undefined;
  const stats = await run(set, input, output, dlq, opts, logger);
  if (output !== process.stdout) await closeStream(output);
  if (dlq) await closeStream(dlq);
  process.stderr.write(summaryText(stats));
  logger.debug({ ...stats, alertsPerPattern: Object.fromEntries(stats.alertsPerPattern) }, "replay done");
  return stats;
}

async function run(
  set: PatternSet,
  input: Readable,
  output: Writable,
  dlq: Writable | undefined,
  opts: ReplayOptions,
  logger: ReturnType<typeof createLogger>,
): Promise<ReplayStats> {
  // A file is read once: no re-delivery, so no outbox to keep.
  const engine = new Detector(set, { outbox: false });
  // Replay keeps every group it needs: drop one only once it has been idle well past the window and
  // any suppress period (then it could not change a result).
  const maxSuppress = Math.max(0, ...set.patterns.map((p) => p.suppressMs));
  // Duplicates are global by event_id (patterns.md): an id is remembered for the whole input, not 24 h
  // of event time, bounded only by the count (the oldest of more than 2 million go first, counted).
  const store = new MemoryStore({
    maxGroups: 10_000_000,
    idleMs: 2 * (set.retentionMs + maxSuppress) + 3_600_000,
    seenTtlMs: Number.POSITIVE_INFINITY,
  });
  const stats: ReplayStats = {
    lines: 0,
    events: 0,
    invalid: 0,
    duplicates: 0,
    tooLate: 0,
    evicted: 0,
    alerts: 0,
    alertsPerPattern: new Map(),
    elapsedMs: 0,
  };
  const started = Date.now();
  let lastProgress = started;
  let outputClosed = false;
  output.on("error", (err: NodeJS.ErrnoException) => {
    // A closed pipe (`| head`) ends the output, not the run with a stack trace.
    if (err.code === "EPIPE") outputClosed = true;
    else logger.error({ err }, "output error");
  });

  let batch: BatchItem[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const r = await processBatch(engine, store, batch);
    batch = [];
    stats.duplicates += r.duplicates;
    stats.tooLate += r.tooLate;
    stats.evicted += r.evicted;
    for (const alert of r.alerts) {
      stats.alerts++;
      stats.alertsPerPattern.set(alert.pattern.id, (stats.alertsPerPattern.get(alert.pattern.id) ?? 0) + 1);
      if (!outputClosed && !(await write(output, Buffer.concat([encodeAlert(alert), NEWLINE]))))
        outputClosed = true;
    }
    if (opts.progress && Date.now() - lastProgress >= PROGRESS_EVERY_MS) {
      lastProgress = Date.now();
      process.stderr.write(`replay: ${progressText(stats, lastProgress - started)}\n`);
    }
  };

  for await (const line of jsonlLines(input)) {
    const n = ++stats.lines;
    if (isBlankLine(line)) continue;
    const parsed = parseEvent(line);
    if (!parsed.ok) {
      stats.invalid++;
      const raw = line.toString("utf8");
      if (dlq) await write(dlq, `${JSON.stringify({ line: n, reason: parsed.reason, raw })}\n`);
      else process.stderr.write(`line ${n}: ${parsed.reason}\n`);
      continue;
    }
    stats.events++;
    batch.push({ event: parsed.event, source: { line: n } });
    if (batch.length >= opts.batchSize) await flush();
    // Nobody reads the alerts any more: stop reading the input too.
    if (outputClosed) break;
  }
  await flush();
  await store.close();
  stats.elapsedMs = Date.now() - started;
  return stats;
}

const NEWLINE = Buffer.from("\n");

/** Opens an output file up front, so that an unwritable path is a usage error, not a crash later. */
function openForWriting(path: string, flag: string): Writable {
  let fd: number;
  try {
    fd = openSync(path, "w");
  } catch (err) {
    throw new UsageError(
      `replay: cannot write ${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
  return createWriteStream(path, { fd });
}

/**
 * Writes, waiting for `drain` when the stream's buffer is full (backpressure). Resolves false when
 * the reader went away (EPIPE, e.g. `| head`).
 */
async function write(stream: Writable, chunk: string | Buffer): Promise<boolean> {
  if (stream.destroyed) return false;
  try {
    if (!stream.write(chunk)) await once(stream, "drain");
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EPIPE") return false;
    throw err;
  }
}

async function closeStream(stream: Writable): Promise<void> {
  stream.end();
  if (!stream.writableFinished) await once(stream, "finish");
}

function rate(events: number, ms: number): number {
  return ms > 0 ? Math.round((events * 1000) / ms) : events;
}

function progressText(s: ReplayStats, ms: number): string {
  return `${s.events} events, ${s.invalid} invalid, ${s.alerts} alerts, ${rate(s.events, ms)} events/s`;
}

function summaryText(s: ReplayStats): string {
  const lines = [
    `replay: ${s.events} events read (${s.lines} lines), ${s.invalid} invalid, ${s.duplicates} duplicates, ` +
      `${s.tooLate} too late, ${s.alerts} alerts in ${(s.elapsedMs / 1000).toFixed(2)}s ` +
      `(${rate(s.events, s.elapsedMs)} events/s)`,
  ];
  if (s.evicted > 0) lines.push(`replay: ${s.evicted} events evicted by the per-group bound`);
  const perPattern = [...s.alertsPerPattern].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  for (const [id, n] of perPattern) lines.push(`  ${id}: ${n}`);
  return `${lines.join("\n")}\n`;
}
