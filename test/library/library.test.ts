import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import type { Alert } from "../../src/alerts/types.js";
import { Detector } from "../../src/engine/detector.js";
import { parseEvent } from "../../src/events/parse.js";
import type { ToolCallEvent } from "../../src/events/schema.js";
import { runFixture } from "../../src/patterns/fixtures.js";
import { BUILTIN_PATTERNS_DIR, type LoadedPatternSet, loadPatternSet } from "../../src/patterns/index.js";
import { MemoryStore } from "../../src/state/memory.js";
import { type BatchItem, processBatch } from "../../src/stream/batch.js";

const EXAMPLES = fileURLToPath(new URL("../../examples/", import.meta.url));

let set: LoadedPatternSet;
beforeAll(async () => {
  set = await loadPatternSet();
});

describe("built-in pattern library", () => {
  it("loads at least 15 patterns with the built-in taxonomy", () => {
    expect(set.patterns.length).toBeGreaterThanOrEqual(15);
    expect(set.taxonomyFiles.some((f) => f.endsWith("taxonomy.json"))).toBe(true);
  });

  it("gives every pattern SAFE-MCP and ATT&CK tags, a description, a positive and a near-miss fixture", () => {
    for (const p of set.patterns) {
      const where = `${p.id} (${p.source})`;
      expect(
        p.tags.some((t) => /^safe\.t\d{4}$/.test(t)),
        `${where}: safe.t#### tag`,
      ).toBe(true);
      expect(
        p.tags.some((t) => /^attack\.t\d{4}(\.\d{3})?$/.test(t)),
        `${where}: ATT&CK technique`,
      ).toBe(true);
      expect(
        p.tags.some((t) => /^attack\.[a-z]+(-[a-z]+)*$/.test(t)),
        `${where}: ATT&CK tactic`,
      ).toBe(true);
      for (const t of p.tags) expect(t, `${where}: tag ${t}`).toMatch(/^(safe|attack|atlas)\.[a-z0-9.-]+$/);
      expect(p.description?.length ?? 0, `${where}: description`).toBeGreaterThan(80);
      expect(
        p.tests.some((t) => t.expect >= 1 && t.events.endsWith(".positive.jsonl")),
        `${where}: positive`,
      ).toBe(true);
      expect(
        p.tests.some((t) => t.expect === 0 && t.events.endsWith(".near-miss.jsonl")),
        `${where}: near miss`,
      ).toBe(true);
    }
  });

  it("keeps one pattern per file, named after its id, with the editor schema reference", () => {
    const files = readdirSync(BUILTIN_PATTERNS_DIR).filter(
      (f) => f.endsWith(".json") && f !== "taxonomy.json",
    );
    expect(files.length).toBe(set.patterns.length);
    for (const f of files) {
      const json = JSON.parse(readFileSync(join(BUILTIN_PATTERNS_DIR, f), "utf8")) as Record<string, unknown>;
      expect(`${json.id}.json`).toBe(f);
      expect(json.$schema).toBe("../schemas/pattern.schema.json");
    }
  });

  it("runs every fixture through the engine with the declared number of alerts", async () => {
    const failures: string[] = [];
    let runs = 0;
    for (const p of set.patterns) {
      for (const t of p.tests) {
        const r = await runFixture(set, p, t);
        runs++;
        for (const bad of r.invalid) failures.push(`${p.id}: ${bad.file}:${bad.line}: ${bad.reason}`);
        if (r.alerts.length !== t.expect) {
          failures.push(`${p.id}: "${t.name}" expected ${t.expect} alert(s), got ${r.alerts.length}`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(runs).toBeGreaterThanOrEqual(2 * set.patterns.length);
  });
});

describe("taxonomy", () => {
  const categoriesOf = (server: string, tool: string) =>
    [
      ...set.taxonomy.categoriesOf({
        event_id: "e",
        timestamp: 0,
        user_id: "u",
        server,
        tool,
        method: "tools/call",
        outcome: "success",
        schema_version: 1,
      }),
    ].sort();

  // Tool names from public agent benchmarks and MCP servers, in their own spellings.
  it.each([
    ["send_email", "public_sink"],
    ["GmailSendEmail", "public_sink"],
    ["sendMessage", "public_sink"],
    ["post_slack_message", "public_sink"],
    ["slack_post_message", "public_sink"],
    ["post_webpage", "public_sink"],
    ["share_file", "public_sink"],
    ["send_money", "financial"],
    ["transfer_funds", "financial"],
    ["BankManagerTransferFunds", "financial"],
    ["schedule_transaction", "financial"],
    ["get_webpage", "untrusted_content"],
    ["fetch_url", "untrusted_content"],
    ["WebBrowserNavigateTo", "untrusted_content"],
    ["read_inbox", "untrusted_content"],
    ["get_received_emails", "untrusted_content"],
    ["GmailReadEmail", "untrusted_content"],
    ["get_issue", "untrusted_content"],
    ["get_channels", "untrusted_content"],
    ["list_channels", "untrusted_content"],
    ["slack_list_channels", "untrusted_content"],
    ["conversations_list", "untrusted_content"],
    ["listChannels", "untrusted_content"],
    ["read_file", "private_data"],
    ["get_iban", "private_data"],
    ["list_files", "enumerate"],
    ["search_emails", "enumerate"],
    ["listFiles", "enumerate"],
    ["export_data", "export"],
    ["exportReport", "export"],
    ["get_secret", "credential"],
    ["update_password", "credential_change"],
    ["get_iam_policy", "config_read"],
    ["modify_permissions", "privilege"],
    ["AugustSmartLockGrantGuestAccess", "privilege"],
    ["disable_audit_logging", "admin"],
    ["delete_file", "destructive"],
    ["deleteRepository", "destructive"],
    ["drop_table", "destructive"],
    ["execute_command", "code_exec"],
    ["TerminalExecute", "code_exec"],
    ["write_file", "file_write"],
    ["http_request", "network"],
    ["run_sql", "database"],
    ["request_approval", "approval"],
    ["get_user_information", "private_data"],
    ["update_scheduled_transaction", "financial"],
    ["invite_user_to_slack", "privilege"],
    ["read_channel_messages", "untrusted_content"],
    ["get_rating_reviews_for_hotels", "untrusted_content"],
    ["reserve_hotel", "financial"],
    // A calendar invitation is mail to every participant.
    ["create_calendar_event", "public_sink"],
    ["add_calendar_event_participants", "public_sink"],
    // MCP servers: Slack history and threads, GitHub/GitLab comments, Google Drive files.
    ["slack_get_channel_history", "untrusted_content"],
    ["slack_get_thread_replies", "untrusted_content"],
    ["slack_reply_to_thread", "public_sink"],
    ["add_issue_comment", "public_sink"],
    ["create_merge_request_note", "public_sink"],
    ["get_merge_request", "untrusted_content"],
    ["gdrive_read_file", "untrusted_content"],
    ["get_file_contents", "untrusted_content"],
    // Browser-style agent tools: opening a page reads third-party text; submitting a form sends to whoever runs it.
    ["open_webpage", "untrusted_content"],
    ["visit_url", "untrusted_content"],
    ["submit_external_form", "public_sink"],
    // A cloud drive's listing returns the files others shared, contents included (AgentDojo's workspace).
    ["list_files", "untrusted_content"],
    ["listFiles", "untrusted_content"],
    // Joined by the share / transfer / sent-then-deleted patterns.
    ["EvernoteManagerManageNoteSharingLevel", "privilege"],
    ["EvernoteManagerReadNote", "untrusted_content"],
    ["delete_email", "destructive"],
    // Reviews written by others are read; a review the agent writes is published.
    ["get_rating_reviews_for_restaurants", "untrusted_content"],
    ["TeladocViewReviews", "untrusted_content"],
    ["get_pull_request_reviews", "untrusted_content"],
    ["create_pull_request_review", "public_sink"],
    ["brave_local_search", "untrusted_content"],
    // Search and extraction servers return third-party web text (AgentHarm's search tools too).
    ["tavily-search", "untrusted_content"],
    ["tavily-extract", "untrusted_content"],
    ["duckduckgo_search", "untrusted_content"],
    ["query_google_search", "untrusted_content"],
    ["perplexity_ask", "untrusted_content"],
    // InjecAgent attacker tools (ToolEmu toolkits) that no category reached.
    ["BankManagerPayBill", "financial"],
    ["DropboxMoveItemToTrash", "destructive"],
    ["The23andMeShareData", "public_sink"],
    ["InvestmentManagerGetHoldingsInformation", "private_data"],
    ["TeladocViewPrescriptions", "private_data"],
    ["GoogleMapGetCurrentLocation", "private_data"],
  ])("%s is %s", (tool, category) => {
    expect(categoriesOf("any-server", tool)).toContain(category);
  });

  it.each([
    ["TwitterManagerPostTweet", "untrusted_content"],
    ["post_webpage", "untrusted_content"],
    ["create_calendar_event", "untrusted_content"],
    ["read_channel_messages", "public_sink"],
    ["get_most_recent_transactions", "financial"],
    ["approve_pull_request", "approval"],
    ["get_current_day", "private_data"],
    // A payment history names the user's own payees: paying one of them back is the everyday banking task, so
    // treating the history as untrusted would join every refund to its IBAN. Injected payment subjects are joined
    // by injection.recipient-from-injected-instructions, which needs injection phrasing in the text instead.
    ["get_most_recent_transactions", "untrusted_content"],
    ["get_scheduled_transactions", "untrusted_content"],
    ["draft_email", "public_sink"],
    // InjecAgent's user tool: reading a shared calendar is where the injection comes from, not a share.
    ["GoogleCalendarGetEventsFromSharedCalendar", "public_sink"],
    ["create_pull_request_review", "untrusted_content"],
    ["get_pull_request_reviews", "public_sink"],
  ])("%s is not %s", (tool, category) => {
    expect(categoriesOf("any-server", tool)).not.toContain(category);
  });
});

/** The alert table of examples/README.md: rows `| user | pattern id | … |`. */
function expectedAlerts(): string[] {
  const readme = readFileSync(join(EXAMPLES, "README.md"), "utf8");
  const rows: string[] = [];
  for (const line of readme.split("\n")) {
    const m = /^\|\s*`?(u-[\w-]+)`?\s*\|\s*`([a-z0-9._-]+)`\s*\|/.exec(line);
    if (m) rows.push(`${m[1]} ${m[2]}`);
  }
  return rows.sort();
}

describe("examples/stream.jsonl", () => {
  it("replays to exactly the alerts examples/README.md lists, reporting the invalid lines", async () => {
    const lines = readFileSync(join(EXAMPLES, "stream.jsonl"), "utf8").split("\n");
    const items: BatchItem[] = [];
    const invalid: number[] = [];
    const times: number[] = [];
    lines.forEach((line, i) => {
      if (line.trim() === "") return;
      const r = parseEvent(line);
      if (r.ok) {
        items.push({ event: r.event, source: { line: i + 1 } });
        times.push(r.event.timestamp);
      } else invalid.push(i + 1);
    });
    // The stream is what the README says it is: a few hundred events over about an hour, a bit out of order.
    expect(items.length).toBeGreaterThanOrEqual(200);
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThan(45 * 60_000);
    expect(times.some((t, i) => i > 0 && t < times[i - 1]!)).toBe(true);
    expect(new Set(items.map((i) => i.event.user_id)).size).toBeGreaterThanOrEqual(8);
    expect(invalid.length).toBe(2);

    const engine = new Detector(set);
    const store = new MemoryStore();
    const alerts: Alert[] = [];
    let duplicates = 0;
    let tooLate = 0;
    for (let i = 0; i < items.length; i += 100) {
      const r = await processBatch(engine, store, items.slice(i, i + 100));
      alerts.push(...r.alerts);
      duplicates += r.duplicates;
      tooLate += r.tooLate;
    }
    await store.close();

    const expected = expectedAlerts();
    expect(expected.length).toBeGreaterThanOrEqual(5);
    expect(new Set(expected.map((e) => e.split(" ")[0])).size).toBeGreaterThanOrEqual(5);
    expect(alerts.map((a) => `${a.group.user_id} ${a.pattern.id}`).sort()).toEqual(expected);
    expect(duplicates).toBe(1);
    expect(tooLate).toBe(0);
    // Every alert points back at lines of the file.
    const byId = new Map<string, ToolCallEvent>(items.map((i) => [i.event.event_id, i.event]));
    for (const a of alerts)
      for (const e of a.events) expect(byId.get(e.event_id)?.user_id).toBe(a.group.user_id);
  });
});
