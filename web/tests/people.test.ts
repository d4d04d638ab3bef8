import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ApiClient } from "../src/api/client";
import { MemoryTokenStore } from "../src/api/tokens";
import type { Readers, User } from "../src/api/types";
import { lastSeenAgo, presenceLine } from "../src/lib/format";
import { resetServices, setServices } from "../src/services";
import { memberName, showProfile } from "../src/session";
import { useFriendsStore } from "../src/stores/friends";
import { useAuthStore } from "../src/stores/auth";
import { useConversationsStore } from "../src/stores/conversations";
import { useMessagesStore } from "../src/stores/messages";
import { usePresenceStore } from "../src/stores/presence";
import { useUiStore } from "../src/stores/ui";
import { LOOKUP_BATCH, PROFILE_TTL_MS, useUsersStore } from "../src/stores/users";
import { conv, makeUser, msg } from "./fakes";

async function flush() {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** A fake `GET /users?ids=` that answers when the test says so. */
class FakeUsersApi {
  tokens = new MemoryTokenStore();
  asked: number[][] = [];
  known = new Map<number, User>();
  held: Array<() => void> = [];
  hold = false;
  usersByIds(ids: number[]): Promise<{ users: User[] }> {
    this.asked.push([...ids]);
    const answer = () => ({ users: ids.filter((id) => this.known.has(id)).map((id) => this.known.get(id)!) });
    if (!this.hold) return Promise.resolve(answer());
    return new Promise((resolve) => this.held.push(() => resolve(answer())));
  }
}

describe("profile cache", () => {
  let api: FakeUsersApi;
  beforeEach(() => {
    setActivePinia(createPinia());
    api = new FakeUsersApi();
    for (let id = 2; id <= 300; id++) api.known.set(id, makeUser(id, `name${id}`));
    setServices({ api: api as unknown as ApiClient });
  });
  afterEach(() => { resetServices(); vi.useRealTimers(); });

  it("collects the ids asked for in one tick into one batched request", async () => {
    const users = useUsersStore();
    expect(users.get(2)).toBeUndefined();
    users.get(3);
    users.get(2);
    await flush();
    expect(api.asked).toEqual([[2, 3]]);
    expect(users.get(2)?.nickname).toBe("name2");
    expect(users.get(3)?.nickname).toBe("name3");
    expect(api.asked).toHaveLength(1);
  });

  it("splits large lookups into batches of the server's limit", async () => {
    const users = useUsersStore();
    const ids = Array.from({ length: 250 }, (_, i) => i + 2);
    await users.ensure(ids);
    expect(api.asked.map((a) => a.length)).toEqual([LOOKUP_BATCH, LOOKUP_BATCH, 50]);
    expect(Object.keys(users.byId)).toHaveLength(250);
  });

  it("does not ask again for an id already on its way, and waits for it", async () => {
    const users = useUsersStore();
    api.hold = true;
    const first = users.ensure([5, 6]);
    await flush();
    const second = users.ensure([6]);
    users.get(5);
    await flush();
    expect(api.asked).toEqual([[5, 6]]);
    let secondDone = false;
    void second.then(() => (secondDone = true));
    await flush();
    expect(secondDone).toBe(false);
    api.held.forEach((release) => release());
    await first;
    await second;
    expect(users.byId[6]?.nickname).toBe("name6");
  });

  it("remembers unknown ids instead of asking for them in a loop", async () => {
    const users = useUsersStore();
    await users.ensure([9999]);
    users.get(9999);
    await users.ensure([9999]);
    expect(api.asked).toEqual([[9999]]);
  });

  it("uses profiles met elsewhere and refreshes them once they are old", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const users = useUsersStore();
    users.put([makeUser(7, "from-a-member-list")]);
    expect(users.get(7)?.nickname).toBe("from-a-member-list");
    await flush();
    expect(api.asked).toEqual([]);
    vi.setSystemTime(Date.now() + PROFILE_TTL_MS + 1);
    expect(users.get(7)?.nickname).toBe("from-a-member-list");
    await flush();
    expect(api.asked).toEqual([[7]]);
    expect(users.get(7)?.nickname).toBe("name7");
  });

  it("names a group member who is not a friend from the cache", async () => {
    useAuthStore().setUser(makeUser(1, "me"));
    useConversationsStore().put(conv(40, 3, { kind: "group", peer: null }));
    expect(memberName(40, 8)).toBe("User 8");
    await flush();
    expect(memberName(40, 8)).toBe("name8");
  });
});

describe("profile changes", () => {
  afterEach(() => resetServices());
  it("a user_updated profile is shown in the cache, the friend list and private chats", async () => {
    setActivePinia(createPinia());
    setServices({ api: { tokens: new MemoryTokenStore() } as unknown as ApiClient });
    useAuthStore().setUser(makeUser(1, "me"));
    const friends = useFriendsStore();
    friends.friends = [{ user: makeUser(2, "old"), remark: null, online: false, devices: [] }];
    const convs = useConversationsStore();
    convs.put(conv(7, 1, { peer: makeUser(2, "old") }));
    const renamed = { ...makeUser(2, "old"), nickname: "New Name" };
    showProfile(renamed);
    expect(useUsersStore().byId[2].nickname).toBe("New Name");
    expect(friends.byId[2].user.nickname).toBe("New Name");
    expect(convs.byId[7].peer?.nickname).toBe("New Name");
    expect(memberName(7, 2)).toBe("New Name");
  });
});

