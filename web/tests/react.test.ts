import { createPinia, setActivePinia } from "pinia";
import { afterEach, describe, expect, it } from "vitest";
import type { ApiClient } from "../src/api/client";
import { ApiError } from "../src/api/errors";
import type { ChangesPage, Message } from "../src/api/types";
import { MemoryTokenStore } from "../src/api/tokens";
import { fromSaved, toSaved } from "../src/lib/outbox";
import { resetServices, setServices } from "../src/services";
import { useAuthStore } from "../src/stores/auth";
import { useConversationsStore } from "../src/stores/conversations";
import { useMessagesStore } from "../src/stores/messages";
import { useUiStore } from "../src/stores/ui";
import { SyncEngine } from "../src/ws/sync";
import { FakeHistory, conv, makeTokens, makeUser, msg } from "./fakes";

const ME = 1;

/** A history whose messages can be edited and reacted to, with a changes feed. */
class ChangingApi extends FakeHistory {
  tokens = new MemoryTokenStore();
  lastChange: Record<number, number> = {};
  sent: Array<Record<string, unknown>> = [];
  editRefused = false;
  /** Change a stored message as the server would: it takes the next change number. */
  change(cid: number, seq: number, patch: Partial<Message>): Message {
    const list = this.data.get(cid)!;
    const version = (this.lastChange[cid] = (this.lastChange[cid] ?? 0) + 1);
    const m = { ...list[seq - 1], ...patch, version };
    list[seq - 1] = m;
    return m;
  }
  async changes(cid: number, after: number, limit = 2): Promise<ChangesPage> {
    this.calls.push(`changes:${cid}:${after}`);
    const all = (this.data.get(cid) ?? []).filter((m) => (m.version ?? 0) > after).sort((a, b) => (a.version ?? 0) - (b.version ?? 0));
    const page = all.slice(0, limit);
    return { conversation_id: cid, messages: page, last_change: page.at(-1)?.version ?? after, has_more: all.length > limit };
  }
  async editMessage(id: number, text: string) {
    if (this.editRefused) throw new ApiError(403, "edit_window_passed", "too late");
    const cid = Math.floor(id / 10000);
    return this.change(cid, id % 10000, { body: { text }, edited_at: 5 });
  }
  async react(id: number, emoji: string, on: boolean) {
    const cid = Math.floor(id / 10000);
    return this.change(cid, id % 10000, { reactions: on ? [{ emoji, count: 1, user_ids: [ME] }] : [] });
  }
  async sendMessage(cid: number, m: Record<string, unknown>) {
    this.sent.push(m);
    const last = this.add(cid, 1, ME);
    return { message_id: last.id, conversation_id: cid, seq: last.seq, ts: last.ts, client_msg_id: String(m.client_msg_id) };
  }
}

