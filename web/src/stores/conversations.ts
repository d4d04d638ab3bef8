import { defineStore } from "pinia";
import { computed, ref } from "vue";
import type { Conversation, ConversationSettings, Message, User } from "../api/types";
import { DEFAULT_SETTINGS, listOrder, splitArchived, unreadTotal } from "../lib/convSettings";
import { services } from "../services";
import { useAuthStore } from "./auth";
import { useFriendsStore } from "./friends";
import { useGroupsStore } from "./groups";
import { useUsersStore } from "./users";

export const useConversationsStore = defineStore("conversations", () => {
  const api = () => services().api;
  const byId = ref<Record<number, Conversation>>({});
  const loaded = ref(false);
  /** The conversation on screen (null when none). */
  const activeId = ref<number | null>(null);
  const query = ref("");

  /** Ticks when a mute runs out, so that what depends on muting is computed again. */
  const now = ref(Date.now());
  const sorted = computed(() => listOrder(Object.values(byId.value)));
  const parts = computed(() => splitArchived(sorted.value));
  const totalUnread = computed(() => unreadTotal(sorted.value, now.value));

  function title(c: Conversation): string {
    if (c.kind === "group") {
      const g = useGroupsStore().groups[c.id] ?? c.group;
      return g?.name || "Group";
    }
    return useFriendsStore().nameFor(c.peer);
  }

  /** What the list shows: the conversations not archived, or every match of a search. */
  const filtered = computed(() => {
    const q = query.value.trim().toLowerCase();
    if (!q) return parts.value.main;
    return sorted.value.filter((c) => {
      const hay = [title(c), c.peer?.username ?? "", c.peer?.nickname ?? "", c.group?.name ?? ""].join(" ").toLowerCase();
      return hay.includes(q);
    });
  });

  function put(c: Conversation) {
    const old = byId.value[c.id];
    // Never move backwards: a pushed message may be newer than a list fetched just before it.
    if (old && old.last_seq > c.last_seq) {
      c = { ...c, last_seq: old.last_seq, last_message: old.last_message, unread: Math.max(old.unread, c.unread) };
    }
    byId.value[c.id] = c;
    if (c.group) useGroupsStore().put(c.group);
    if (c.peer) useUsersStore().put([c.peer]);
  }

  function setAll(list: Conversation[]) {
    const next: Record<number, Conversation> = {};
    for (const c of list) {
      const old = byId.value[c.id];
      next[c.id] = old && old.last_seq > c.last_seq ? { ...c, last_seq: old.last_seq, last_message: old.last_message, unread: Math.max(old.unread, c.unread) } : c;
      if (c.group) useGroupsStore().put(c.group);
    }
    useUsersStore().put(list.map((c) => c.peer));
    // Keep the conversation on screen even if the server no longer lists it (left, removed).
    const open = activeId.value;
    if (open !== null && !next[open] && byId.value[open]) next[open] = byId.value[open];
    byId.value = next;
    loaded.value = true;
  }

  async function load() {
    const { conversations } = await api().conversations();
    setAll(conversations);
  }

  async function fetchOne(id: number) {
    const c = await api().conversation(id);
    put(c);
    return c;
  }

  async function openPrivate(userId: number) {
    const existing = sorted.value.find((c) => c.kind === "private" && c.peer?.id === userId);
    if (existing) return existing;
    const c = await api().openPrivate(userId);
    put(c);
    return c;
  }

  /**
   * Account for a new message in the list: preview, last seq, unread, mention flag.
   * `seen` is true when the conversation is open on a visible screen.
   */
  function noteMessage(m: Message, seen: boolean) {
    const c = byId.value[m.conversation_id];
    if (!c) {
      fetchOne(m.conversation_id).catch(() => undefined);
      return;
    }
    if (m.seq <= c.last_seq && c.last_message && m.seq <= c.last_message.seq) return;
    const me = useAuthStore().me;
    c.last_seq = Math.max(c.last_seq, m.seq);
    if (!c.last_message || m.seq >= c.last_message.seq) c.last_message = m;
    if (m.kind === "recall" && c.last_message && c.last_message.id === (m.body as { message_id?: number }).message_id) {
      c.last_message = m;
    }
    const fromOther = m.sender_id !== me && m.kind !== "system" && m.kind !== "recall";
    if (m.sender_id === me) {
      c.read_seq = Math.max(c.read_seq, m.seq);
      c.unread = 0;
    } else if (fromOther && !seen && m.seq > c.read_seq) {
      c.unread += 1;
      if (me !== null && (m.mention_all || (m.mentions ?? []).includes(me))) c.mentioned = true;
    }
  }

  /** A read receipt (from a peer, a group member, or my own other device). */
  function noteRead(cid: number, userId: number, seq: number) {
    const c = byId.value[cid];
    if (!c) return;
    if (userId === useAuthStore().me) {
      if (seq > c.read_seq) {
        c.read_seq = seq;
        c.unread = seq >= c.last_seq ? 0 : Math.min(c.unread, c.last_seq - seq);
        if (c.unread === 0) c.mentioned = false;
      }
    } else if (c.kind === "private") {
      c.peer_read_seq = Math.max(c.peer_read_seq ?? 0, seq);
    }
  }

  function markLocallyRead(cid: number, seq: number) {
    const c = byId.value[cid];
    if (!c) return;
    c.read_seq = Math.max(c.read_seq, seq);
    c.unread = 0;
    c.mentioned = false;
  }

  /** My settings for a conversation changed (here or on another of my devices). */
  function applySettings(cid: number, s: Partial<ConversationSettings>) {
    const c = byId.value[cid];
    if (!c) return;
    const next = { ...(c.settings ?? DEFAULT_SETTINGS) };
    for (const k of ["muted_until", "count_when_muted", "pinned", "archived"] as const) {
      if (s[k] !== undefined) (next as Record<string, unknown>)[k] = s[k];
    }
    c.settings = next;
    now.value = Date.now();
  }

  async function updateSettings(cid: number, patch: Partial<ConversationSettings>) {
    const c = await api().updateSettings(cid, patch);
    applySettings(cid, c.settings ?? patch);
  }

  /** Show someone's new profile in the private conversations with them. */
  function updatePeer(u: User) {
    for (const c of Object.values(byId.value)) if (c.peer?.id === u.id) c.peer = u;
  }

  function remove(cid: number) {
    delete byId.value[cid];
  }

  function reset() {
    byId.value = {}; loaded.value = false; activeId.value = null; query.value = "";
  }

  setInterval(() => (now.value = Date.now()), 60_000);

  return { byId, loaded, activeId, query, now, sorted, filtered, archived: computed(() => parts.value.archived), totalUnread, applySettings, updateSettings, title, put, setAll, load, fetchOne, openPrivate, noteMessage, noteRead, markLocallyRead, updatePeer, remove, reset };
});
