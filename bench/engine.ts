/**
 * Engine benchmark (`npm run bench:engine`): single thread, in process — Detector + MemoryStore +
 * processBatch in batches of 500 over seeded synthetic traffic of 10 000 users, with 10, 100 and
 * 1 000 generated pattern variants over the built-in taxonomy. Prints a table and writes
 * bench/results/engine.json. Every configuration sees the same traffic; the compiler's
 * `CompiledWhere.key` is on, as in production. While iterating: `BENCH_EVENTS` sets the event count
 * (default 600 000), `BENCH_PATTERNS` the pattern counts (e.g. `100`); a run with either set prints
 * only and leaves the results file alone (unless `BENCH_WRITE=1`).
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Detector } from "../src/engine/detector.js";
import type { ToolCallEvent } from "../src/events/schema.js";
import type { PatternSet } from "../src/patterns/compiled.js";
import { patternSetFromJson } from "../src/patterns/index.js";
import { MemoryStore } from "../src/state/memory.js";
import { type BatchItem, processBatch } from "../src/stream/batch.js";
import { int, pick, prng, type Rand } from "./lib/random.js";
import { machine, writeResults } from "./lib/results.js";

const ROOT = join(fileURLToPath(new URL(".", import.meta.url)), "..");
const USERS = 10_000;
const EVENTS = Number(process.env.BENCH_EVENTS ?? 600_000);
const BATCH = 500;
const ATTACK_SHARE = 0.03;
/** Mean gap between two events of the whole stream: 600 000 events span ~100 minutes. */
const GAP_MS = 10;

// --- seeded randomness -----------------------------------------------------------------------

// --- traffic ---------------------------------------------------------------------------------
const SERVERS: Record<string, { benign: string[]; weights?: number[] }> = {
  ehr: {
    benign: [
      "list_patients",
      "search_patients",
      "get_patient_record",
      "read_chart",
      "get_schedule",
      "update_note",
    ],
  },
  mail: { benign: ["search_emails", "read_email", "list_folders", "draft_email", "send_email"] },
  files: { benign: ["list_directory", "read_file", "write_file", "get_file_info", "search_files"] },
  crm: { benign: ["query_accounts", "get_contact", "update_contact", "list_opportunities", "get_config"] },
  web: { benign: ["fetch_url", "get_webpage", "search_web"] },
};
const SERVER_NAMES = Object.keys(SERVERS);

let eventSeq = 0;
function baseEvent(r: Rand, user: number, ts: number, server: string, tool: string): ToolCallEvent {
  return {
    event_id: `e-${(eventSeq++).toString(36)}`,
    timestamp: ts,
    user_id: `u-${user}`,
    server,
    tool,
    method: "tools/call",
    session_id: `s-${user}-${Math.floor(ts / 3_600_000)}`,
    agent_id: pick(r, ["claude-desktop", "cursor", "custom-agent"]),
    outcome: r() < 0.95 ? "success" : "error",
    duration_ms: int(r, 5, 400),
    schema_version: 1,
  };
}

function benign(r: Rand, user: number, ts: number): ToolCallEvent {
  const server = pick(r, SERVER_NAMES);
  const tool = pick(r, SERVERS[server]!.benign);
  const e = baseEvent(r, user, ts, server, tool);
  e.arguments = {
    patient_id: `p-${int(r, 1, 5000)}`,
    query: "follow-up",
    to: `dr${int(r, 1, 50)}@corp.example`,
  };
  if (tool === "send_email") e.arguments.attachment = `f-${int(r, 1, 1e6)}`;
  if (tool.startsWith("read") || tool.startsWith("get"))
    e.result = { text: "routine content", records: int(r, 1, 20) };
  e.risk_level = pick(r, ["low", "low", "medium", "high"]);
  return e;
}

/** An attack chain for one user, starting at ts: enumerate ×k → export → send the file out. */
function chain(r: Rand, user: number, ts: number): ToolCallEvent[] {
  const out: ToolCallEvent[] = [];
  let t = ts;
  const later = (lo: number, hi: number) => {
    t += int(r, lo, hi);
    return t;
  };
  const k = int(r, 3, 6);
  for (let i = 0; i < k; i++) {
    const e = baseEvent(r, user, later(500, 5000), "ehr", pick(r, ["list_patients", "search_patients"]));
    e.arguments = { patient_id: `p-${int(r, 1, 5000)}` };
    e.outcome = "success";
    out.push(e);
  }
  const file = `f-x${int(r, 1, 1e6)}`;
  const ex = baseEvent(r, user, later(1000, 20_000), "ehr", "export_records");
  Object.assign(ex, {
    outcome: "success",
    arguments: { format: "csv" },
    result: { file_id: file },
    risk_level: "high",
  });
  out.push(ex);
  if (r() < 0.3) {
    const ok = baseEvent(r, user, later(500, 500), "ehr", "delete_records");
    Object.assign(ok, {
      outcome: "success",
      risk_level: "critical",
      hitl: { required: true, approved: false },
    });
    out.push(ok);
  }
  const send = baseEvent(r, user, later(1000, 60_000), "mail", "send_email");
  Object.assign(send, {
    outcome: "success",
    arguments: { to: `drop${int(r, 1, 9)}@evil.example`, attachment: file, body: "see attached" },
  });
  out.push(send);
  return out;
}

