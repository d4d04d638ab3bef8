import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ApiClient } from "../src/api/client";
import { MemoryTokenStore } from "../src/api/tokens";
import { MUTED_FOREVER, type ConversationSettings, type Message } from "../src/api/types";
import { alerts, isMuted, listOrder, splitArchived, unreadTotal } from "../src/lib/convSettings";
import { forwardId, refusals } from "../src/lib/forward";
import { markHidden } from "../src/lib/hidden";
import { HIDDEN_TIP, RowBuilder } from "../src/lib/timeline";
import { resetServices, setServices } from "../src/services";
import { useAuthStore } from "../src/stores/auth";
import { useConversationsStore } from "../src/stores/conversations";
import { useHiddenStore } from "../src/stores/hidden";
import { useMessagesStore } from "../src/stores/messages";
import { FakeHistory, conv, makeUser, msg } from "./fakes";

const NOW = 1_700_000_000_000;
const settings = (s: Partial<ConversationSettings>): ConversationSettings => ({ muted_until: 0, count_when_muted: true, pinned: false, archived: false, ...s });
const at = (id: number, ts: number, s: Partial<ConversationSettings> = {}, unread = 0) =>
  conv(id, 1, { last_message: { ...msg(id, 1), ts }, settings: settings(s), unread });

describe("conversation list settings", () => {
  it("puts pinned conversations first, each part newest first", () => {
    const list = [at(1, 100), at(2, 300), at(3, 50, { pinned: true }), at(4, 200, { pinned: true })];
    expect(listOrder(list).map((c) => c.id)).toEqual([4, 3, 2, 1]);
  });

  it("keeps archived conversations out of the main list, in order", () => {
    const { main, archived } = splitArchived([at(1, 100, { archived: true }), at(2, 300), at(3, 200, { archived: true }), at(4, 50)]);
    expect(main.map((c) => c.id)).toEqual([2, 4]);
    expect(archived.map((c) => c.id)).toEqual([3, 1]);
  });

  it("is muted until muted_until, forever with 2^62, and not without settings", () => {
    expect(isMuted(at(1, 0, { muted_until: NOW + 1000 }), NOW)).toBe(true);
    expect(isMuted(at(1, 0, { muted_until: NOW - 1 }), NOW)).toBe(false);
    expect(isMuted(at(1, 0, { muted_until: MUTED_FOREVER }), NOW)).toBe(true);
    expect(isMuted(conv(1, 1), NOW)).toBe(false);
  });

  it("raises no sound or notification for a muted conversation, until the mute runs out", () => {
    expect(alerts(at(1, 0), NOW)).toBe(true);
    expect(alerts(at(1, 0, { muted_until: NOW + 3_600_000 }), NOW)).toBe(false);
    expect(alerts(at(1, 0, { muted_until: NOW + 3_600_000 }), NOW + 3_600_001)).toBe(true);
    expect(alerts(undefined, NOW)).toBe(true);
  });

  it("leaves a muted conversation's unread out of the total unless it counts when muted", () => {
    const list = [
      at(1, 0, {}, 3),
      at(2, 0, { muted_until: MUTED_FOREVER, count_when_muted: false }, 5),
      at(3, 0, { muted_until: MUTED_FOREVER, count_when_muted: true }, 7),
      at(4, 0, { muted_until: NOW - 1, count_when_muted: false }, 11),
    ];
    expect(unreadTotal(list, NOW)).toBe(3 + 7 + 11);
  });

  it("applies a conversation_settings change to the store: order, archive and total follow", () => {
    setActivePinia(createPinia());
    const convs = useConversationsStore();
    convs.setAll([at(1, 100, {}, 2), at(2, 300, {}, 4)]);
    expect(convs.filtered.map((c) => c.id)).toEqual([2, 1]);
    convs.applySettings(1, { pinned: true });
    expect(convs.filtered.map((c) => c.id)).toEqual([1, 2]);
    convs.applySettings(2, { archived: true });
    expect(convs.filtered.map((c) => c.id)).toEqual([1]);
    expect(convs.archived.map((c) => c.id)).toEqual([2]);
    convs.query = "user";
    expect(convs.filtered.map((c) => c.id)).toEqual([1, 2]); // a search finds archived ones too
    expect(convs.totalUnread).toBe(6);
    convs.applySettings(2, { muted_until: MUTED_FOREVER, count_when_muted: false });
    expect(convs.totalUnread).toBe(2);
    expect(convs.byId[2].settings).toEqual(settings({ archived: true, muted_until: MUTED_FOREVER, count_when_muted: false }));
  });
});

class HiddenApi extends FakeHistory {
  tokens = new MemoryTokenStore();
  hiddenLog: Array<{ ids: number[]; change: number }> = [];
  asked: number[] = [];
  async hide(_cid: number, ids: number[]) {
    this.hiddenLog.push({ ids, change: this.hiddenLog.length + 1 });
    return { hidden_change: this.hiddenLog.length };
  }
  async hidden(cid: number, after: number) {
    this.asked.push(after);
    const later = this.hiddenLog.filter((h) => h.change > after);
    return { conversation_id: cid, message_ids: later.flatMap((h) => h.ids), hidden_change: this.hiddenLog.length, has_more: false };
  }
}

