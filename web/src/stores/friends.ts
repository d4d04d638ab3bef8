import { defineStore } from "pinia";
import { computed, ref } from "vue";
import type { Friend, FriendRequest, User } from "../api/types";
import { services } from "../services";
import { userName } from "../lib/format";
import { usePresenceStore } from "./presence";
import { useUsersStore } from "./users";

export const useFriendsStore = defineStore("friends", () => {
  const api = () => services().api;
  const friends = ref<Friend[]>([]);
  const incoming = ref<FriendRequest[]>([]);
  const outgoing = ref<FriendRequest[]>([]);
  const blocked = ref<number[]>([]);
  const blockedUsers = ref<Record<number, User>>({});
  const loaded = ref(false);

  const byId = computed(() => {
    const m: Record<number, Friend> = {};
    for (const f of friends.value) m[f.user.id] = f;
    return m;
  });
  const pendingIncoming = computed(() => incoming.value.filter((r) => r.status === "pending"));
  const pendingOutgoing = computed(() => outgoing.value.filter((r) => r.status === "pending"));

  function isFriend(id: number) { return !!byId.value[id]; }
  function remarkOf(id: number): string | null { return byId.value[id]?.remark || null; }
  /** The name to show for a user: my remark for them, else their nickname, else their username. */
  function nameFor(u: User | null | undefined): string {
    if (!u) return "Unknown";
    return remarkOf(u.id) || userName(u);
  }

  async function load() {
    const presence = usePresenceStore();
    const stamp = presence.beginQuery();
    const { friends: list } = await api().friends();
    friends.value = list;
    useUsersStore().put(list.map((f) => f.user));
    presence.applyQuery(stamp, Object.fromEntries(list.map((f) => [f.user.id, f])));
    loaded.value = true;
  }
  async function loadRequests() {
    const r = await api().friendRequests();
    incoming.value = r.incoming ?? [];
    outgoing.value = r.outgoing ?? [];
  }
  async function loadBlocks() {
    try {
      const r = (await api().blocks()) as Record<string, unknown>;
      const raw = (r.blocks ?? r.users ?? r.blocked ?? []) as unknown[];
      for (const x of raw) {
        const u = (x as { user?: User }).user;
        if (u && typeof u.id === "number") blockedUsers.value[u.id] = u;
      }
      blocked.value = raw
        .map((x) => (typeof x === "number" ? x : (x as { id?: number; user?: { id: number }; user_id?: number }).user?.id ?? (x as { user_id?: number }).user_id ?? (x as { id?: number }).id))
        .filter((x): x is number => typeof x === "number");
    } catch { /* optional */ }
  }
  async function refresh() {
    await Promise.allSettled([load(), loadRequests(), loadBlocks()]);
  }
  async function request(userId: number, note?: string) {
    const r = await api().sendFriendRequest(userId, note);
    outgoing.value = [r, ...outgoing.value.filter((x) => x.id !== r.id)];
    return r;
  }
  async function answer(id: number, action: "accept" | "decline" | "cancel") {
    const r = await api().answerFriendRequest(id, action);
    incoming.value = incoming.value.map((x) => (x.id === id ? r : x));
    outgoing.value = outgoing.value.map((x) => (x.id === id ? r : x));
    if (action === "accept") await load();
    return r;
  }
  async function remove(userId: number) {
    await api().deleteFriend(userId);
    friends.value = friends.value.filter((f) => f.user.id !== userId);
  }
  async function setRemark(userId: number, remark: string) {
    await api().setRemark(userId, remark);
    friends.value = friends.value.map((f) => (f.user.id === userId ? { ...f, remark } : f));
  }
  async function block(userId: number, user?: User) {
    await api().block(userId);
    if (user) blockedUsers.value[userId] = user;
    if (!blocked.value.includes(userId)) blocked.value.push(userId);
  }
  async function unblock(userId: number) {
    await api().unblock(userId);
    blocked.value = blocked.value.filter((x) => x !== userId);
  }
  /** A friend's profile changed (a `user_updated` event). */
  function updateUser(u: User) {
    friends.value = friends.value.map((f) => (f.user.id === u.id ? { ...f, user: u } : f));
  }
  function reset() {
    friends.value = []; incoming.value = []; outgoing.value = []; blocked.value = []; loaded.value = false;
  }

  return {
    friends, incoming, outgoing, blocked, blockedUsers, loaded, byId, pendingIncoming, pendingOutgoing,
    isFriend, remarkOf, nameFor, updateUser, load, loadRequests, loadBlocks, refresh, request, answer, remove, setRemark, block, unblock, reset,
  };
});
