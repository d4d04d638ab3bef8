import "fake-indexeddb/auto";
import { IDBFactory } from "fake-indexeddb";
import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ApiClient } from "../src/api/client";
import type { Upload, UploadKind } from "../src/api/types";
import { MemoryTokenStore } from "../src/api/tokens";
import { outboxDb, resetOutboxDb } from "../src/lib/outbox";
import { resetServices, setServices } from "../src/services";
import { useAuthStore } from "../src/stores/auth";
import { useConversationsStore } from "../src/stores/conversations";
import { useMessagesStore } from "../src/stores/messages";
import { ProtocolClient } from "../src/ws/client";
import { SyncEngine } from "../src/ws/sync";
import { FakeHistory, FakeSocket, conv, makeTokens, makeUser } from "./fakes";

const ME = 1;

class FakeApi extends FakeHistory {
  tokens = new MemoryTokenStore();
  uploads: string[] = [];
  async upload(_file: Blob, name: string, kind: UploadKind): Promise<Upload> {
    this.uploads.push(name);
    return { id: "f1", url: "/files/f1", thumb_url: null, kind, name, size: 3, mime: "text/plain", width: null, height: null } as unknown as Upload;
  }
  async markRead() { /* no-op */ }
}

async function flush() {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/** Wait for IndexedDB work (real macrotasks; fake-indexeddb answers on setImmediate). */
async function settle() {
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 5));
    await flush();
  }
}

/** A fresh app instance (as after a reload): new stores, new socket client, same IndexedDB. */
async function boot() {
  setActivePinia(createPinia());
  resetOutboxDb();
  const api = new FakeApi();
  api.tokens.save(makeTokens(1, makeUser(ME, "me")));
  api.add(5, 1);
  api.add(6, 1);
  const msgs = useMessagesStore();
  const sync = new SyncEngine(api, msgs.sink);
  const ws = new ProtocolClient({ url: "ws://x/ws", getToken: async () => "a1", socketFactory: (u) => new FakeSocket(u), requestTimeoutMs: 1000 });
  setServices({ api: api as unknown as ApiClient, ws, sync });
  useAuthStore().setUser(makeUser(ME, "me"));
  useConversationsStore().setAll([conv(5, 1), conv(6, 1)]);
  ws.on("hello", () => msgs.flushOutbox());
  await msgs.open(5);
  return { api, ws, msgs };
}

async function goOnline(ws: ProtocolClient) {
  ws.start();
  await flush();
  FakeSocket.last().open();
  FakeSocket.last().hello(makeUser(ME, "me"));
  return FakeSocket.last();
}

function ack(sock: FakeSocket, frame: Record<string, unknown>, seq: number) {
  sock.push({ type: "ack", ref: frame.ref, message_id: 5000 + seq, conversation_id: frame.conversation_id, seq, ts: seq, client_msg_id: frame.client_msg_id });
}

