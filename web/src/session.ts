import type { Router } from "vue-router";
import type { ConversationSettings, FriendRequest, Group, Message, User } from "./api/types";
import { SESSION_STORAGE_KEY } from "./api/tokens";
import { preview, userName } from "./lib/format";
import { removesMe } from "./lib/groupEvents";
import { beep, showNotification } from "./lib/notify";
import { services, setServices } from "./services";
import { useAuthStore } from "./stores/auth";
import { useConversationsStore } from "./stores/conversations";
import { useFriendsStore } from "./stores/friends";
import { useGroupsStore } from "./stores/groups";
import { useHiddenStore } from "./stores/hidden";
import { alerts } from "./lib/convSettings";
import { isPinTip, usePinsStore } from "./stores/pins";
import { useMessagesStore } from "./stores/messages";
import { usePresenceStore } from "./stores/presence";
import { useUsersStore } from "./stores/users";
import { useUiStore } from "./stores/ui";
import { ProtocolClient } from "./ws/client";
import type { ServerFrame } from "./ws/protocol";
import { SocketFirstSource } from "./ws/source";
import { SyncEngine } from "./ws/sync";

/** Same origin, ws:// or wss:// to match the page. */
export function socketUrl(): string {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}/ws`;
}

/**
 * A live gateway from the API (in a cluster each gateway has its own address; the API
 * spreads users over them), or the page's own origin when that cannot be had.
 */
export async function gatewayUrl(): Promise<string> {
  try {
    const res = await fetch("/api/v1/gateway", { headers: { Accept: "application/json" } });
    if (res.ok) {
      const body = (await res.json()) as { url?: unknown };
      if (typeof body.url === "string" && /^wss?:\/\//.test(body.url)) return body.url;
    }
  } catch {
    /* fall back to the page's origin */
  }
  return socketUrl();
}

let started = false;
let router: Router | null = null;
let offFns: Array<() => void> = [];

export function installSessionHooks(r: Router) {
  router = r;
  const api = services().api;
  const auth = useAuthStore();
  const ui = useUiStore();
  api.onSessionEnded = () => {
    // Logged out from the device list: the overlay already says so and offers "Log in again";
    // a request refused meanwhile must not take the page away from under it.
    if (ui.kicked) return;
    endSession();
    auth.forget();
    ui.toast("Your session has ended. Please log in again.", "info");
    void r.replace({ name: "login" });
  };
  // Another tab logged in or out.
  window.addEventListener("storage", (ev) => {
    if (ev.key !== SESSION_STORAGE_KEY) return;
    const had = auth.user?.id ?? null;
    auth.reload();
    if (!auth.user && had !== null) {
      endSession();
      void r.replace({ name: "login" });
    } else if (auth.user && auth.user.id !== had) {
      endSession();
      location.reload();
    }
  });
  document.addEventListener("visibilitychange", () => {
    ui.visible = document.visibilityState !== "hidden";
    if (ui.visible) {
      const cid = useConversationsStore().activeId;
      if (cid !== null) useMessagesStore().markRead(cid);
      if (services().ws?.state === "waiting") services().ws?.reconnectNow();
    }
  });
  window.addEventListener("online", () => services().ws?.reconnectNow());
  // The browser lost the network: drop the socket now rather than when the heartbeat times out,
  // so that what is typed meanwhile waits in the outbox instead of going into a dead socket.
  window.addEventListener("offline", () => { if (services().ws?.online) services().ws?.reconnectNow(); });
}

/** Connect the WebSocket and keep the stores in sync with it. Idempotent. */
export function startSession() {
  if (started) return;
  started = true;
  const { api } = services();
  const auth = useAuthStore();
  const ui = useUiStore();
  const convs = useConversationsStore();
  const msgs = useMessagesStore();
  const friends = useFriendsStore();
  const groups = useGroupsStore();
  const presence = usePresenceStore();
  const pins = usePinsStore();
  const hidden = useHiddenStore();

  const sync = new SyncEngine(new SocketFirstSource(api, () => services().ws), msgs.sink);
  const ws = new ProtocolClient({
    url: gatewayUrl,
    getToken: (force) => (force ? api.refreshAccess(api.tokens.access()) : api.freshAccess()),
  });
  setServices({ ws, sync });

  msgs.onNewMessage((m, seen) => onNewMessage(m, seen));

  offFns.push(ws.on("state", (s) => {
    ui.conn = s.state;
    ui.retryAt = s.retryInMs !== undefined ? Date.now() + s.retryInMs : null;
  }));
  // Presence: frames keep it live. Pigeon announces an offline only after a short grace period,
  // while queries answer the instant state, so a query made while a friend was reloading can say
  // "offline" with no frame to correct it; ask again once the grace has passed, and now and then.
  let presenceTimer: ReturnType<typeof setTimeout> | null = null;
  const presenceTick = setInterval(() => { if (ui.visible && ws.online) void refreshPresence(); }, 120_000);
  offFns.push(() => { clearInterval(presenceTick); if (presenceTimer) clearTimeout(presenceTimer); });
  function refreshPresence() {
    const ids = new Set<number>(friends.friends.map((f) => f.user.id));
    for (const c of convs.sorted) if (c.kind === "private" && c.peer) ids.add(c.peer.id);
    return presence.query([...ids]);
  }
  offFns.push(ws.on("hello", (h) => {
    if (presenceTimer) clearTimeout(presenceTimer);
    presenceTimer = setTimeout(() => void refreshPresence(), 4_000);
    ui.everOnline = true;
    ui.kicked = null;
    auth.setUser(h.user);
    msgs.flushOutbox(); // what was written while offline goes out now, in order
    void sync.fullSync().then(() => {
      void hidden.catchUp().catch(() => undefined);
      for (const key of Object.keys(pins.byConv)) pins.refreshIfHeld(Number(key));
      const cid = convs.activeId;
      if (cid !== null && ui.visible) msgs.markRead(cid);
      const peers = convs.sorted.filter((c) => c.kind === "private" && c.peer).map((c) => c.peer!.id);
      void presence.query(peers);
    }).catch((e) => console.warn("pigeon: sync failed", e));
    void friends.refresh();
  }));
  // Closed for good: this device was logged out (from Me → Devices on any device, or a
  // password change), or the account is at its cap of connections. KickedOverlay says which.
  offFns.push(ws.on("kicked", ({ reason }) => {
    ui.kicked = reason;
  }));
  offFns.push(ws.on("unauthorized", () => {
    endSession();
    auth.forget();
    void router?.replace({ name: "login" });
  }));
  offFns.push(ws.on("frame", (f) => handleFrame(f)));

  function handleFrame(f: ServerFrame) {
    switch (f.type) {
      case "message":
        void sync.receive(f.message);
        break;
      case "message_changed":
        msgs.receiveChanged(f.message);
        break;
      case "read":
        convs.noteRead(f.conversation_id, f.user_id, f.seq);
        if (convs.byId[f.conversation_id]?.kind === "group") msgs.noteGroupRead(f.conversation_id, f.user_id, f.seq);
        break;
      case "typing":
        msgs.noteTyping(f.conversation_id, f.user_id);
        break;
      case "presence":
        presence.set(f.user_id, f.online, f.devices ?? [], f.last_seen);
        break;
      case "notice":
        // Always answered, even when it looks current: see SyncEngine.notice.
        void sync.notice(f.conversation_id, f.last_seq).catch(() => undefined);
        break;
      case "error":
        // too_many_connections is shown by KickedOverlay once the close (4005) follows.
        if (!f.ref && f.code !== "too_many_connections") ui.toast(f.message || f.code);
        break;
      case "event":
        onEvent(f.event, f.data ?? {});
        break;
    }
  }

  function onEvent(event: string, data: Record<string, unknown>) {
    const cid = Number(data.conversation_id ?? 0);
    if (event === "conversation_settings") {
      convs.applySettings(cid, data as Partial<ConversationSettings>);
      return;
    }
    if (event === "messages_hidden") {
      hidden.apply(cid, (data.message_ids as number[] | undefined) ?? [], Number(data.hidden_change ?? 0) || undefined);
      return;
    }
    if (event === "user_updated") {
      const u = data.user as User | undefined;
      if (u && typeof u.id === "number") showProfile(u);
      return;
    }
    if (event.startsWith("friend")) {
      void friends.refresh();
      if (event === "friend_request_accepted" || event === "friend_added" || event === "friend_removed") {
        void convs.load().catch(() => undefined);
      }
      const req = data.request as FriendRequest | undefined;
      if (event === "friend_request" && req?.to_user?.id === auth.me) {
        ui.toast(`${userName(req.from_user)} wants to be your friend`, "info");
      }
      if (event === "friend_request_accepted" && req?.from_user?.id === auth.me) {
        ui.toast(`${userName(req.to_user)} accepted your friend request`, "info");
      }
      return;
    }
    const g = data.group as Group | undefined;
    const gid = Number(data.group_id ?? g?.id ?? data.conversation_id ?? 0);
    if (event.startsWith("group") || event.startsWith("member")) {
      const change = String(data.change ?? "");
      const removedMe = removesMe(change, data.user_ids as unknown[] | undefined, auth.me);
      if (g && gid) {
        const known = groups.groups[gid];
        // The event's group is generic (no my_role): keep mine unless I was the one removed.
        groups.put({ ...g, my_role: removedMe ? null : known?.my_role ?? g.my_role ?? null });
      }
      void convs.load().catch(() => undefined);
      if (gid && !removedMe) void groups.afterChange(gid);
      if (removedMe && change === "member_kicked") ui.toast(`You were removed from ${g?.name ?? "a group"}`, "info");
      return;
    }
    void convs.load().catch(() => undefined);
  }

  function onNewMessage(m: Message, seen: boolean) {
    const me = auth.me;
    if (isPinTip(m)) pins.refreshIfHeld(m.conversation_id);
    if (m.sender_id === me || m.kind === "recall") return;
    const c = convs.byId[m.conversation_id];
    const title = c ? convs.title(c) : "Pigeon";
    const text = preview(m, (id) => memberName(m.conversation_id, id), me);
    if (seen) {
      ui.announce(`${title}: ${text}`);
      if (!document.hidden) msgs.markRead(m.conversation_id);
      return;
    }
    if (document.hidden && m.kind !== "system" && alerts(c)) {
      if (ui.settings.sound) beep();
      if (ui.settings.notify) {
        showNotification(title, text, `pigeon-${m.conversation_id}`, () => {
          void router?.push({ name: "chat", params: { id: m.conversation_id } });
        });
      }
    }
  }

  // messages that were still waiting when the page was closed or reloaded
  void msgs.restoreOutbox();
  ws.start();
}

/** A friend (or I, on another device) changed their profile: show it everywhere it appears. */
export function showProfile(u: User) {
  useUsersStore().put([u]);
  useFriendsStore().updateUser(u);
  useConversationsStore().updatePeer(u);
  const auth = useAuthStore();
  if (u.id === auth.me) auth.setUser(u);
}

/** The display name of a user inside a conversation (remark, group alias, nickname). */
export function memberName(cid: number, uid: number | null): string {
  if (uid === null) return "Pigeon";
  const convs = useConversationsStore();
  const friends = useFriendsStore();
  const groups = useGroupsStore();
  const auth = useAuthStore();
  if (uid === auth.me) return "You";
  const c = convs.byId[cid];
  if (c?.kind === "private" && c.peer?.id === uid) return friends.nameFor(c.peer);
  const remark = friends.remarkOf(uid);
  if (remark) return remark;
  const gm = groups.member(cid, uid);
  if (gm) return gm.alias || gm.user.nickname || gm.user.username;
  const f = friends.byId[uid];
  if (f) return f.user.nickname || f.user.username;
  // Someone met in a group, not a friend, whose member list is not loaded: the profile cache.
  const u = useUsersStore().get(uid);
  if (u) return u.nickname || u.username;
  return `User ${uid}`;
}

export function endSession() {
  for (const off of offFns) off();
  offFns = [];
  services().ws?.stop("logout");
  setServices({ ws: null, sync: null });
  started = false;
  useConversationsStore().reset();
  useMessagesStore().reset();
  useFriendsStore().reset();
  useGroupsStore().reset();
  usePresenceStore().reset();
  useUsersStore().reset();
  usePinsStore().reset();
  useHiddenStore().reset();
  const ui = useUiStore();
  ui.kicked = null;
  ui.conn = "idle";
  ui.everOnline = false;
}

/** "Try again" after the account was at its cap of connections. */
export function reconnectNow() {
  const ui = useUiStore();
  ui.kicked = null;
  services().ws?.start();
}

/** This device was logged out: drop its dead tokens (other tabs follow) and show the login. */
export function leaveLoggedOut() {
  endSession();
  useAuthStore().forget();
  void router?.replace({ name: "login" });
}
