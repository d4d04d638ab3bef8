import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ApiClient } from "../src/api/client";
import { ApiError } from "../src/api/errors";
import { MemoryTokenStore } from "../src/api/tokens";
import { resetServices, setServices } from "../src/services";
import { useAuthStore } from "../src/stores/auth";
import { useConversationsStore } from "../src/stores/conversations";
import { useMessagesStore } from "../src/stores/messages";
import { useUiStore } from "../src/stores/ui";
import { ProtocolClient } from "../src/ws/client";
import { SyncEngine } from "../src/ws/sync";
import { FakeHistory, FakeSocket, conv, makeTokens, makeUser, msg } from "./fakes";

const ME = 1;

class FakeApi extends FakeHistory {
  tokens = new MemoryTokenStore();
  sent: Array<{ cid: number; client_msg_id: string }> = [];
  reads: Array<[number, number]> = [];
  sendFails = false;
  async sendMessage(cid: number, m: { client_msg_id: string; kind: string; body: unknown }) {
    this.sent.push({ cid, client_msg_id: m.client_msg_id });
    if (this.sendFails) throw new ApiError(0, "network_error", "down");
    const last = this.add(cid, 1, ME);
    return { message_id: last.id, conversation_id: cid, seq: last.seq, ts: last.ts, client_msg_id: m.client_msg_id };
  }
  async markRead(cid: number, seq: number) { this.reads.push([cid, seq]); }
  async readers() { return { read_count: 2, readers: [2, 3] }; }
}