describe("the outbox", () => {
  beforeEach(() => {
    globalThis.indexedDB = new IDBFactory(); // every test starts with an empty browser
    FakeSocket.all = [];
  });
  afterEach(() => { resetServices(); vi.useRealTimers(); });

  it("keeps queued messages across a reload and sends them in order with the same client_msg_id", async () => {
    const first = await boot();
    const a = first.msgs.sendText(5, "one");
    const b = first.msgs.sendText(5, "two");
    await settle();
    expect(first.msgs.outbox[5].map((o) => o.state)).toEqual(["queued", "queued"]);
    first.ws.stop();

    // the page is reloaded: nothing in memory, the queue comes back from IndexedDB
    const second = await boot();
    expect(second.msgs.outbox[5] ?? []).toEqual([]);
    await second.msgs.restoreOutbox();
    expect(second.msgs.outbox[5].map((o) => [o.client_msg_id, o.body.text, o.state])).toEqual([
      [a.client_msg_id, "one", "queued"], [b.client_msg_id, "two", "queued"],
    ]);
    const sock = await goOnline(second.ws);
    const f1 = sock.sentOf("send")[0];
    expect(f1).toMatchObject({ client_msg_id: a.client_msg_id, body: { text: "one" } });
    expect(sock.sentOf("send")).toHaveLength(1);
    ack(sock, f1, 2);
    await flush();
    const f2 = sock.sentOf("send")[1];
    expect(f2).toMatchObject({ client_msg_id: b.client_msg_id, body: { text: "two" } });
    ack(sock, f2, 3);
    await settle();
    expect(second.msgs.outbox[5]).toEqual([]);
    expect(second.msgs.win(5)!.items.map((m) => m.body.text)).toEqual(["m1", "one", "two"]);
    expect(await outboxDb().list(ME)).toEqual([]); // acked: gone from disk too
    second.ws.stop();
  });

  it("marks Failed only for the server's refusal; a lost connection or a rate limit queues it again", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
    const { ws, msgs } = await boot();
    let sock = await goOnline(ws);
    const o = msgs.sendText(5, "hello");
    sock.drop(1006); // connection lost before the ack
    await flush();
    expect(msgs.outbox[5][0]).toMatchObject({ state: "queued" });
    ws.reconnectNow();
    await flush();
    FakeSocket.last().open();
    FakeSocket.last().hello(makeUser(ME, "me"));
    sock = FakeSocket.last();
    const f1 = sock.sentOf("send")[0];
    expect(f1.client_msg_id).toBe(o.client_msg_id);
    sock.push({ type: "error", ref: f1.ref, code: "rate_limited", message: "slow down", retry_after_ms: 700 });
    await flush();
    expect(msgs.outbox[5][0].state).toBe("queued");
    vi.advanceTimersByTime(699);
    await flush();
    expect(sock.sentOf("send")).toHaveLength(1);
    vi.advanceTimersByTime(2);
    await flush();
    const f2 = sock.sentOf("send")[1];
    expect(f2.client_msg_id).toBe(o.client_msg_id);
    sock.push({ type: "error", ref: f2.ref, code: "blocked", message: "blocked" });
    await flush();
    expect(msgs.outbox[5][0]).toMatchObject({ state: "failed", error: expect.any(String) });
    // a failed message is not sent again by itself, not even after a reconnect
    ws.reconnectNow();
    await flush();
    FakeSocket.last().open();
    FakeSocket.last().hello(makeUser(ME, "me"));
    await flush();
    expect(FakeSocket.last().sentOf("send")).toEqual([]);
    ws.stop();
  });

  it("keeps a refused message Failed after a reload; Retry re-sends it, Delete removes it from disk", async () => {
    const first = await boot();
    const sock = await goOnline(first.ws);
    const keep = first.msgs.sendText(5, "keep me");
    sock.push({ type: "error", ref: sock.sentOf("send")[0].ref, code: "not_friends", message: "x" });
    await flush();
    const drop = first.msgs.sendText(5, "drop me");
    sock.push({ type: "error", ref: sock.sentOf("send")[1].ref, code: "not_friends", message: "x" });
    await settle();
    first.ws.stop();

    const second = await boot();
    await second.msgs.restoreOutbox();
    expect(second.msgs.outbox[5].map((o) => [o.body.text, o.state, o.error])).toEqual([
      ["keep me", "failed", "You can only message friends."], ["drop me", "failed", "You can only message friends."],
    ]);
    const sock2 = await goOnline(second.ws);
    await flush();
    expect(sock2.sentOf("send")).toEqual([]);
    second.msgs.discard(5, drop.client_msg_id);
    void second.msgs.retry(5, keep.client_msg_id);
    const f = sock2.sentOf("send")[0];
    expect(f.client_msg_id).toBe(keep.client_msg_id);
    ack(sock2, f, 2);
    await settle();
    expect(second.msgs.outbox[5]).toEqual([]);
    expect(await outboxDb().list(ME)).toEqual([]);
    second.ws.stop();
  });

  it("keeps the order per conversation without one conversation holding up another", async () => {
    const { ws, msgs } = await boot();
    const sock = await goOnline(ws);
    msgs.sendText(5, "five-a");
    msgs.sendText(5, "five-b");
    msgs.sendText(6, "six");
    expect(sock.sentOf("send").map((f) => (f.body as { text: string }).text)).toEqual(["five-a", "six"]);
    ws.stop();
  });

  it("uploads an attachment written offline once the socket is back, then sends it", async () => {
    const first = await boot();
    first.msgs.sendFile(5, new Blob(["abc"], { type: "text/plain" }), "file", { name: "notes.txt" });
    await settle();
    expect(first.api.uploads).toEqual([]);
    expect(first.msgs.outbox[5][0].state).toBe("queued");
    first.ws.stop();

    const second = await boot();
    await second.msgs.restoreOutbox();
    expect(second.msgs.outbox[5][0].upload).toMatchObject({ name: "notes.txt", done: null });
    const sock = await goOnline(second.ws);
    await settle();
    expect(second.api.uploads).toEqual(["notes.txt"]);
    expect(sock.sentOf("send")[0]).toMatchObject({ kind: "file", body: { url: "/files/f1", name: "notes.txt" } });
    second.ws.stop();
  });
});