async function flush() {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

async function setup(count = 5) {
  setActivePinia(createPinia());
  const api = new ChangingApi();
  api.tokens.save(makeTokens(1, makeUser(ME, "me")));
  const msgs = useMessagesStore();
  setServices({ api: api as unknown as ApiClient, ws: null, sync: new SyncEngine(api, msgs.sink) });
  useAuthStore().setUser(makeUser(ME, "me"));
  api.add(5, count);
  useConversationsStore().setAll([conv(5, count)]);
  await msgs.open(5);
  return { api, msgs };
}

describe("edits, reactions and replies in the messages store", () => {
  afterEach(() => resetServices());

  it("keeps the copy with the higher version, whether it comes pushed or in a pulled page", async () => {
    const { msgs } = await setup();
    const v2 = { ...msg(5, 3), body: { text: "second" }, version: 2, edited_at: 9 };
    const v1 = { ...msg(5, 3), body: { text: "first" }, version: 1, edited_at: 8 };
    msgs.receiveChanged(v2);
    msgs.receiveChanged(v1); // overtaken: the older copy is dropped
    expect(msgs.win(5)!.items[2].body).toEqual({ text: "second" });
    // a pull that brings an older copy of a held message does not undo the change
    msgs.sink.applyMessages(5, [v1, msg(5, 6)]);
    expect(msgs.win(5)!.items[2]).toMatchObject({ body: { text: "second" }, version: 2 });
    expect(msgs.win(5)!.items.at(-1)!.seq).toBe(6);
    // and a newer one replaces it
    msgs.sink.applyMessages(5, [{ ...v2, body: { text: "third" }, version: 3 }]);
    expect(msgs.win(5)!.items[2].body).toEqual({ text: "third" });
    // an edit of the last message shows in the conversation list's preview too
    msgs.receiveChanged({ ...msg(5, 6), body: { text: "last, edited" }, version: 4 });
    expect(useConversationsStore().byId[5].last_message!.body).toEqual({ text: "last, edited" });
  });

  it("marks quotes of held replies recalled when the recall arrives", async () => {
    const { msgs } = await setup();
    const original = msgs.win(5)!.items[1];
    const quote = { message_id: original.id, seq: original.seq, sender_id: 2, kind: "text", snippet: "m2", recalled: false };
    msgs.sink.applyMessages(5, [msg(5, 6, 1, "answer", { reply_to: quote })]);
    msgs.sink.applyMessages(5, [msg(5, 7, 2, "", { kind: "recall", body: { message_id: original.id, seq: original.seq, by: 2 } })]);
    const reply = msgs.win(5)!.items.find((m) => m.seq === 6)!;
    expect(reply.reply_to).toMatchObject({ message_id: original.id, recalled: true, snippet: "" });
  });

  it("updates a quote's snippet when its original is edited", async () => {
    const { msgs } = await setup();
    const original = msgs.win(5)!.items[1];
    const quote = { message_id: original.id, seq: original.seq, sender_id: 2, kind: "text", snippet: "m2", recalled: false };
    msgs.sink.applyMessages(5, [msg(5, 6, 1, "answer", { reply_to: quote })]);
    msgs.receiveChanged({ ...original, body: { text: "m2, fixed" }, version: 1 });
    expect(msgs.win(5)!.items.find((m) => m.seq === 6)!.reply_to!.snippet).toBe("m2, fixed");
  });

  it("catches up with the changes feed, page by page, when the list's last_change is ahead", async () => {
    const { api, msgs } = await setup();
    api.change(5, 1, { body: { text: "one" }, edited_at: 1 });
    api.change(5, 2, { reactions: [{ emoji: "👍", count: 1, user_ids: [2] }] });
    api.change(5, 4, { body: { text: "four" }, edited_at: 1 });
    msgs.sink.setConversations([conv(5, 5, { last_change: 3 })]); // as after a reconnect
    await flush();
    const items = msgs.win(5)!.items;
    expect(items[0].body).toEqual({ text: "one" });
    expect(items[1].reactions).toEqual([{ emoji: "👍", count: 1, user_ids: [2] }]);
    expect(items[3].body).toEqual({ text: "four" });
    expect(msgs.lastChange[5]).toBe(3);
    expect(api.calls.filter((c) => c.startsWith("changes"))).toEqual(["changes:5:0", "changes:5:2"]);
    // nothing new: no request
    msgs.sink.setConversations([conv(5, 5, { last_change: 3 })]);
    await flush();
    expect(api.calls.filter((c) => c.startsWith("changes")).length).toBe(2);
  });

  it("asks the feed when a pushed change skips versions, and not when it follows", async () => {
    const { api, msgs } = await setup();
    msgs.receiveChanged(api.change(5, 1, { body: { text: "a" } }));
    expect(msgs.lastChange[5]).toBe(1);
    expect(api.calls.some((c) => c.startsWith("changes"))).toBe(false);
    api.change(5, 2, { body: { text: "missed" } });
    msgs.receiveChanged(api.change(5, 3, { body: { text: "c" } }));
    await flush();
    expect(api.calls).toContain("changes:5:1");
    expect(msgs.win(5)!.items[1].body).toEqual({ text: "missed" });
    expect(msgs.lastChange[5]).toBe(3);
  });

  it("edits and toggles reactions with the server's answer; a refused edit says why in a toast", async () => {
    const { api, msgs } = await setup();
    const mine = msgs.win(5)!.items[0];
    expect(await msgs.edit(mine, "new text")).toBe(true);
    expect(msgs.win(5)!.items[0]).toMatchObject({ body: { text: "new text" }, edited_at: 5 });
    await msgs.toggleReaction(msgs.win(5)!.items[0], "🎉");
    expect(msgs.win(5)!.items[0].reactions).toEqual([{ emoji: "🎉", count: 1, user_ids: [ME] }]);
    await msgs.toggleReaction(msgs.win(5)!.items[0], "🎉"); // mine already: taken off
    expect(msgs.win(5)!.items[0].reactions).toEqual([]);
    api.editRefused = true;
    expect(await msgs.edit(msgs.win(5)!.items[0], "late")).toBe(false);
    expect(useUiStore().toasts.at(-1)!.text).toBe("This message is too old to edit.");
  });

  it("sends a reply with reply_to and keeps the quote while it is queued and on disk", async () => {
    const { api, msgs } = await setup();
    const original = msgs.win(5)!.items[1];
    const quote = { message_id: original.id, seq: original.seq, sender_id: 2, kind: "text", snippet: "m2", recalled: false };
    const o = msgs.sendText(5, "yes", [], false, quote);
    const back = fromSaved(toSaved(o, ME));
    expect(back.reply).toEqual(quote);
    await flush();
    expect(api.sent[0]).toMatchObject({ body: { text: "yes" }, reply_to: original.id });
    expect(msgs.win(5)!.items.at(-1)!.reply_to).toEqual(quote);
  });
});