describe("last seen", () => {
  const now = new Date(2026, 11, 1, 15, 30).getTime();
  it("says how long ago, then the day and time", () => {
    expect(lastSeenAgo(now - 20_000, now)).toBe("just now");
    expect(lastSeenAgo(now - 5 * 60_000, now)).toBe("5 min ago");
    expect(lastSeenAgo(now - 59 * 60_000, now)).toBe("59 min ago");
    expect(lastSeenAgo(new Date(2026, 11, 1, 14, 2).getTime(), now)).toBe("today at 14:02");
    expect(lastSeenAgo(new Date(2026, 11, 1, 0, 5).getTime(), now)).toBe("today at 00:05");
    expect(lastSeenAgo(new Date(2026, 10, 30, 23, 59).getTime(), now)).toBe("yesterday at 23:59");
    expect(lastSeenAgo(new Date(2026, 10, 28, 9, 15).getTime(), now)).toBe("Sat at 09:15");
    expect(lastSeenAgo(new Date(2026, 9, 3, 9, 15).getTime(), now)).toBe(new Date(2026, 9, 3).toLocaleDateString());
  });

  it("shows the status only while it is known", () => {
    expect(presenceLine({ online: true }, true, now)).toBe("online");
    expect(presenceLine({ online: false, last_seen: now - 5 * 60_000 }, true, now)).toBe("last seen 5 min ago");
    expect(presenceLine({ online: false, last_seen: null }, true, now)).toBe("offline");
    expect(presenceLine(undefined, true, now)).toBe("offline");
    expect(presenceLine({ online: true }, false, now)).toBe("Connecting… — status may be out of date");
  });

  it("keeps last seen from pushes and answers, and hides everyone's dot while disconnected", () => {
    setActivePinia(createPinia());
    const presence = usePresenceStore();
    const ui = useUiStore();
    ui.conn = "online";
    presence.set(2, false, [], now - 3 * 60_000);
    expect(presence.line(2, now)).toBe("last seen 3 min ago");
    expect(presence.dot(2)).toBe(false);
    presence.set(2, true, ["web"]);
    expect(presence.line(2, now)).toBe("online");
    expect(presence.map[2].last_seen).toBeNull();
    const stamp = presence.beginQuery();
    presence.applyQuery(stamp, { 3: { online: false, devices: [], last_seen: now - 120_000 } });
    expect(presence.line(3, now)).toBe("last seen 2 min ago");
    ui.conn = "waiting";
    expect(presence.dot(2)).toBeNull();
    expect(presence.dot(3)).toBeNull();
    expect(presence.line(3, now)).toBe("Connecting… — status may be out of date");
    ui.conn = "online";
    expect(presence.dot(2)).toBe(true);
  });
});

describe("group read counts", () => {
  afterEach(() => { resetServices(); vi.useRealTimers(); });

  /** Readers answers that the test releases in any order. */
  class FakeReadersApi {
    tokens = new MemoryTokenStore();
    calls: Array<{ seq: number; release: (r: Readers) => void }> = [];
    readers(_cid: number, seq: number): Promise<Readers> {
      return new Promise((resolve) => this.calls.push({ seq, release: resolve }));
    }
  }

  function setup() {
    setActivePinia(createPinia());
    const api = new FakeReadersApi();
    setServices({ api: api as unknown as ApiClient });
    useAuthStore().setUser(makeUser(1, "me"));
    const msgs = useMessagesStore();
    msgs.setPage(40, { messages: [msg(40, 1, 1, "mine")], has_more: false });
    useConversationsStore().put(conv(40, 1, { kind: "group", peer: null }));
    return { api, msgs };
  }

  it("an older answer that arrives last does not overwrite a newer count", async () => {
    const { api, msgs } = setup();
    const first = msgs.loadReadCounts(40, [1]);   // sent before the second member read
    const second = msgs.loadReadCounts(40, [1]);  // sent after
    expect(api.calls).toHaveLength(2);
    api.calls[1].release({ read_count: 2, readers: [2, 3] });
    await second;
    api.calls[0].release({ read_count: 1, readers: [2] });
    await first;
    expect(msgs.readCounts[40][1]).toBe(2);
  });

  it("a receipt from another member fetches my messages' counts again, one for a burst", async () => {
    vi.useFakeTimers();
    const { api, msgs } = setup();
    msgs.noteGroupRead(40, 2, 1);
    msgs.noteGroupRead(40, 3, 1);
    msgs.noteGroupRead(40, 1, 1); // my own read changes nobody's count
    await vi.advanceTimersByTimeAsync(500);
    expect(api.calls.map((c) => c.seq)).toEqual([1]);
    api.calls[0].release({ read_count: 2, readers: [2, 3] });
    await flush();
    expect(msgs.readCounts[40][1]).toBe(2);
  });

  it("a receipt that covers none of my messages fetches nothing", async () => {
    vi.useFakeTimers();
    const { api, msgs } = setup();
    msgs.setPage(40, { messages: [msg(40, 1, 2, "theirs"), msg(40, 2, 1, "mine")], has_more: false });
    msgs.noteGroupRead(40, 3, 1);
    await vi.advanceTimersByTimeAsync(500);
    expect(api.calls).toHaveLength(0);
  });
});
