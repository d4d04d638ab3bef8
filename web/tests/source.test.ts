import { describe, expect, it } from "vitest";
import { RequestError, type ProtocolClient } from "../src/ws/client";
import type { ClientFrame } from "../src/ws/protocol";
import { SocketFirstSource } from "../src/ws/source";
import { FakeHistory, msg } from "./fakes";

/** The part of the protocol client the source uses: its state and request/answer by ref. */
function fakeSocket(state: string, answer: (f: ClientFrame) => Promise<unknown>) {
  const sent: ClientFrame[] = [];
  let ref = 0;
  const client = {
    state,
    nextRef: () => `r${++ref}`,
    request: (f: ClientFrame) => { sent.push(f); return answer(f); },
  };
  return { client: client as unknown as ProtocolClient, sent };
}

describe("SocketFirstSource", () => {
  it("pulls over the socket while it is online", async () => {
    const http = new FakeHistory();
    const { client, sent } = fakeSocket("online", async () => ({
      type: "messages", ref: "r1", conversation_id: 7, messages: [msg(7, 4)], has_more: true,
    }));
    const page = await new SocketFirstSource(http, () => client).messagesAfter(7, 3, 100);
    expect(page).toEqual({ messages: [msg(7, 4)], has_more: true });
    expect(sent).toEqual([{ type: "sync", ref: "r1", conversation_id: 7, after: 3, limit: 100 }]);
    expect(http.calls).toEqual([]);
  });

  it("uses HTTP when the socket is not online or drops the request", async () => {
    const http = new FakeHistory();
    http.add(7, 5);
    const offline = fakeSocket("waiting", async () => { throw new Error("not called"); });
    expect((await new SocketFirstSource(http, () => offline.client).messagesAfter(7, 3, 100)).messages.map((m) => m.seq)).toEqual([4, 5]);
    expect(offline.sent).toEqual([]);
    const dropped = fakeSocket("online", async () => { throw new RequestError("disconnected", "Connection lost"); });
    expect((await new SocketFirstSource(http, () => dropped.client).messagesAfter(7, 4, 100)).messages.map((m) => m.seq)).toEqual([5]);
    expect((await new SocketFirstSource(http, () => null).messagesAfter(7, 0, 2)).has_more).toBe(true);
    expect(http.calls).toEqual(["after:7:3", "after:7:4", "after:7:0"]);
  });

  it("passes a refusal on instead of asking again over HTTP", async () => {
    const http = new FakeHistory();
    const { client } = fakeSocket("online", async () => { throw new RequestError("not_member", "no"); });
    await expect(new SocketFirstSource(http, () => client).messagesAfter(7, 0, 100)).rejects.toMatchObject({ code: "not_member" });
    expect(http.calls).toEqual([]);
  });
});