async function flush() {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

function setup(_online = false) {
  setActivePinia(createPinia());
  FakeSocket.all = [];
  const api = new FakeApi();
  api.tokens.save(makeTokens(1, makeUser(ME, "me")));
  const msgs = useMessagesStore();
  const sync = new SyncEngine(api, msgs.sink);
  const ws = new ProtocolClient({ url: "ws://x/ws", getToken: async () => "a1", socketFactory: (u) => new FakeSocket(u), requestTimeoutMs: 1000 });
  setServices({ api: api as unknown as ApiClient, ws, sync });
  useAuthStore().setUser(makeUser(ME, "me"));
  return { api, ws, sync, msgs, convs: useConversationsStore() };
}

async function goOnline(ws: ProtocolClient) {
  ws.start();
  await flush();
  FakeSocket.last().open();
  FakeSocket.last().hello(makeUser(ME, "me"));
  return FakeSocket.last();
}

describe("messages store", () => {
  afterEach(() => { resetServices(); vi.useRealTimers(); });

  it("opens a conversation with its newest page and loads older pages by seq when scrolling up", async () => {
    const { api, msgs, convs } = setup(false);
    api.add(5, 120);
    convs.setAll([conv(5, 120)]);
    await msgs.open(5);
    const w = msgs.win(5)!;
    expect(w.items.map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => 71 + i));
    expect(w.hasOlder).toBe(true);
    await msgs.loadOlder(5);
    await msgs.loadOlder(5);
    expect(w.items[0].seq).toBe(1);
    expect(w.items.length).toBe(120);
    expect(w.hasOlder).toBe(false);
    expect(api.calls).toContain("before:5:71");
    expect(api.calls).toContain("before:5:21");
  });

  it("shows a sent message at once, then confirms it with the ack (optimistic send over the socket)", async () => {
    const { api, ws, msgs, convs } = setup(true);
    api.add(5, 3);
    convs.setAll([conv(5, 3)]);
    await msgs.open(5);
    const sock = await goOnline(ws);
    const o = msgs.sendText(5, "hello there");
    expect(msgs.outbox[5].map((x) => x.state)).toEqual(["sending"]);
    const frame = sock.sentOf("send")[0] as Record<string, unknown>;
    expect(frame).toMatchObject({ type: "send", conversation_id: 5, kind: "text", body: { text: "hello there" }, client_msg_id: o.client_msg_id });
    expect(o.client_msg_id).toMatch(/^[0-9a-f-]{36}$/);
    sock.push({ type: "ack", ref: frame.ref, message_id: 999, conversation_id: 5, seq: 4, ts: 5, client_msg_id: o.client_msg_id });
    await flush();
    expect(msgs.outbox[5]).toEqual([]);
    const last = msgs.win(5)!.items.at(-1)!;
    expect(last).toMatchObject({ id: 999, seq: 4, sender_id: ME, body: { text: "hello there" } });
    expect(convs.byId[5].last_seq).toBe(4);
    expect(convs.byId[5].unread).toBe(0);
  });

  it("fills the gap when the ack's seq jumps past messages not seen yet", async () => {
    const { api, ws, msgs, convs } = setup(true);
    api.add(5, 3);
    convs.setAll([conv(5, 3)]);
    await msgs.open(5);
    const sock = await goOnline(ws);
    api.add(5, 2); // seq 4, 5 from the peer, not pushed yet
    const o = msgs.sendText(5, "mine");
    const frame = sock.sentOf("send")[0] as Record<string, unknown>;
    api.add(5, 1, ME); // seq 6 is ours
    sock.push({ type: "ack", ref: frame.ref, message_id: 50006, conversation_id: 5, seq: 6, ts: 5, client_msg_id: o.client_msg_id });
    await flush();
    await flush();
    expect(msgs.win(5)!.items.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("in a group, pulls after the local seq when the ack's seq does not follow it, and not when it does", async () => {
    const { api, ws, msgs, convs } = setup(true);
    api.add(5, 3);
    convs.setAll([conv(5, 3, { kind: "group", peer: null })]);
    await msgs.open(5);
    const sock = await goOnline(ws);
    api.calls = [];
    // seq 4 is ours and directly follows: no pull
    const first = msgs.sendText(5, "next");
    api.add(5, 1, ME);
    sock.push({ type: "ack", ref: sock.sentOf("send")[0].ref, message_id: 50004, conversation_id: 5, seq: 4, ts: 4, client_msg_id: first.client_msg_id });
    await flush();
    expect(api.calls).toEqual([]);
    // 5..7 were sent by others in a hot group (no push); ours gets seq 8: gap fill after 4
    api.add(5, 3);
    const second = msgs.sendText(5, "after a gap");
    api.add(5, 1, ME);
    sock.push({ type: "ack", ref: sock.sentOf("send")[1].ref, message_id: 50008, conversation_id: 5, seq: 8, ts: 8, client_msg_id: second.client_msg_id });
    await flush();
    await flush();
    expect(api.calls).toEqual(["after:5:4"]);
    expect(msgs.win(5)!.items.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(msgs.outbox[5]).toEqual([]);
  });

  it("answers a notice for a group that is not open by fetching it, even when its summary looks current", async () => {
    const { api, sync, convs } = setup(false);
    api.add(7, 4);
    api.convs = [conv(7, 4, { kind: "group", peer: null, unread: 4 })];
    convs.setAll(api.convs);
    await sync.notice(7, 4);
    expect(api.calls).toEqual(["conversation:7"]);
    api.add(7, 2);
    api.convs = [conv(7, 6, { kind: "group", peer: null, unread: 6 })];
    await sync.notice(7, 6);
    expect(api.calls).toEqual(["conversation:7", "conversation:7"]);
    expect(convs.byId[7]).toMatchObject({ last_seq: 6, unread: 6 });
  });

  it("queues a message while the socket is down and sends it with the same client_msg_id once it is back", async () => {
    const { api, ws, msgs, convs } = setup(false);
    api.add(5, 1);
    convs.setAll([conv(5, 1)]);
    await msgs.open(5);
    ws.on("hello", () => msgs.flushOutbox());
    const o = msgs.sendText(5, "written offline");
    await flush();
    expect(msgs.outbox[5].map((x) => x.state)).toEqual(["queued"]);
    expect(api.sent).toEqual([]); // not over HTTP either: it waits for the socket
    const sock = await goOnline(ws);
    const f = sock.sentOf("send")[0] as Record<string, unknown>;
    expect(f).toMatchObject({ client_msg_id: o.client_msg_id, body: { text: "written offline" } });
    sock.push({ type: "ack", ref: f.ref, message_id: 50002, conversation_id: 5, seq: 2, ts: 2, client_msg_id: o.client_msg_id });
    await flush();
    expect(msgs.outbox[5]).toEqual([]);
    expect(msgs.win(5)!.items.at(-1)!.body).toEqual({ text: "written offline" });
    ws.stop();
  });

  it("fails a socket send on an error frame with a readable reason, and retries with the same id", async () => {
    const { api, ws, msgs, convs } = setup(true);
    api.add(5, 1);
    convs.setAll([conv(5, 1)]);
    await msgs.open(5);
    const sock = await goOnline(ws);
    const o = msgs.sendText(5, "x");
    const f1 = sock.sentOf("send")[0] as Record<string, unknown>;
    sock.push({ type: "error", ref: f1.ref, code: "not_friends", message: "not friends" });
    await flush();
    expect(msgs.outbox[5][0]).toMatchObject({ state: "failed", error: "You can only message friends." });
    void msgs.retry(5, o.client_msg_id);
    const f2 = sock.sentOf("send")[1] as Record<string, unknown>;
    expect(f2.client_msg_id).toBe(o.client_msg_id);
    expect(f2.ref).not.toBe(f1.ref);
  });

  it("puts a send with no ack back in the queue and sends it again with the same client_msg_id", async () => {
    const { api, ws, msgs, convs } = setup(true);
    api.add(5, 1);
    convs.setAll([conv(5, 1)]);
    await msgs.open(5);
    vi.useFakeTimers();
    const sock = await goOnline(ws);
    const o = msgs.sendText(5, "lost");
    vi.advanceTimersByTime(1500);
    await flush();
    expect(msgs.outbox[5][0].state).toBe("queued");
    vi.advanceTimersByTime(2000);
    await flush();
    expect(sock.sentOf("send").map((f) => f.client_msg_id)).toEqual([o.client_msg_id, o.client_msg_id]);
    expect(msgs.outbox[5][0].state).toBe("sending");
    ws.stop();
  });

  it("dedupes a pushed copy of my own message by client_msg_id and seq", async () => {
    const { api, ws, msgs, convs, sync } = setup(true);
    api.add(5, 1);
    convs.setAll([conv(5, 1)]);
    await msgs.open(5);
    const sock = await goOnline(ws);
    const o = msgs.sendText(5, "echo");
    const f = sock.sentOf("send")[0] as Record<string, unknown>;
    await sync.receive(msg(5, 2, ME, "echo", { client_msg_id: o.client_msg_id, id: 77 }));
    expect(msgs.outbox[5]).toEqual([]);
    sock.push({ type: "ack", ref: f.ref, message_id: 77, conversation_id: 5, seq: 2, ts: 1, client_msg_id: o.client_msg_id });
    await flush();
    expect(msgs.win(5)!.items.map((m) => m.seq)).toEqual([1, 2]);
  });

  it("counts unread for messages in conversations not on screen, and not for the open one", async () => {
    const { api, msgs, convs, sync } = setup(false);
    api.add(5, 1);
    api.add(6, 1);
    convs.setAll([conv(5, 1), conv(6, 1)]);
    await msgs.open(5);
    convs.activeId = 5;
    useUiStore().visible = true;
    await sync.receive(api.add(5, 1));
    await sync.receive(api.add(6, 1));
    await sync.receive(api.add(6, 1));
    expect(convs.byId[5].unread).toBe(0);
    expect(convs.byId[6].unread).toBe(2);
    expect(convs.totalUnread).toBe(2);
    expect(convs.byId[6].last_message!.seq).toBe(3);
    expect(convs.sorted[0].id).toBe(6);
    // a mention of me raises the flag
    await sync.receive(msg(6, 4, 2, "@me", { mentions: [ME] }));
    expect(convs.byId[6].mentioned).toBe(true);
  });

  it("marks read with the latest seq over the socket, or over HTTP when offline", async () => {
    const { api, ws, msgs, convs } = setup(true);
    api.add(5, 8);
    convs.setAll([conv(5, 8, { unread: 3, read_seq: 5 })]);
    await msgs.open(5);
    msgs.markRead(5);
    expect(api.reads).toEqual([[5, 8]]);
    expect(convs.byId[5].unread).toBe(0);
    const sock = await goOnline(ws);
    await msgs.open(5);
    await useMessagesStore().sink.applyMessages(5, [api.add(5, 1)]);
    convs.byId[5].unread = 1;
    msgs.markRead(5);
    expect(sock.sentOf("read")).toEqual([{ type: "read", conversation_id: 5, seq: 9 }]);
  });

  it("replaces a recalled message with a tip (recall kind message)", async () => {
    const { api, msgs, convs, sync } = setup(false);
    api.add(5, 3);
    convs.setAll([conv(5, 3)]);
    await msgs.open(5);
    const target = msgs.win(5)!.items[1];
    await sync.receive(msg(5, 4, 2, "", { kind: "recall", body: { message_id: target.id, seq: target.seq, by: 2 } }));
    expect(msgs.win(5)!.items[1]).toMatchObject({ recalled: true, body: {} });
    expect(convs.byId[5].last_message!.kind).toBe("recall");
    expect(convs.byId[5].unread).toBe(0); // a recall is not a new unread message
  });

  it("throttles typing frames to one per 3 s and shows others typing for ~5 s", async () => {
    const { ws, msgs } = setup(true);
    const sock = await goOnline(ws);
    expect(msgs.iAmTyping(5, 10_000)).toBe(true);
    expect(msgs.iAmTyping(5, 11_000)).toBe(false);
    expect(msgs.iAmTyping(5, 12_999)).toBe(false);
    expect(msgs.iAmTyping(5, 13_001)).toBe(true);
    expect(sock.sentOf("typing").length).toBe(2);
    vi.useFakeTimers();
    msgs.noteTyping(5, 2);
    msgs.noteTyping(5, ME); // my own other device: ignored
    expect(msgs.typers(5)).toEqual([2]);
    vi.advanceTimersByTime(5100);
    expect(msgs.typers(5)).toEqual([]);
  });

  it("ends the typist's typing when their message arrives; a typing frame delivered just after does not restart it", async () => {
    const { api, msgs, convs, sync } = setup(false);
    api.add(5, 1);
    convs.setAll([conv(5, 1)]);
    await msgs.open(5);
    vi.useFakeTimers();
    msgs.noteTyping(5, 2);
    expect(msgs.typers(5)).toEqual([2]);
    await sync.receive(msg(5, 2, 2, "done typing"));
    expect(msgs.typers(5)).toEqual([]);
    msgs.noteTyping(5, 2); // sent before the message, delivered after it
    expect(msgs.typers(5)).toEqual([]);
    vi.advanceTimersByTime(1100);
    msgs.noteTyping(5, 2); // typing the next one
    expect(msgs.typers(5)).toEqual([2]);
  });

  it("waits a moment after my own send before the next typing frame, so that peers do not drop it", async () => {
    const { ws, msgs } = setup(true);
    const sock = await goOnline(ws);
    vi.useFakeTimers({ now: 100_000, toFake: ["Date"] });
    msgs.sendText(5, "sent");
    expect(msgs.iAmTyping(5, 100_500)).toBe(false);
    expect(msgs.iAmTyping(5, 101_600)).toBe(true); // not 3 s later: the throttle restarts with each send
    expect(sock.sentOf("typing").length).toBe(1);
    ws.stop();
  });
});

describe("connection loss", () => {
  afterEach(() => resetServices());

  it("puts the messages still sending back in the queue when the connection drops, and sends them in order after", async () => {
    const { api, ws, msgs, convs } = setup();
    api.add(5, 1);
    convs.setAll([conv(5, 1)]);
    await msgs.open(5);
    const sock = await goOnline(ws);
    ws.on("hello", () => msgs.flushOutbox());
    const a = msgs.sendText(5, "a");
    const b = msgs.sendText(5, "b");
    expect(sock.sentOf("send").map((f) => f.client_msg_id)).toEqual([a.client_msg_id]); // b waits for a's ack
    sock.drop(1006);
    await flush();
    expect(msgs.outbox[5].map((o) => [o.body.text, o.state])).toEqual([["a", "queued"], ["b", "queued"]]);
    expect(msgs.outbox[5].some((o) => o.state === "failed")).toBe(false);
    ws.reconnectNow();
    await flush();
    FakeSocket.last().open();
    FakeSocket.last().hello(makeUser(ME, "me"));
    const again = FakeSocket.last();
    const f1 = again.sentOf("send")[0] as Record<string, unknown>;
    expect(f1.client_msg_id).toBe(a.client_msg_id);
    again.push({ type: "ack", ref: f1.ref, message_id: 50002, conversation_id: 5, seq: 2, ts: 2, client_msg_id: a.client_msg_id });
    await flush();
    const f2 = again.sentOf("send")[1] as Record<string, unknown>;
    expect(f2.client_msg_id).toBe(b.client_msg_id);
    again.push({ type: "ack", ref: f2.ref, message_id: 50003, conversation_id: 5, seq: 3, ts: 3, client_msg_id: b.client_msg_id });
    await flush();
    expect(msgs.outbox[5]).toEqual([]);
    expect(msgs.win(5)!.items.map((m) => m.body.text)).toEqual(["m1", "a", "b"]);
    ws.stop();
  });
});

describe("conversations store", () => {
  beforeEach(() => setActivePinia(createPinia()));
  afterEach(() => resetServices());

  it("tracks the peer's read position from read frames and my own from my other devices", () => {
    setServices({});
    useAuthStore().setUser(makeUser(ME));
    const convs = useConversationsStore();
    convs.setAll([conv(5, 10, { unread: 4, read_seq: 6, peer_read_seq: 2 })]);
    convs.noteRead(5, 2, 9);
    expect(convs.byId[5].peer_read_seq).toBe(9);
    convs.noteRead(5, 2, 3); // never backwards
    expect(convs.byId[5].peer_read_seq).toBe(9);
    convs.noteRead(5, ME, 10);
    expect(convs.byId[5].unread).toBe(0);
  });

  it("keeps pushed state newer than a list fetched earlier and filters by search text", () => {
    setServices({});
    const convs = useConversationsStore();
    convs.setAll([conv(5, 3, { peer: makeUser(2, "alice") }), conv(6, 1, { peer: makeUser(3, "bob") })]);
    convs.noteMessage(msg(5, 7), false);
    convs.setAll([conv(5, 3, { peer: makeUser(2, "alice") }), conv(6, 1, { peer: makeUser(3, "bob") })]);
    expect(convs.byId[5].last_seq).toBe(7);
    convs.query = "bo";
    expect(convs.filtered.map((c) => c.id)).toEqual([6]);
  });

  it("keeps the open conversation on screen when the server stops listing it (removed from a group)", () => {
    setServices({});
    const convs = useConversationsStore();
    convs.setAll([conv(5, 3), conv(6, 1)]);
    convs.activeId = 5;
    convs.setAll([conv(6, 1)]);
    expect(Object.keys(convs.byId).map(Number).sort()).toEqual([5, 6]);
    convs.activeId = null;
    convs.setAll([conv(6, 1)]);
    expect(Object.keys(convs.byId).map(Number)).toEqual([6]);
  });
});
