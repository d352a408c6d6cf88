/**
 * A function's answers remembered, at most `max` of them (all forgotten at once beyond that: no
 * recency bookkeeping on the hot path). For answers that are pure functions of a string the store asks
 * for again and again: each group's key names, the stored form of server and tool names.
 */
export function remembered<T>(fn: (s: string) => T, max: number): (s: string) => T {
  const answers = new Map<string, T>();
  return (s) => {
    let a = answers.get(s);
    if (a === undefined) {
      a = fn(s);
      if (answers.size >= max) answers.clear();
      answers.set(s, a);
    }
    return a;
  };
}
