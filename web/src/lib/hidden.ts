import type { Message } from "../api/types";

/**
 * Mark the messages with these ids as deleted for me, in place: each becomes a new object with
 * `hidden` set and an empty body, at the same seq (the window keeps its seq continuity).
 * Returns how many changed.
 */
export function markHidden(items: Message[], ids: Iterable<number>): number {
  const want = new Set(ids);
  let n = 0;
  for (let i = 0; i < items.length; i++) {
    const m = items[i];
    if (want.has(m.id) && !m.hidden) {
      items[i] = { ...m, hidden: true, body: {} };
      n++;
    }
  }
  return n;
}
