/**
 * A bounded cache keyed by (server, tool), for what depends on those alone (taxonomy categories,
 * dispatch classification). Two-level maps, so a lookup builds no key string; past `limit` entries
 * it starts over, so a flood of invented tool names costs bounded memory.
 */
export class ToolCache<T> {
  private readonly byServer = new Map<string, Map<string, T>>();
  private size = 0;

  constructor(private readonly limit: number) {}

  get(server: string, tool: string): T | undefined {
    return this.byServer.get(server)?.get(tool);
  }

  set(server: string, tool: string, value: T): void {
    if (this.size >= this.limit) {
      this.byServer.clear();
      this.size = 0;
    }
    let byTool = this.byServer.get(server);
    if (!byTool) {
      byTool = new Map();
      this.byServer.set(server, byTool);
    }
    byTool.set(tool, value);
    this.size++;
  }
}