describe("delete for me", () => {
  let api: HiddenApi;
  beforeEach(() => {
    setActivePinia(createPinia());
    api = new HiddenApi();
    api.add(5, 4);
    api.convs = [conv(5, 4, { hidden_change: 0 })];
    setServices({ api: api as unknown as ApiClient });
    useAuthStore().setUser(makeUser(1, "me"));
  });
  afterEach(() => resetServices());

  async function opened() {
    const convs = useConversationsStore();
    convs.setAll(api.convs);
    const msgs = useMessagesStore();
    msgs.setPage(5, await api.latestMessages(5, 50));
    useHiddenStore().track(5);
    return msgs;
  }

  it("marks messages hidden at their seq with an empty body, leaving the window whole", () => {
    const items: Message[] = [msg(5, 1), msg(5, 2), msg(5, 3)];
    const before = items[1];
    expect(markHidden(items, [before.id, 999])).toBe(1);
    expect(items.map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(items[1]).not.toBe(before);
    expect(items[1]).toMatchObject({ seq: 2, hidden: true, body: {} });
    expect(markHidden(items, [before.id])).toBe(0);
  });

  it("hides in the store and in the rows, and a messages_hidden from another device does the same", async () => {
    const msgs = await opened();
    const hidden = useHiddenStore();
    await hidden.hide(5, [msgs.windows[5].items[1].id]);
    hidden.apply(5, [msgs.windows[5].items[3].id], 2); // as the event from my other tab
    const w = msgs.windows[5];
    expect(w.items.map((m) => [m.seq, !!m.hidden])).toEqual([[1, false], [2, true], [3, false], [4, true]]);
    expect(w.tail).toBe(4);
    expect(useConversationsStore().byId[5].hidden_change).toBe(2);
    expect(useConversationsStore().byId[5].last_message?.hidden).toBe(true);

    const builder = new RowBuilder();
    const opt = { me: 1, readSeq: null, recallTip: () => "", atStart: true, epoch: 0 };
    const plain = builder.build([msg(5, 1), msg(5, 2)], [], opt);
    expect(plain.filter((r) => r.t === "msg")).toHaveLength(2);
    const items = [msg(5, 1), msg(5, 2)];
    builder.build(items, [], opt);
    markHidden(items, [items[0].id]);
    const rows = builder.build(items, [], { ...opt, epoch: 1 });
    expect(rows.filter((r) => r.t === "tip").map((r) => (r as { text: string }).text)).toEqual([HIDDEN_TIP]);
    expect(rows.filter((r) => r.t === "msg")).toHaveLength(1);
  });

  it("after a reconnect asks only for what was hidden after the last change it applied", async () => {
    const msgs = await opened();
    const ids = msgs.windows[5].items.map((m) => m.id);
    api.hiddenLog.push({ ids: [ids[0]], change: 1 }, { ids: [ids[2]], change: 2 });
    useHiddenStore().apply(5, [ids[0]], 1);
    useConversationsStore().setAll([conv(5, 4, { hidden_change: 2 })]);
    await useHiddenStore().catchUp();
    expect(api.asked).toEqual([1]);
    expect(msgs.windows[5].items.filter((m) => m.hidden).map((m) => m.seq)).toEqual([1, 3]);
    await useHiddenStore().catchUp(); // nothing new: no request
    expect(api.asked).toEqual([1]);
  });
});

describe("forward", () => {
  it("makes a fresh client_msg_id of at most 24 characters", () => {
    const a = forwardId(), b = forwardId();
    expect(a.length).toBeLessThanOrEqual(24);
    expect(a).not.toBe(b);
  });

  it("lists each refused target with a reason", () => {
    const lines = refusals([
      { conversation_id: 1, acks: [{ message_id: 9, conversation_id: 1, seq: 3, ts: 0, client_msg_id: "x" }], error: null },
      { conversation_id: 2, acks: [], error: { code: "not_member", message: "not a member" } },
    ], (cid) => `Chat ${cid}`);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Chat 2: /);
  });
});

describe("settings request", () => {
  it("writes muted_until 2^62 with its exact digits", async () => {
    const { ApiClient } = await import("../src/api/client");
    const bodies: string[] = [];
    const api = new ApiClient({
      baseUrl: "/api/v1", tokens: new MemoryTokenStore(),
      fetch: async (_u: string, init?: RequestInit) => { bodies.push(String(init?.body)); return new Response("{}", { status: 200, headers: { "content-type": "application/json" } }); },
    } as never);
    await api.updateSettings(3, { muted_until: MUTED_FOREVER, pinned: true });
    expect(bodies[0]).toBe('{"muted_until":4611686018427387904,"pinned":true}');
  });
});
