import { compilePath, readPath } from "../events/path.js";
import type { ToolCallEvent } from "../events/schema.js";
import type { GroupRef } from "../state/store.js";
import { UserRefs } from "./user-refs.js";

/**
 * A distinct `group_by` list. Group keys are stable across restarts and pattern-set changes (they
 * name Redis keys): the default grouping `user_id` gives `u:<user id>`, any other
 * `g:<grouping id>:<value>:…` with `\` and `:` escaped, so no two groups share a key.
 */
export class Grouping {
  private readonly paths: string[][];
  private readonly isUser: boolean;
  private readonly prefix: string;
  /**
   * The user grouping's refs by user id, reused while they last: no key string or objects per event,
   * and the one key string per group keeps its hash for every map the batch looks it up in.
   */
  private readonly userRefs = new UserRefs();

  constructor(
    readonly id: string,
    readonly groupBy: string[],
  ) {
    this.paths = groupBy.map(compilePath);
    this.isUser = groupBy.length === 1 && groupBy[0] === "user_id";
    this.prefix = `g:${escapeKeyPart(id)}`;
  }

  /** The event's group in this grouping, or undefined when a field is missing or not a scalar. */
  refOf(event: ToolCallEvent): GroupRef | undefined {
    if (this.isUser) {
      const id = event.user_id;
      if (typeof id !== "string") return undefined;
      let ref = this.userRefs.get(id);
      if (ref === undefined) {
        if (this.userRefs.size >= MAX_USER_REFS) this.userRefs.clear();
        ref = {
          key: `u:${id}`,
          groupingId: this.id,
          values: Object.freeze({ user_id: id }),
          memo: undefined,
          batchStamp: 0,
          batchSlot: 0,
        };
        this.userRefs.add(id, ref);
      }
      return ref;
    }
    const values: Record<string, string> = {};
    let key = this.prefix;
    for (let i = 0; i < this.paths.length; i++) {
      const v = scalarString(readPath(event, this.paths[i]!));
      if (v === undefined) return undefined;
      values[this.groupBy[i]!] = v;
      key += `:${escapeKeyPart(v)}`;
    }
    return { key, groupingId: this.id, values };
  }
}

/** Most user refs kept; past it the cache starts over (bounded memory under a flood of user ids). */
const MAX_USER_REFS = 100_000;

function scalarString(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return undefined;
}

function escapeKeyPart(s: string): string {
  return s.replace(/[\\:]/g, (c) => `\\${c}`);
}
