import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ProtocolClient, RequestError, backoffDelay, type ConnState } from "../src/ws/client";
import { FakeSocket } from "./fakes";

function client(extra: Partial<ConstructorParameters<typeof ProtocolClient>[0]> = {}) {
  const states: ConnState[] = [];
  const c = new ProtocolClient({
    url: "ws://test/ws",
    getToken: async () => "tok",
    socketFactory: (u) => new FakeSocket(u),
    random: () => 0.5,
    ...extra,
  });
  c.on("state", (s) => states.push(s.state));
  return { c, states };
}

async function flush() {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe("ProtocolClient", () => {
  beforeEach(() => {
    FakeSocket.all = [];
    vi.useFakeTimers();
  });
  afterEach(() => vi.useRealTimers());

  it("sends auth first, goes online on hello, and pings every heartbeat_interval", async () => {
    const { c, states } = client();
    c.start();
    await flush();
    const s = FakeSocket.last();
    expect(s.url).toBe("ws://test/ws");
    s.open();
    expect(s.sent[0]).toEqual({ type: "auth", token: "tok" });
    expect(c.state).toBe("authenticating");
    s.hello(undefined, 1000, 60000);
    expect(c.state).toBe("online");
    expect(states).toEqual(["connecting", "authenticating", "online"]);
    vi.advanceTimersByTime(3100);
    expect(s.sentOf("ping").length).toBe(3);
  });

  it("reconnects with exponential backoff and jitter, and resets after hello", async () => {
    const delays: number[] = [];
    const { c } = client();
    c.on("state", (s) => { if (s.state === "waiting") delays.push(s.retryInMs!); });
    c.start();
    await flush();
    for (let i = 0; i < 5; i++) {
      FakeSocket.last().drop(1006);
      vi.advanceTimersByTime(delays[delays.length - 1]);
      await flush();
    }
    // base 500, factor 2, random 0.5 -> cap*0.75
    expect(delays).toEqual([375, 750, 1500, 3000, 6000]);
    expect(FakeSocket.all.length).toBe(6);
    const s = FakeSocket.last();
    s.open();
    s.hello();
    expect(c.attempt).toBe(0);
    s.drop(1006);
    expect(delays[delays.length - 1]).toBe(375);
  });

  it("caps the backoff and spreads it with jitter", () => {
    const o = { base: 500, max: 30000, factor: 2 };
    expect(backoffDelay(20, o, () => 0)).toBe(15000);
    expect(backoffDelay(20, o, () => 1)).toBe(30000);
    expect(backoffDelay(0, o, () => 0)).toBe(250);
  });

  it("does not reconnect after kicked", async () => {
    const kicks: string[] = [];
    const { c } = client();
    c.on("kicked", (k) => kicks.push(k.reason));
    c.start();
    await flush();
    const s = FakeSocket.last();
    s.open();
    s.hello();
    s.push({ type: "kicked", reason: "device_logged_out" });
    s.drop(4003);
    vi.advanceTimersByTime(120_000);
    await flush();
    expect(c.state).toBe("kicked");
    expect(kicks).toEqual(["device_logged_out"]);
    expect(FakeSocket.all.length).toBe(1);
  });

  it("stops at the connection cap (close 4005) until asked to try again", async () => {
    const kicks: string[] = [];
    const { c } = client();
    c.on("kicked", (k) => kicks.push(k.reason));
    c.start();
    await flush();
    const s = FakeSocket.last();
    s.open();
    s.push({ type: "error", ref: null, code: "too_many_connections", message: "too many" });
    s.drop(4005);
    vi.advanceTimersByTime(120_000);
    await flush();
    expect(c.state).toBe("kicked");
    expect(kicks).toEqual(["too_many_connections"]);
    expect(FakeSocket.all.length).toBe(1);
    // "Try again"
    c.start();
    await flush();
    expect(FakeSocket.all.length).toBe(2);
  });

  it("treats a bare close 4003 as this device logged out", async () => {
    const kicks: string[] = [];
    const { c } = client();
    c.on("kicked", (k) => kicks.push(k.reason));
    c.start();
    await flush();
    const s = FakeSocket.last();
    s.open();
    s.hello();
    s.drop(4003);
    await flush();
    expect(kicks).toEqual(["device_logged_out"]);
  });

  it("reconnects at once when the server says reconnect", async () => {
    const { c } = client({ random: () => 0 });
    c.start();
    await flush();
    const s = FakeSocket.last();
    s.open();
    s.hello();
    s.push({ type: "reconnect", reason: "server_shutdown" });
    vi.advanceTimersByTime(0);
    await flush();
    expect(FakeSocket.all.length).toBe(2);
    expect(c.state).toBe("connecting");
  });

  it("asks for a refreshed token after close 4001", async () => {
    const forced: boolean[] = [];
    const { c } = client({ getToken: async (force) => { forced.push(force); return force ? "new" : "old"; } });
    c.start();
    await flush();
    FakeSocket.last().open();
    FakeSocket.last().drop(4001);
    vi.advanceTimersByTime(1000);
    await flush();
    FakeSocket.last().open();
    expect(forced).toEqual([false, true]);
    expect(FakeSocket.last().sent[0]).toMatchObject({ type: "auth", token: "new" });
  });

  it("stops and reports unauthorized when there is no token", async () => {
    let unauth = 0;
    const { c } = client({ getToken: async () => null });
    c.on("unauthorized", () => unauth++);
    c.start();
    await flush();
    expect(c.state).toBe("stopped");
    expect(unauth).toBe(1);
    expect(FakeSocket.all.length).toBe(0);
  });

  it("matches answers to requests by ref and rejects on error frames and disconnects", async () => {
    const { c } = client();
    c.start();
    await flush();
    const s = FakeSocket.last();
    s.open();
    s.hello();
    const p1 = c.request({ type: "send", ref: "r1", client_msg_id: "u1", conversation_id: 7, kind: "text", body: { text: "hi" } });
    const p2 = c.request({ type: "send", ref: "r2", client_msg_id: "u2", conversation_id: 7, kind: "text", body: { text: "x" } });
    const p3 = c.request({ type: "send", ref: "r3", client_msg_id: "u3", conversation_id: 7, kind: "text", body: { text: "y" } });
    s.push({ type: "ack", ref: "r1", message_id: 5, conversation_id: 7, seq: 3, ts: 1, client_msg_id: "u1" });
    s.push({ type: "error", ref: "r2", code: "not_friends", message: "no" });
    await expect(p1).resolves.toMatchObject({ seq: 3 });
    await expect(p2).rejects.toMatchObject({ code: "not_friends" });
    s.drop(1006);
    await expect(p3).rejects.toBeInstanceOf(RequestError);
  });

  it("times out a request that gets no answer", async () => {
    const { c } = client({ requestTimeoutMs: 2000 });
    c.start();
    await flush();
    FakeSocket.last().open();
    FakeSocket.last().hello();
    const p = c.request({ type: "recall", ref: "r9", message_id: 1 });
    vi.advanceTimersByTime(2001);
    await expect(p).rejects.toMatchObject({ code: "timeout" });
  });

  it("treats a silent connection as dead after heartbeat_timeout", async () => {
    const { c } = client();
    c.start();
    await flush();
    const s = FakeSocket.last();
    s.open();
    s.hello(undefined, 1000, 5000);
    vi.advanceTimersByTime(5001);
    expect(c.state).toBe("waiting");
    expect(s.closed?.code).toBe(4004);
  });

  it("refuses to send when offline", () => {
    const { c } = client();
    expect(c.send({ type: "typing", conversation_id: 1 })).toBe(false);
    return expect(c.request({ type: "recall", ref: "x", message_id: 1 })).rejects.toMatchObject({ code: "offline" });
  });
});
