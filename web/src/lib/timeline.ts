import type { Message } from "../api/types";
import type { Outgoing } from "../stores/messages";
import { dayKey, dayLabel } from "./format";

/**
 * The rows of a chat, top to bottom: "the beginning of the conversation" (once it is loaded), day
 * separators, tips (recalls, system messages), the unread divider, messages, and my messages that
 * are still on their way.
 */
export type Row =
  | { t: "start"; key: "start" }
  | { t: "day"; key: string; label: string }
  | { t: "tip"; key: string; text: string }
  | { t: "unread"; key: "unread"; count: number }
  | { t: "msg"; key: string; m: Message; mine: boolean; first: boolean }
  | { t: "out"; key: string; o: Outgoing; first: boolean };

/** A message that shows as a bubble from someone else (not a tip, not mine). */
function fromOther(m: Message, me: number | null): boolean {
  return m.sender_id !== me && m.sender_id !== null && !m.recalled && m.kind !== "recall" && m.kind !== "system";
}

/**
 * Where the "N unread messages" divider goes: before the first message from someone else with a
 * seq above my read marker as it was when the chat was opened. Null when nothing is unread.
 */
export function unreadStart(items: readonly Message[], readSeq: number | null, me: number | null): { seq: number; count: number } | null {
  if (readSeq === null) return null;
  let lo = 0, hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (items[mid].seq <= readSeq) lo = mid + 1; else hi = mid;
  }
  let seq: number | null = null;
  let count = 0;
  for (let i = lo; i < items.length; i++) {
    if (!fromOther(items[i], me)) continue;
    seq ??= items[i].seq;
    count++;
  }
  return seq === null ? null : { seq, count };
}

export interface RowOptions {
  me: number | null;
  /** The read marker when the chat was opened (null: no divider). */
  readSeq: number | null;
  /** The first message of the conversation is loaded. */
  atStart: boolean;
  recallTip: (m: Message, by: number | null | undefined) => string;
  now?: number;
}

/**
 * Builds rows and hands back the same row object as last time when nothing in it changed, so the
 * list re-renders only the rows that did change (a new message costs one row, not the whole list).
 */
export class RowBuilder {
  private cache = new Map<string, Row>();

  build(items: readonly Message[], outgoing: readonly Outgoing[], opt: RowOptions): Row[] {
    const next = new Map<string, Row>();
    const out: Row[] = [];
    const keep = <R extends Row>(row: R): void => {
      const old = this.cache.get(row.key);
      const same = old && sameRow(old, row);
      const r = same ? old : row;
      next.set(row.key, r);
      out.push(r);
    };
    if (opt.atStart) keep({ t: "start", key: "start" });
    const ids = new Set<number>();
    const recalledBy = new Map<number, number | null>();
    for (const m of items) {
      ids.add(m.id);
      if (m.kind === "recall") recalledBy.set((m.body as { message_id: number }).message_id, (m.body as { by?: number }).by ?? m.sender_id);
    }
    const unread = unreadStart(items, opt.readSeq, opt.me);
    const now = opt.now ?? Date.now();
    let lastDay = "";
    let lastSender: number | null = -1;
    // a day separator is keyed by the row after it: when older messages of the same day are
    // loaded above, the old separator goes and a new one comes, and the rows keep their keys
    const day = (ts: number, after: string) => {
      const k = dayKey(ts);
      if (k === lastDay) return;
      lastDay = k;
      lastSender = -1;
      keep({ t: "day", key: `d${after}`, label: dayLabel(ts, now) });
    };
    for (const m of items) {
      if (m.kind === "recall") {
        if (ids.has((m.body as { message_id: number }).message_id)) continue;
        day(m.ts, `s${m.seq}`);
        keep({ t: "tip", key: `s${m.seq}`, text: opt.recallTip(m, (m.body as { by?: number }).by) });
        lastSender = -1;
        continue;
      }
      day(m.ts, `s${m.seq}`);
      if (unread && m.seq === unread.seq) {
        keep({ t: "unread", key: "unread", count: unread.count });
        lastSender = -1;
      }
      if (m.recalled) {
        keep({ t: "tip", key: `s${m.seq}`, text: opt.recallTip(m, recalledBy.get(m.id)) });
        lastSender = -1;
      } else if (m.kind === "system") {
        keep({ t: "tip", key: `s${m.seq}`, text: String((m.body as { tip?: string }).tip ?? "") });
        lastSender = -1;
      } else {
        keep({ t: "msg", key: `s${m.seq}`, m, mine: m.sender_id === opt.me, first: m.sender_id !== lastSender });
        lastSender = m.sender_id;
      }
    }
    for (const o of outgoing) {
      day(o.ts, `o${o.client_msg_id}`);
      keep({ t: "out", key: `o${o.client_msg_id}`, o, first: lastSender !== opt.me });
      lastSender = opt.me;
    }
    this.cache = next;
    return out;
  }
}

function sameRow(a: Row, b: Row): boolean {
  switch (b.t) {
    case "start": return a.t === "start";
    case "day": return a.t === "day" && a.label === b.label;
    case "tip": return a.t === "tip" && a.text === b.text;
    case "unread": return a.t === "unread" && a.count === b.count;
    case "msg": return a.t === "msg" && a.m === b.m && a.mine === b.mine && a.first === b.first;
    case "out": return a.t === "out" && a.o === b.o && a.first === b.first;
  }
}
