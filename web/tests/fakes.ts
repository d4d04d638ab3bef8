import type { Conversation, Message, Tokens, User } from "../src/api/types";
import type { SocketLike } from "../src/ws/client";

export class FakeSocket implements SocketLike {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  closed: { code?: number; reason?: string } | null = null;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  static last(): FakeSocket {
    return FakeSocket.all[FakeSocket.all.length - 1];
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close(code?: number, reason?: string) {
    this.closed = { code, reason };
    this.readyState = 3;
  }
  // ---- driven by the test (the "server") ----
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  push(frame: Record<string, unknown>) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  hello(user: User = makeUser(1), interval = 25000, timeout = 60000) {
    this.push({ type: "hello", user, session_id: "s1", device_id: "d1", device: "web", heartbeat_interval: interval, heartbeat_timeout: timeout, server_time: Date.now() });
  }
  drop(code = 1006, reason = "") {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  sentOf(type: string) {
    return this.sent.filter((f) => f.type === type);
  }
}

export function makeUser(id: number, name = `user${id}`): User {
  return { id, username: name, nickname: name, avatar_url: null, signature: null, created_at: 0 };
}

export function makeTokens(n = 1, user = makeUser(1)): Tokens {
  return { access_token: `a${n}`, refresh_token: `r${n}`, token_type: "bearer", expires_in: 900, user, device_id: "d1" };
}

export function msg(cid: number, seq: number, sender = 2, text = `m${seq}`, extra: Partial<Message> = {}): Message {
  return {
    id: cid * 10000 + seq, conversation_id: cid, seq, sender_id: sender, client_msg_id: null, kind: "text",
    body: { text }, ts: 1_700_000_000_000 + seq * 1000, recalled: false, mentions: [], mention_all: false, ...extra,
  };
}

export function conv(id: number, last_seq: number, extra: Partial<Conversation> = {}): Conversation {
  return {
    id, kind: "private", peer: makeUser(2), group: null, last_seq, read_seq: 0, peer_read_seq: 0, unread: 0,
    mentioned: false, last_message: last_seq ? msg(id, last_seq) : null, ...extra,
  };
}

/** A fake server history: conversation id -> messages with seq 1..n. */
export class FakeHistory {
  data = new Map<number, Message[]>();
  calls: string[] = [];
  convs: Conversation[] = [];
  add(cid: number, count: number, sender = 2) {
    const list = this.data.get(cid) ?? [];
    for (let i = 0; i < count; i++) list.push(msg(cid, list.length + 1, sender));
    this.data.set(cid, list);
    return list[list.length - 1];
  }
  async conversations() {
    this.calls.push("conversations");
    return { conversations: this.convs };
  }
  /** The listed conversation, or one built from the history (its last seq is the newest message). */
  async conversation(cid: number) {
    this.calls.push(`conversation:${cid}`);
    return this.convs.find((c) => c.id === cid) ?? conv(cid, this.data.get(cid)?.length ?? 0);
  }
  async messagesAfter(cid: number, after: number, limit: number) {
    this.calls.push(`after:${cid}:${after}`);
    const all = (this.data.get(cid) ?? []).filter((m) => m.seq > after);
    return { messages: all.slice(0, limit), has_more: all.length > limit };
  }
  async messagesBefore(cid: number, before: number, limit: number) {
    this.calls.push(`before:${cid}:${before}`);
    const all = (this.data.get(cid) ?? []).filter((m) => m.seq < before);
    return { messages: all.slice(-limit), has_more: all.length > limit };
  }
  async latestMessages(cid: number, limit: number) {
    this.calls.push(`latest:${cid}`);
    const all = this.data.get(cid) ?? [];
    return { messages: all.slice(-limit), has_more: all.length > limit };
  }
}

export function jsonResponse(status: number, body?: unknown): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}
