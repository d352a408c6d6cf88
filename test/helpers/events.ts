/** The smallest valid event of events.md (its required fields), for tests to spread and vary. */
export const minimalEvent = {
  event_id: "01JDX3K8Q1",
  timestamp: "2026-11-20T09:14:03.120Z",
  user_id: "u-481",
  server: "ehr",
  tool: "export_data",
};
