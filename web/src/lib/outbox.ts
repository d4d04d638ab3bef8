import { createStore, del, entries, set, type UseStore } from "idb-keyval";
import { markRaw, toRaw } from "vue";
import type { ReplyQuote, Upload, UploadKind } from "../api/types";
import type { Outgoing } from "../stores/messages";

/**
 * The outbox on disk: every message that was typed but not yet acked by Pigeon, kept in
 * IndexedDB so that a reload (or a closed tab) does not lose it. The messages store owns the
 * live queue; this module saves, removes and lists what it holds, per user, in the order the
 * messages were written, and turns a queued message into plain data and back.
 */

/** What a message written here is, whether on screen or on disk. */
export interface OutgoingFields {
  client_msg_id: string;
  conversation_id: number;
  kind: string;
  body: Record<string, unknown>;
  mentions: number[];
  mentionAll?: boolean;
  ts: number;
  /** Increases with every message written in this browser: the send order. */
  order: number;
  /** The quote of the message it answers. */
  reply?: ReplyQuote;
}

/** What is kept of an outgoing message. Attachments keep their file until it is uploaded. */
export interface SavedOutgoing extends OutgoingFields {
  user_id: number;
  /** A refused message stays refused after a reload; anything else is queued again. */
  failed?: { error: string; permanent: boolean };
  upload?: {
    file: Blob | null;
    name: string;
    kind: UploadKind;
    done: Upload | null;
    width?: number;
    height?: number;
    duration_ms?: number;
  };
}

export interface OutboxDb {
  save(item: SavedOutgoing): Promise<void>;
  remove(userId: number, clientMsgId: string): Promise<void>;
  /** The user's saved messages, oldest first. */
  list(userId: number): Promise<SavedOutgoing[]>;
}

const key = (userId: number, clientMsgId: string) => `${userId}:${clientMsgId}`;

/** The outbox in IndexedDB (database `pigeon-outbox`, one record per message). */
export function indexedDbOutbox(): OutboxDb {
  let store: UseStore | null = null;
  const db = () => (store ??= createStore("pigeon-outbox", "messages"));
  return {
    save: (item) => set(key(item.user_id, item.client_msg_id), item, db()),
    remove: (userId, clientMsgId) => del(key(userId, clientMsgId), db()),
    async list(userId) {
      const all = await entries<string, SavedOutgoing>(db());
      return all.map(([, v]) => v).filter((v) => v.user_id === userId).sort((a, b) => a.order - b.order);
    },
  };
}

/** For browsers without IndexedDB (private modes of some): the queue lives as long as the page. */
export function memoryOutbox(): OutboxDb {
  const items = new Map<string, SavedOutgoing>();
  return {
    async save(item) { items.set(key(item.user_id, item.client_msg_id), item); },
    async remove(userId, clientMsgId) { items.delete(key(userId, clientMsgId)); },
    async list(userId) { return [...items.values()].filter((v) => v.user_id === userId).sort((a, b) => a.order - b.order); },
  };
}

let current: OutboxDb | null = null;

/** The outbox of this browser: IndexedDB when there is one. */
export function outboxDb(): OutboxDb {
  return (current ??= typeof indexedDB !== "undefined" ? indexedDbOutbox() : memoryOutbox());
}

/** Tests start from a fresh handle (the data stays where it is). */
export function resetOutboxDb(): void {
  current = null;
}

let lastOrder = 0;
/** A send-order number that never repeats in this browser, even for two messages in one millisecond. */
export function nextOrder(): number {
  lastOrder = Math.max(lastOrder + 1, Date.now() * 1000);
  return lastOrder;
}

/** What is written to disk: plain data (no Vue proxies), the file only until it is uploaded. */
export function toSaved(o: Outgoing, me: number): SavedOutgoing {
  const raw = toRaw(o);
  const up = raw.upload;
  return {
    user_id: me,
    client_msg_id: raw.client_msg_id,
    conversation_id: raw.conversation_id,
    kind: raw.kind,
    body: JSON.parse(JSON.stringify(raw.body)) as Record<string, unknown>,
    mentions: [...raw.mentions],
    ...(raw.mentionAll ? { mentionAll: true } : {}),
    ts: raw.ts,
    order: raw.order,
    ...(raw.reply ? { reply: { ...raw.reply } } : {}),
    ...(raw.state === "failed" ? { failed: { error: raw.error ?? "Not sent", permanent: !!raw.permanent } } : {}),
    ...(up ? {
      upload: {
        file: up.done ? null : toRaw(up.file), name: up.name, kind: up.kind,
        done: up.done ? (JSON.parse(JSON.stringify(up.done)) as Upload) : null,
        width: up.width, height: up.height, duration_ms: up.duration_ms,
      },
    } : {}),
  };
}

/** A saved message back in the queue: failed stays failed, anything else is queued again. */
export function fromSaved(s: SavedOutgoing): Outgoing {
  const up = s.upload;
  const preview = up?.file && up.kind !== "file" && typeof URL.createObjectURL === "function" ? URL.createObjectURL(up.file) : null;
  return {
    client_msg_id: s.client_msg_id, conversation_id: s.conversation_id, kind: s.kind, body: s.body, mentions: s.mentions,
    ...(s.mentionAll ? { mentionAll: true } : {}),
    ts: s.ts, order: s.order,
    ...(s.reply ? { reply: s.reply } : {}),
    state: s.failed ? "failed" : "queued",
    ...(s.failed ? { error: s.failed.error, permanent: s.failed.permanent } : {}),
    ...(up ? {
      upload: {
        file: up.file ? markRaw(up.file) : null, name: up.name, kind: up.kind, progress: up.done ? 1 : 0, done: up.done, preview,
        width: up.width, height: up.height, duration_ms: up.duration_ms,
      },
    } : {}),
  };
}
