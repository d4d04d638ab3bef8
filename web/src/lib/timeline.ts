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

/** How a message I deleted for myself shows: a small muted line at its place. */
export const HIDDEN_TIP = "You deleted this message";

export interface RowOptions {
  me: number | null;
  /** The read marker when the chat was opened (null: no divider). */
  readSeq: number | null;
  /** The first message of the conversation is loaded. */
  atStart: boolean;
  recallTip: (m: Message, by: number | null | undefined) => string;
  now?: number;
  /** Changes when messages already shown changed in place (deleted for me): rebuild all rows. */
  epoch?: number;
}

interface Walk {
  rows: Row[];
  lastDay: string;
  lastSender: number | null;
}

/**
 * Builds rows and hands back the same row object as last time when nothing in it changed, so the
 * list re-renders only the rows that did change. When messages were only appended since the last
 * build (what a burst of new messages does) only the new ones are walked: a new message costs
 * one row, not a pass over the whole chat.
 */
export class RowBuilder {
  private cache = new Map<string, Row>();
  /** The divider, fixed once placed for a read marker (its count does not grow as more arrive). */
  private unread: { readSeq: number; seq: number; count: number } | null = null;
  private last: {
    len: number; first: Message; lastMsg: Message; opt: RowOptions; walk: Walk;
    ids: Set<number>; recalledBy: Map<number, number | null>;
  } | null = null;

  build(items: readonly Message[], outgoing: readonly Outgoing[], opt: RowOptions): Row[] {
    const prev = this.last;
    let walk: Walk;
    let ids: Set<number>;
    let recalledBy: Map<number, number | null>;
    let from: number;
    if (prev && this.appendedOnly(prev, items, opt)) {
      walk = { rows: prev.walk.rows.slice(), lastDay: prev.walk.lastDay, lastSender: prev.walk.lastSender };
      ({ ids, recalledBy } = prev);
      from = prev.len;
      this.noteUnread(items, from, opt);
    } else {
      walk = { rows: [], lastDay: "", lastSender: -1 };
      ids = new Set();
      recalledBy = new Map();
      from = 0;
      this.cache = new Map([...this.cache].filter(([, r]) => r.t !== "out"));
      if (opt.atStart) walk.rows.push(this.keep({ t: "start", key: "start" }));
      this.placeUnread(items, opt);
    }
    for (let i = from; i < items.length; i++) {
      const m = items[i];
      ids.add(m.id);
      if (m.kind === "recall") recalledBy.set((m.body as { message_id: number }).message_id, (m.body as { by?: number }).by ?? m.sender_id);
    }
    this.walkItems(items, from, walk, ids, recalledBy, opt);
    this.last = items.length ? { len: items.length, first: items[0], lastMsg: items[items.length - 1], opt, walk, ids, recalledBy } : null;
    const rows = walk.rows.slice();
    let lastDay = walk.lastDay;
    let lastSender = walk.lastSender;
    for (const o of outgoing) {
      const k = dayKey(o.ts);
      if (k !== lastDay) {
        lastDay = k;
        lastSender = -1;
        rows.push(this.keep({ t: "day", key: `do${o.client_msg_id}`, label: dayLabel(o.ts, opt.now ?? Date.now()) }));
      }
      rows.push(this.keep({ t: "out", key: `o${o.client_msg_id}`, o, first: lastSender !== opt.me }));
      lastSender = opt.me;
    }
    return rows;
  }

  /** Only new messages at the end since the last build, none of which changes an earlier row. */
  private appendedOnly(prev: NonNullable<RowBuilder["last"]>, items: readonly Message[], opt: RowOptions): boolean {
    if (items.length < prev.len || items[0] !== prev.first || items[prev.len - 1] !== prev.lastMsg) return false;
    if (opt.me !== prev.opt.me || opt.readSeq !== prev.opt.readSeq || opt.atStart !== prev.opt.atStart) return false;
    if (opt.epoch !== prev.opt.epoch) return false;
    for (let i = prev.len; i < items.length; i++) if (items[i].kind === "recall") return false;
    return true;
  }

  private placeUnread(items: readonly Message[], opt: RowOptions) {
    if (opt.readSeq === null) { this.unread = null; return; }
    if (this.unread && this.unread.readSeq === opt.readSeq && items.some((m) => m.seq === this.unread!.seq)) return;
    const u = unreadStart(items, opt.readSeq, opt.me);
    this.unread = u ? { readSeq: opt.readSeq, ...u } : null;
  }

  private noteUnread(items: readonly Message[], from: number, opt: RowOptions) {
    if (this.unread || opt.readSeq === null) return;
    const u = unreadStart(items.slice(from), opt.readSeq, opt.me);
    if (u) this.unread = { readSeq: opt.readSeq, ...u };
  }

  private keep<R extends Row>(row: R): Row {
    const old = this.cache.get(row.key);
    const r = old && sameRow(old, row) ? old : row;
    this.cache.set(row.key, r);
    return r;
  }

  private walkItems(items: readonly Message[], from: number, w: Walk, ids: Set<number>, recalledBy: Map<number, number | null>, opt: RowOptions) {
    const now = opt.now ?? Date.now();
    // a day separator is keyed by the row after it: when older messages of the same day are
    // loaded above, the old separator goes and a new one comes, and the rows keep their keys
    const day = (ts: number, after: string) => {
      const k = dayKey(ts);
      if (k === w.lastDay) return;
      w.lastDay = k;
      w.lastSender = -1;
      w.rows.push(this.keep({ t: "day", key: `d${after}`, label: dayLabel(ts, now) }));
    };
    for (let i = from; i < items.length; i++) {
      const m = items[i];
      if (m.kind === "recall") {
        if (ids.has((m.body as { message_id: number }).message_id)) continue;
        day(m.ts, `s${m.seq}`);
        w.rows.push(this.keep({ t: "tip", key: `s${m.seq}`, text: opt.recallTip(m, (m.body as { by?: number }).by) }));
        w.lastSender = -1;
        continue;
      }
      day(m.ts, `s${m.seq}`);
      if (this.unread && m.seq === this.unread.seq) {
        w.rows.push(this.keep({ t: "unread", key: "unread", count: this.unread.count }));
        w.lastSender = -1;
      }
      if (m.hidden) {
        w.rows.push(this.keep({ t: "tip", key: `s${m.seq}`, text: HIDDEN_TIP }));
        w.lastSender = -1;
      } else if (m.recalled) {
        w.rows.push(this.keep({ t: "tip", key: `s${m.seq}`, text: opt.recallTip(m, recalledBy.get(m.id)) }));
        w.lastSender = -1;
      } else if (m.kind === "system") {
        w.rows.push(this.keep({ t: "tip", key: `s${m.seq}`, text: String((m.body as { tip?: string }).tip ?? "") }));
        w.lastSender = -1;
      } else {
        w.rows.push(this.keep({ t: "msg", key: `s${m.seq}`, m, mine: m.sender_id === opt.me, first: m.sender_id !== w.lastSender }));
        w.lastSender = m.sender_id;
      }
    }
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