function traffic(): ToolCallEvent[] {
  const r = prng(42);
  const events: ToolCallEvent[] = [];
  const pending: ToolCallEvent[] = [];
  let ts = Date.UTC(2026, 10, 20, 8, 0, 0);
  while (events.length < EVENTS) {
    ts += int(r, 0, 2 * GAP_MS);
    if (pending.length && pending[0]!.timestamp <= ts) {
      events.push(pending.shift()!);
      continue;
    }
    const user = int(r, 0, USERS - 1);
    if (r() < ATTACK_SHARE / 6) {
      pending.push(...chain(r, user, ts));
      pending.sort((a, b) => a.timestamp - b.timestamp);
    } else events.push(benign(r, user, ts));
  }
  return events;
}

// --- patterns --------------------------------------------------------------------------------
const ENUM_TOOLS = ["list_patients", "search_patients", "query_accounts", "list_directory", "search_files"];
const SINK_DOMAINS = ["*@corp.example", "*@hospital.example", "*@partner.example"];

/** Servers a pattern library also covers but this traffic never calls (as in a real deployment). */
const OTHER_SERVERS = [
  "jira",
  "slack",
  "github",
  "gdrive",
  "salesforce",
  "postgres",
  "k8s",
  "stripe",
  "okta",
  "notion",
];

/**
 * The i-th generated pattern: one of six realistic templates with varied tools, categories and args.
 * Like a real library, most variants target one server (a third of them one this traffic uses).
 */
function patternJson(i: number, r: Rand): Record<string, unknown> {
  const id = `bench.t${i % 6}.v${i}`;
  // The first variant of each template targets a server of this traffic, so that small sets alert too.
  const server = i < 6 ? "ehr" : r() < 0.35 ? pick(r, SERVER_NAMES) : pick(r, OTHER_SERVERS);
  const base = { id, version: 1, title: id, severity: pick(r, ["low", "medium", "high", "critical"]) };
  const within = `${pick(r, [2, 5, 10, 15, 30])}m`;
  switch (i % 6) {
    case 0:
      return {
        ...base,
        within,
        steps: [
          {
            id: "enumerate",
            where:
              r() < 0.5
                ? { category: "enumerate", server }
                : { tool: { in: [pick(r, ENUM_TOOLS), pick(r, ENUM_TOOLS)] }, server },
            count: { min: int(r, 2, 5), distinct: "arguments.patient_id" },
          },
          {
            id: "export",
            where: { category: "export", outcome: "success", "result.file_id": { exists: true } },
          },
          {
            id: "transmit",
            where: { category: "public_sink", "arguments.to": { not: { glob: pick(r, SINK_DOMAINS) } } },
          },
        ],
        join: [{ left: "export.result.file_id", right: "transmit.arguments.attachment" }],
        absent: [{ where: { category: "approval" }, after: "export", before: "transmit" }],
      };
    case 1:
      return {
        ...base,
        within,
        steps: [
          { id: "read", where: { category: pick(r, ["private_data", "credential", "config_read"]), server } },
          { id: "send", where: { tool: { glob: pick(r, ["send_*", "post_*", "upload_*", "*_webhook"]) } } },
        ],
        join: [{ left: "read.result.text", right: "send.arguments.body", op: "contains" }],
      };
    case 2:
      return {
        ...base,
        steps: [
          {
            id: "call",
            where: {
              risk_level: { gte: pick(r, ["high", "critical"]) },
              "hitl.approved": false,
              server,
            },
          },
        ],
      };
    case 3:
      return {
        ...base,
        within: `${pick(r, [1, 2, 5])}m`,
        steps: [
          {
            id: "delete",
            where: { category: "destructive", outcome: "success", server },
            count: { min: int(r, 5, 15) },
          },
        ],
      };
    case 4:
      return {
        ...base,
        within,
        order: "any",
        steps: [
          {
            id: "untrusted",
            where: {
              category: "untrusted_content",
              "result.text": { regex: pick(r, ["ignore (all|previous)", "SYSTEM:", "<!--.*-->"]) },
            },
          },
          { id: "act", where: { category: pick(r, ["public_sink", "code_exec", "privilege", "financial"]) } },
        ],
      };
    default:
      return {
        ...base,
        within,
        steps: [
          {
            id: "grant",
            where: {
              category: "privilege",
              "arguments.role": { in: ["admin", "owner", pick(r, ["root", "superuser"])] },
            },
          },
          { id: "access", where: { category: "private_data", server } },
        ],
        absent: [{ where: { tool: { glob: "hitl_*" } }, after: "grant", before: "access" }],
      };
  }
}

