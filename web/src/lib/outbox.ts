import { createStore, del, entries, set, type UseStore } from "idb-keyval";
import type { Upload, UploadKind } from "../api/types";

/**
 * The outbox on disk: every message that was typed but not yet acked by Pigeon, kept in
 * IndexedDB so that a reload (or a closed tab) does not lose it. The messages store owns the
 * live queue; this module only saves, removes and lists what it holds, per user, in the order
 * the messages were written.
 */

/** What is kept of an outgoing message. Attachments keep their file until it is uploaded. */
export interface SavedOutgoing {
  user_id: number;
  client_msg_id: string;
  conversation_id: number;
  kind: string;
  body: Record<string, unknown>;
  mentions: number[];
  mentionAll?: boolean;
  ts: number;
  /** Increases with every message written in this browser: the send order. */
  order: number;
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