function patternSet(n: number): PatternSet {
  const r = prng(7 + n);
  const taxonomy = JSON.parse(readFileSync(join(ROOT, "patterns", "taxonomy.json"), "utf8"));
  const jsons = Array.from({ length: n }, (_, i) => patternJson(i, r));
  // The compiler sets CompiledWhere.key: equal wheres of different patterns share one evaluation.
  return patternSetFromJson(
    jsons.map((json, i) => ({ json, source: `bench-${i}.json` })),
    [{ json: taxonomy, source: "patterns/taxonomy.json" }],
  );
}

// --- run -------------------------------------------------------------------------------------
interface Figures {
  patterns: number;
  events: number;
  ms: number;
  /** CPU time of this process: robust when other work shares the machine's cores. */
  cpuMs: number;
  eventsPerS: number;
  eventsPerCpuS: number;
  alerts: number;
  tooLate: number;
}

async function measure(n: number, items: BatchItem[]): Promise<Figures> {
  const set = patternSet(n);
  const engine = new Detector(set, { now: () => 0 });
  const store = new MemoryStore();
  // Warm-up on the first tenth (JIT, caches), then the whole stream on fresh state.
  const warm = new MemoryStore();
  const warmEngine = new Detector(set, { now: () => 0 });
  for (let i = 0; i < items.length / 10; i += BATCH)
    await processBatch(warmEngine, warm, items.slice(i, i + BATCH));
  let alerts = 0;
  let tooLate = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < items.length; i += BATCH) {
    const res = await processBatch(engine, store, items.slice(i, i + BATCH));
    alerts += res.alerts.length;
    tooLate += res.tooLate;
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return {
    patterns: n,
    events: items.length,
    ms,
    cpuMs,
    eventsPerS: Math.round((items.length * 1000) / ms),
    eventsPerCpuS: Math.round((items.length * 1000) / cpuMs),
    alerts,
    tooLate,
  };
}

/**
 * One configuration per process, as in a deployment (one pattern set per process) and as JMH forks
 * its benchmarks: measured in the process that first ran 10 patterns, 100 patterns ran ~20% slower
 * (V8's type feedback, trained on the other set, makes it deoptimize and reoptimize polymorphically),
 * which says more about the order of the runs than about the engine.
 */
const CHILD = process.env.BENCH_CHILD;
if (CHILD !== undefined) {
  const events = traffic();
  const items: BatchItem[] = events.map((event, i) => ({ event, source: { line: i + 1 } }));
  process.stdout.write(`${JSON.stringify(await measure(Number(CHILD), items))}\n`);
  process.exit(0);
}

function measureInChild(n: number): Figures {
  const out = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
    env: { ...process.env, BENCH_CHILD: String(n) },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split("\n").at(-1)!) as Figures;
}

const counts = (process.env.BENCH_PATTERNS ?? "10,100,1000").split(",").map(Number);
const rows: Figures[] = [];
process.stdout.write(
  `${EVENTS} events, ${USERS} users, batches of ${BATCH}, one process per pattern count\n`,
);
process.stdout.write("   patterns  events/s wall  events/s (CPU)  wall ms   alerts\n");
for (const n of counts) {
  const f = measureInChild(n);
  rows.push(f);
  process.stdout.write(
    `${String(n).padStart(11)}  ${String(f.eventsPerS).padStart(12)}  ${String(f.eventsPerCpuS).padStart(14)}  ${f.ms.toFixed(0).padStart(8)}  ${String(f.alerts).padStart(7)}\n`,
  );
}
const at = (n: number) => rows.find((r) => r.patterns === n);
const result = {
  events: EVENTS,
  users: USERS,
  process_per_pattern_count: true,
  batch_size: BATCH,
  events_per_s: at(100)?.eventsPerS ?? null,
  events_per_s_10_patterns: at(10)?.eventsPerS ?? null,
  events_per_s_1000_patterns: at(1000)?.eventsPerS ?? null,
  events_per_cpu_s: at(100)?.eventsPerCpuS ?? null,
  events_per_cpu_s_10_patterns: at(10)?.eventsPerCpuS ?? null,
  events_per_cpu_s_1000_patterns: at(1000)?.eventsPerCpuS ?? null,
  load_average_1m: Number(loadavg()[0]!.toFixed(2)),
  slowdown_10_to_1000:
    at(10) && at(1000) ? Number((at(10)!.eventsPerS / at(1000)!.eventsPerS).toFixed(2)) : null,
  alerts: at(100)?.alerts ?? null,
  alerts_10_patterns: at(10)?.alerts ?? null,
  alerts_1000_patterns: at(1000)?.alerts ?? null,
  machine: machine(),
  at: new Date().toISOString(),
};
const partial = process.env.BENCH_EVENTS !== undefined || process.env.BENCH_PATTERNS !== undefined;
if (!partial || process.env.BENCH_WRITE === "1") {
  writeResults("engine", result);
  process.stdout.write(`\nwrote bench/results/engine.json\n`);
}
