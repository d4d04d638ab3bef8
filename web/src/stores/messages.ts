import { defineStore } from "pinia";
import { markRaw, ref, shallowReactive } from "vue";
import { ApiError, friendlyCode, friendlyError } from "../api/errors";
import type { Ack, Conversation, Message, MessagePage, ReplyQuote, Upload, UploadKind } from "../api/types";
import { bodyFor, isPermanentUploadError, refuseUpload } from "../lib/attachments";
import { newer, quoteEdited, quoteRecalled } from "../lib/changes";
import { fromSaved, nextOrder, outboxDb, toSaved, type OutgoingFields, type SavedOutgoing } from "../lib/outbox";
import { services } from "../services";
import type { AckFrame } from "../ws/protocol";
import { RequestError } from "../ws/client";
import type { SyncSink } from "../ws/sync";
import { useAuthStore } from "./auth";
import { useConversationsStore } from "./conversations";
import { useUiStore } from "./ui";

export interface Window {
  /**
   * Ordered by seq. A shallowReactive array: adding a message is one change, and the messages
   * themselves are plain objects (no deep proxies for thousands of them). A message that changes
   * (a recall) is replaced by a new object, never edited in place.
   */
  items: Message[];
  /** Highest seq loaded with nothing missing below it (down to items[0]). */
  tail: number;
  hasOlder: boolean;
  loadingOlder: boolean;
}

/**
 * An outgoing message: "queued" (saved, waiting for the socket or for the message before it),
 * "uploading" (attachments only: the file is being stored), then "sending" (the send frame is
 * out), then gone once acked. A lost connection puts it back to "queued"; only a refusal makes it
 * "failed". Retry uploads again only if the upload itself failed, and always re-sends the same
 * client_msg_id.
 */
export type OutState = "queued" | "uploading" | "sending" | "failed";

export interface PendingUpload {
  /** The file to upload; null once it is stored (a restored message does not keep it). */
  file: Blob | null;
  name: string;
  kind: UploadKind;
  /** 0..1 while uploading. */
  progress: number;
  /** Set once the server stored the file; the message body is built from it. */
  done: Upload | null;
  /** A local object URL to show an image or play a clip before the upload is done. */
  preview: string | null;
  width?: number;
  height?: number;
  duration_ms?: number;
}

export interface Outgoing extends OutgoingFields {
  state: OutState;
  error?: string;
  /** True when retrying cannot help (an image the server cannot read, a file too large). */
  permanent?: boolean;
  upload?: PendingUpload;
}

export interface AttachmentMeta {
  name?: string;
  width?: number;
  height?: number;
  duration_ms?: number;
  /** Show this local URL until the upload is done (revoked when the message leaves the outbox). */
  preview?: string | null;
}

function uuid(): string {
  const c = globalThis.crypto as Crypto | undefined;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, (ch) => {
    const r = (Math.random() * 16) | 0;
    return (ch === "x" ? r : (r & 0x3) | 0x8).toString(16);
  });
}

const TYPING_SHOW_MS = 5000;
const TYPING_SEND_EVERY_MS = 3000;
/** How long after someone's message a typing frame from them is taken as one sent before it. */
const TYPING_LATE_MS = 1000;
/** The first typing frame after my own message waits this long, so that peers do not drop it. */
const TYPING_AFTER_SEND_MS = 1500;

export const useMessagesStore = defineStore("messages", () => {
  const windows = ref<Record<number, Window>>({});
  const outbox = ref<Record<number, Outgoing[]>>({});
  /** typing[cid][userId] = time the indicator expires */
  const typing = ref<Record<number, Record<number, number>>>({});
  /** readCounts[cid][seq] = how many members read that message (groups) */
  const readCounts = ref<Record<number, Record<number, number>>>({});
  const lastTypingSent: Record<number, number> = {};
  /** When I last sent a message per conversation: peers ignore typing right after it. */
  const lastSent: Record<number, number> = {};
  /** typingEnded[cid][userId] = when their last message arrived (it ends their typing). */
  const typingEnded: Record<number, Record<number, number>> = {};
  const api = () => services().api;

  function win(cid: number): Window | undefined { return windows.value[cid]; }
  function isLoaded(cid: number) { return !!windows.value[cid]; }

  // ---- the sync sink --------------------------------------------------------

  function insert(w: Window, m: Message): boolean {
    const items = w.items;
    if (!items.length || m.seq > items[items.length - 1].seq) {
      items.push(m);
      return true;
    }
    let lo = 0, hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (items[mid].seq < m.seq) lo = mid + 1; else hi = mid;
    }
    if (items[lo]?.seq === m.seq) { // duplicate: keep the copy with the higher version
      if (newer(items[lo], m) === m) items[lo] = m;
      return false;
    }
    items.splice(lo, 0, m);
    return true;
  }

  function applyRecall(w: Window | undefined, m: Message) {
    if (m.kind !== "recall" || !w) return;
    const b = m.body as { message_id?: number; seq?: number };
    const i = w.items.findIndex((x) => x.id === b.message_id || (b.seq !== undefined && x.seq === b.seq));
    if (i >= 0 && !w.items[i].recalled) w.items[i] = { ...w.items[i], recalled: true, body: {} };
    const target = b.message_id ?? (i >= 0 ? w.items[i].id : undefined);
    if (target !== undefined) replaceQuotes(w, (x) => quoteRecalled(x, target));
  }

  /** Replace every held message that `change` turns into a new object (quotes of an original). */
  function replaceQuotes(w: Window, change: (m: Message) => Message) {
    for (let i = 0; i < w.items.length; i++) {
      const x = w.items[i];
      if (!x.reply_to) continue;
      const y = change(x);
      if (y !== x) w.items[i] = y;
    }
  }

  // ---- edits and reactions: message_changed and the changes feed ----------------

  /** lastChange[cid] = the conversation's change number this client has caught up with. */
  const lastChange = ref<Record<number, number>>({});
  const catchingUp: Record<number, Promise<void>> = {};

  /** A held message in its new state (a `message_changed`, an edit or reaction answer, the feed). */
  function applyChanged(m: Message) {
    const c = useConversationsStore().byId[m.conversation_id];
    if (c?.last_message?.id === m.id && newer(c.last_message, m) === m) c.last_message = m; // the list's preview
    const w = windows.value[m.conversation_id];
    if (!w) return;
    const i = w.items.findIndex((x) => x.id === m.id);
    if (i >= 0 && newer(w.items[i], m) === m) w.items[i] = m;
    if (m.kind === "text" && !m.recalled) replaceQuotes(w, (x) => quoteEdited(x, m));
  }

  /** A pushed change: apply it, and ask the feed for what came between if changes were missed. */
  function receiveChanged(m: Message) {
    const cid = m.conversation_id;
    if (!windows.value[cid]) return;
    applyChanged(m);
    const held = lastChange.value[cid] ?? 0;
    const v = m.version ?? 0;
    if (v === held + 1) lastChange.value[cid] = v;
    else if (v > held + 1) void catchUpChanges(cid);
  }

  /** Apply the changes feed of a loaded conversation after what this client has seen. */
  function catchUpChanges(cid: number): Promise<void> {
    const prev = catchingUp[cid] ?? Promise.resolve();
    const run = prev.then(async () => {
      for (;;) {
        if (!windows.value[cid]) return;
        const page = await api().changes(cid, lastChange.value[cid] ?? 0);
        for (const m of page.messages) applyChanged(m);
        lastChange.value[cid] = Math.max(lastChange.value[cid] ?? 0, page.last_change);
        if (!page.has_more || !page.messages.length) return;
      }
    }).catch((e) => console.warn("pigeon: could not catch up with changes", e));
    catchingUp[cid] = run;
    return run;
  }

  /** The conversation list tells each one's current last_change: catch up where it is ahead. */
  function noteLastChanges(list: readonly Conversation[]) {
    for (const c of list) {
      if (windows.value[c.id] && (c.last_change ?? 0) > (lastChange.value[c.id] ?? 0)) void catchUpChanges(c.id);
    }
  }

  /** Save a new text for my message (refused past the edit window: said in a toast). */
  async function edit(m: Message, text: string): Promise<boolean> {
    try {
      applyChanged(await api().editMessage(m.id, text));
      return true;
    } catch (e) {
      useUiStore().toast(friendlyError(e));
      return false;
    }
  }

  /** Add my reaction `emoji` to a message, or take it off if it is there. */
  async function toggleReaction(m: Message, emoji: string): Promise<void> {
    const me = useAuthStore().me;
    const mine = !!m.reactions?.some((r) => r.emoji === emoji && me !== null && r.user_ids.includes(me));
    try {
      applyChanged(await api().react(m.id, emoji, !mine));
    } catch (e) {
      useUiStore().toast(friendlyError(e));
    }
  }

  /** `items` and `more` merged by seq without duplicates, as a new reactive array. */
  function merged(items: readonly Message[], more: readonly Message[]): Message[] {
    const bySeq = new Map<number, Message>();
    for (const m of more) bySeq.set(m.seq, m);
    for (const m of items) {
      const other = bySeq.get(m.seq);
      bySeq.set(m.seq, other ? newer(m, other) : m);
    }
    return shallowReactive([...bySeq.values()].sort((a, b) => a.seq - b.seq));
  }

  function dropOutgoing(cid: number, clientMsgId: string | null) {
    if (!clientMsgId) return;
    const box = outbox.value[cid];
    if (!box || !box.some((o) => o.client_msg_id === clientMsgId)) return;
    for (const o of box) if (o.client_msg_id === clientMsgId) releaseUpload(o);
    outbox.value[cid] = box.filter((o) => o.client_msg_id !== clientMsgId);
    unpersist(clientMsgId);
  }

  const aborts = new Map<string, AbortController>();
  function releaseUpload(o: Outgoing) {
    aborts.get(o.client_msg_id)?.abort();
    aborts.delete(o.client_msg_id);
    const url = o.upload?.preview;
    if (url && url.startsWith("blob:") && typeof URL.revokeObjectURL === "function") {
      // the confirmed message loads the server's copy; keep the local one a moment to avoid a flash
      setTimeout(() => URL.revokeObjectURL(url), 5_000);
    }
  }

  function seenNow(cid: number): boolean {
    const ui = useUiStore();
    return useConversationsStore().activeId === cid && ui.visible;
  }

  function afterNew(cid: number, fresh: Message[]) {
    const convs = useConversationsStore();
    const me = useAuthStore().me;
    const seen = seenNow(cid);
    for (const m of fresh) {
      convs.noteMessage(m, seen);
      if (m.sender_id !== null && m.sender_id !== me) {
        clearTyping(cid, m.sender_id);
        (typingEnded[cid] ??= {})[m.sender_id] = Date.now();
      }
      newMessageHook?.(m, seen);
    }
  }

  const sink: SyncSink = {
    localSeq(cid) {
      const w = windows.value[cid];
      return w ? w.tail : null;
    },
    applyMessages(cid, messages) {
      const w = windows.value[cid];
      if (!w) return;
      const fresh: Message[] = [];
      for (const m of messages) {
        if (insert(w, m)) {
          fresh.push(m);
          applyRecall(w, m);
          dropOutgoing(cid, m.client_msg_id);
        }
        if (m.seq > w.tail) w.tail = m.seq;
      }
      afterNew(cid, fresh);
    },
    applySummary(m) {
      dropOutgoing(m.conversation_id, m.client_msg_id);
      afterNew(m.conversation_id, [m]);
    },
    setConversations(list) {
      useConversationsStore().setAll(list);
      noteLastChanges(list);
    },
    putConversation(c) {
      useConversationsStore().put(c);
    },
    resetWindow(cid, page) {
      setPage(cid, page);
    },
  };

  /** Called for every message that is new to this client (notifications, announcements). */
  let newMessageHook: ((m: Message, seen: boolean) => void) | null = null;
  function onNewMessage(fn: ((m: Message, seen: boolean) => void) | null) { newMessageHook = fn; }

  function setPage(cid: number, page: MessagePage) {
    const w: Window = { items: merged([], page.messages), tail: 0, hasOlder: page.has_more, loadingOlder: false };
    for (const m of w.items) applyRecall(w, m);
    w.tail = w.items.length ? w.items[w.items.length - 1].seq : 0;
    windows.value[cid] = w;
    // the page shows every message as it stands now: changes up to the list's last_change are in it
    lastChange.value[cid] = Math.max(lastChange.value[cid] ?? 0, useConversationsStore().byId[cid]?.last_change ?? 0);
    for (const m of page.messages) dropOutgoing(cid, m.client_msg_id);
  }

  // ---- loading -------------------------------------------------------------

  /** Load the newest page if this conversation has no window yet, then catch up. */
  async function open(cid: number) {
    const sync = services().sync;
    if (!windows.value[cid]) {
      const page = await api().latestMessages(cid, 50);
      if (!windows.value[cid]) setPage(cid, page);
    }
    const c = useConversationsStore().byId[cid];
    if (sync && c && c.last_seq > (windows.value[cid]?.tail ?? 0)) await sync.pull(cid, c.last_seq);
  }

  async function loadOlder(cid: number, limit = 50): Promise<number> {
    const w = windows.value[cid];
    if (!w || !w.hasOlder || w.loadingOlder) return 0;
    const first = w.items[0]?.seq;
    if (first === undefined || first <= 1) { w.hasOlder = false; return 0; }
    w.loadingOlder = true;
    try {
      const page = await api().messagesBefore(cid, first, limit);
      const before = w.items.length;
      w.items = merged(w.items, page.messages);
      // recalls that are already loaded may target the older messages
      for (const m of w.items) if (m.kind === "recall") applyRecall(w, m);
      w.hasOlder = page.has_more && page.messages.length > 0;
      return w.items.length - before;
    } finally {
      w.loadingOlder = false;
    }
  }

  /**
   * Load older pages until `seq` is in the window (to open a chat at its first unread message),
   * but no more than `max` messages in all.
   */
  async function loadBackTo(cid: number, seq: number, max = 2000): Promise<void> {
    for (;;) {
      const w = windows.value[cid];
      if (!w || !w.hasOlder || !w.items.length || w.items[0].seq <= seq || w.items.length >= max) return;
      if (!(await loadOlder(cid, 200))) return;
    }
  }

  // ---- sending: the outbox ----------------------------------------------------
  //
  // Every message goes through the outbox of its conversation, in the order it was written:
  // it is saved to IndexedDB, then sent over the socket with its client_msg_id, one at a time
  // per conversation (the next waits for the ack of the one before). While the socket is down a
  // message waits ("queued"); a lost connection, a timeout or a rate limit puts it back in the
  // queue, and it is sent again with the SAME client_msg_id when the socket is back (the server
  // stores it at most once). Only a refusal by the server (an error frame for that send, an HTTP
  // error answer) marks it "failed"; Retry queues it again, Delete drops it.

  /** Codes of an error that says nothing about the message: try again later. */
  const TRANSIENT = new Set(["offline", "timeout", "disconnected", "rate_limited"]);
  const RETRY_MS = 2000;
  const pumping = new Set<number>();
  const retryTimers: Record<number, ReturnType<typeof setTimeout>> = {};
  let restoring: Promise<void> | null = null;

  function ackToMessage(o: Outgoing, ack: Pick<Ack, "message_id" | "conversation_id" | "seq" | "ts" | "client_msg_id">): Message {
    return {
      id: ack.message_id,
      conversation_id: ack.conversation_id,
      seq: ack.seq,
      sender_id: useAuthStore().me ?? 0,
      client_msg_id: o.client_msg_id,
      kind: o.kind,
      body: o.body,
      ts: ack.ts,
      recalled: false,
      mentions: o.mentions,
      mention_all: !!o.mentionAll,
      reply_to: o.reply ?? null,
    };
  }

  /** The socket can take a send now (with no protocol client at all, sends go over HTTP). */
  function canSend(): boolean {
    const { ws } = services();
    return ws ? ws.online : true;
  }

  /** Keep the message on disk as it is now (queued, or failed with its reason). */
  function persist(o: Outgoing) {
    const me = useAuthStore().me;
    if (me === null) return;
    outboxDb().save(toSaved(o, me)).catch((e) => console.warn("pigeon: could not save the outbox", e));
  }

  function unpersist(clientMsgId: string) {
    const me = useAuthStore().me;
    if (me === null) return;
    outboxDb().remove(me, clientMsgId).catch(() => undefined);
  }

  /**
   * Put back what this browser still had to send for the signed-in user (after a reload), in
   * front of anything written since, then send it once the socket is up.
   */
  function restoreOutbox(): Promise<void> {
    const me = useAuthStore().me;
    if (me === null) return Promise.resolve();
    const run = (async () => {
      let saved: SavedOutgoing[] = [];
      try {
        saved = await outboxDb().list(me);
      } catch (e) {
        console.warn("pigeon: could not read the outbox", e);
      }
      const byCid = new Map<number, Outgoing[]>();
      for (const s of saved) {
        if (outbox.value[s.conversation_id]?.some((x) => x.client_msg_id === s.client_msg_id)) continue;
        const list = byCid.get(s.conversation_id) ?? [];
        list.push(fromSaved(s));
        byCid.set(s.conversation_id, list);
      }
      for (const [cid, list] of byCid) outbox.value[cid] = [...list, ...(outbox.value[cid] ?? [])];
    })();
    restoring = run;
    return run.finally(() => {
      if (restoring === run) restoring = null;
      flushOutbox();
    });
  }

  /** Send what is queued in every conversation (the socket is back). */
  function flushOutbox() {
    for (const cid of Object.keys(outbox.value)) void pump(Number(cid));
  }

  function scheduleRetry(cid: number, ms: number) {
    if (retryTimers[cid]) clearTimeout(retryTimers[cid]);
    retryTimers[cid] = setTimeout(() => {
      delete retryTimers[cid];
      void pump(cid);
    }, ms);
  }

  /** Send the queued messages of one conversation in order, one at a time, while the socket is up. */
  async function pump(cid: number): Promise<void> {
    if (pumping.has(cid)) return; // the running pump also takes what was queued meanwhile
    pumping.add(cid);
    try {
      if (restoring) await restoring;
      for (;;) {
        if (!canSend()) return;
        const o = outbox.value[cid]?.find((x) => x.state === "queued");
        if (!o) return;
        const outcome = await transmit(o);
        if (typeof outcome === "number") {
          scheduleRetry(cid, outcome);
          return;
        }
      }
    } finally {
      pumping.delete(cid);
    }
  }

  /** Put a message back in the queue after an error that was not a refusal. Returns the wait. */
  function requeue(o: Outgoing, e: unknown): number {
    o.state = "queued";
    o.error = undefined;
    return e instanceof RequestError && e.retryAfterMs ? e.retryAfterMs : RETRY_MS;
  }

  /** Store the attachment of `o` (if not stored yet) and build its body. */
  async function uploadFor(o: Outgoing): Promise<"done" | "failed" | number> {
    const up = o.upload;
    if (!up || up.done) return "done";
    if (!up.file) { markFailed(o, new Error("The file is no longer available.")); return "failed"; }
    o.state = "uploading";
    o.error = undefined;
    o.permanent = false;
    up.progress = 0;
    const ctrl = new AbortController();
    aborts.set(o.client_msg_id, ctrl);
    try {
      const stored = await api().upload(up.file, up.name, up.kind, (f) => { up.progress = f; }, ctrl.signal);
      up.done = stored;
      up.progress = 1;
      o.body = bodyFor(up.kind, stored, { duration_ms: up.duration_ms });
      persist(o); // the file is stored: a reload only re-sends, it does not upload again
      return "done";
    } catch (e) {
      if (ctrl.signal.aborted) return "failed";
      // the network went away with the socket: upload again when it is back
      if (e instanceof ApiError && e.isNetwork && !canSend()) return requeue(o, e);
      markFailed(o, e, true);
      return "failed";
    } finally {
      if (aborts.get(o.client_msg_id) === ctrl) aborts.delete(o.client_msg_id);
    }
  }

  /** Upload (attachments) and send one message. "acked", "failed", or the ms to wait before trying again. */
  async function transmit(o: Outgoing): Promise<"acked" | "failed" | number> {
    // only attachments wait for an upload; a text goes out in the same tick
    if (o.upload && !o.upload.done) {
      const up = await uploadFor(o);
      if (up !== "done") return up;
    }
    const { ws, sync } = services();
    o.state = "sending";
    o.error = undefined;
    o.permanent = false;
    let ack: Pick<Ack, "message_id" | "conversation_id" | "seq" | "ts" | "client_msg_id">;
    try {
      const fields = { client_msg_id: o.client_msg_id, kind: o.kind, body: o.body, mentions: o.mentions, ...(o.mentionAll ? { mention_all: true } : {}), ...(o.reply ? { reply_to: o.reply.message_id } : {}) };
      if (ws) ack = await ws.request<AckFrame>({ type: "send", ref: ws.nextRef(), conversation_id: o.conversation_id, ...fields });
      else ack = await api().sendMessage(o.conversation_id, fields);
    } catch (e) {
      if (!outbox.value[o.conversation_id]?.includes(o)) return "failed"; // deleted meanwhile
      if ((e instanceof RequestError && TRANSIENT.has(e.code)) || (e instanceof ApiError && e.isNetwork)) return requeue(o, e);
      markFailed(o, e);
      return "failed";
    }
    const msg = ackToMessage(o, { ...ack, conversation_id: ack.conversation_id ?? o.conversation_id });
    if (sync) await sync.receive(msg);
    else sink.applyMessages(msg.conversation_id, [msg]);
    dropOutgoing(o.conversation_id, o.client_msg_id);
    return "acked";
  }

  function markFailed(o: Outgoing, e: unknown, uploading = false) {
    o.state = "failed";
    o.permanent = false;
    if (e instanceof RequestError) o.error = friendlyCode(e.code, e.message);
    else if (e instanceof ApiError && e.isNetwork) o.error = uploading ? "Upload failed" : "Not sent";
    else if (e instanceof ApiError && uploading) {
      o.error = e.code === "payload_too_large" ? "That file is too large to send." : friendlyError(e);
      o.permanent = isPermanentUploadError(e.code);
    } else o.error = friendlyError(e);
    persist(o);
  }

  /** Show a message at once, save it and queue it; it is sent as soon as the socket can take it. */
  function send(cid: number, kind: string, body: Record<string, unknown>, mentions: number[] = [], extra: Partial<Outgoing> = {}): Outgoing {
    const o: Outgoing = { client_msg_id: uuid(), conversation_id: cid, kind, body, mentions, ts: Date.now(), ...extra, order: nextOrder(), state: "queued" };
    (outbox.value[cid] ??= []).push(o);
    const live = outbox.value[cid][outbox.value[cid].length - 1];
    lastTypingSent[cid] = 0;
    lastSent[cid] = Date.now();
    persist(live);
    void pump(cid);
    return live;
  }

  function sendText(cid: number, text: string, mentions: number[] = [], mentionAll = false, reply?: ReplyQuote) {
    return send(cid, "text", { text }, mentions, { ...(mentionAll ? { mentionAll: true } : {}), ...(reply ? { reply } : {}) });
  }

  /**
   * Send an image, file or voice clip: it shows at once with upload progress, is uploaded, then
   * sent as a message. Offline it waits in the queue with its file and is uploaded once the socket
   * is back. Returns null (and says why) for a file that cannot be sent at all.
   */
  function sendFile(cid: number, file: Blob, kind: UploadKind, meta: AttachmentMeta = {}): Outgoing | null {
    const refused = refuseUpload(file);
    if (refused) {
      useUiStore().toast(refused);
      return null;
    }
    const name = meta.name || (file as File).name || (kind === "voice" ? "voice.webm" : kind === "image" ? "image" : "file");
    const upload: PendingUpload = {
      file: markRaw(file), name, kind, progress: 0, done: null, preview: meta.preview ?? null,
      width: meta.width, height: meta.height, duration_ms: meta.duration_ms,
    };
    const body: Record<string, unknown> =
      kind === "image" ? { width: meta.width ?? 0, height: meta.height ?? 0, size: file.size }
        : kind === "voice" ? { duration_ms: meta.duration_ms ?? 0, size: file.size }
          : { name, size: file.size, mime: file.type || "application/octet-stream" };
    return send(cid, kind, body, [], { upload });
  }

  /** Queue a failed message again with the SAME client_msg_id, so the server stores it at most once. */
  function retry(cid: number, clientMsgId: string): Promise<void> {
    const o = outbox.value[cid]?.find((x) => x.client_msg_id === clientMsgId);
    if (!o || o.state !== "failed") return Promise.resolve();
    o.state = "queued";
    o.error = undefined;
    o.permanent = false;
    persist(o);
    return pump(cid);
  }

  function discard(cid: number, clientMsgId: string) {
    dropOutgoing(cid, clientMsgId);
  }

  async function recall(m: Message) {
    const { ws } = services();
    try {
      if (ws && ws.online) await ws.request({ type: "recall", ref: ws.nextRef(), message_id: m.id }).catch((e) => {
        // recall answers may come as an ack, or only as the recall message itself
        if (e instanceof RequestError && e.code === "timeout") return;
        throw e;
      });
      else await api().recall(m.id);
    } catch (e) {
      const msg = e instanceof RequestError ? friendlyCode(e.code, e.message) : friendlyError(e);
      useUiStore().toast(msg);
      return false;
    }
    return true;
  }

  // ---- read state -----------------------------------------------------------

  /** Tell the server (and my other devices) that I have read this conversation. */
  function markRead(cid: number) {
    const convs = useConversationsStore();
    const c = convs.byId[cid];
    const w = windows.value[cid];
    const seq = Math.max(w?.tail ?? 0, 0);
    if (!c || seq <= 0) return;
    if (seq <= c.read_seq && c.unread === 0) return;
    convs.markLocallyRead(cid, seq);
    const { ws } = services();
    if (!(ws && ws.send({ type: "read", conversation_id: cid, seq }))) {
      api().markRead(cid, seq).catch(() => undefined);
    }
  }

  /**
   * Read counts are fetched again whenever they may have changed, so fetches of one message
   * overlap and their answers can come back in any order. Each fetch is stamped when it is
   * sent and an answer only lands if no later-sent fetch has landed already: the count shown
   * is the newest the server gave, never an older answer that happened to arrive last.
   */
  const countStamps: Record<string, number> = {};
  let countClock = 0;
  async function loadReadCounts(cid: number, seqs: number[]) {
    const map = (readCounts.value[cid] ??= {});
    await Promise.all(
      seqs.map(async (seq) => {
        const stamp = ++countClock;
        try {
          const r = await api().readers(cid, seq);
          const key = `${cid}:${seq}`;
          if ((countStamps[key] ?? 0) > stamp) return;
          countStamps[key] = stamp;
          map[seq] = r.read_count;
        } catch { /* not available */ }
      }),
    );
  }

  /**
   * A member read up to `seq`. Pigeon sends a group receipt to the senders of the messages it
   * covers, so a receipt from someone else means my messages at or below `seq` may have gained
   * a reader: fetch their counts again (once for a burst of receipts).
   */
  function noteGroupRead(cid: number, userId: number, seq: number) {
    const me = useAuthStore().me;
    if (userId === me) return;
    const w = windows.value[cid];
    if (w && !w.items.some((m) => m.sender_id === me && m.seq <= seq)) return;
    refreshCountsSoon(cid);
  }

  const countTimers: Record<number, ReturnType<typeof setTimeout>> = {};
  function refreshCountsSoon(cid: number) {
    if (countTimers[cid]) clearTimeout(countTimers[cid]);
    countTimers[cid] = setTimeout(() => {
      delete countTimers[cid];
      void refreshOwnCounts(cid);
    }, 400);
  }
  async function refreshOwnCounts(cid: number) {
    const w = windows.value[cid];
    const me = useAuthStore().me;
    if (!w) return;
    const mine = w.items.filter((m) => m.sender_id === me && !m.recalled && m.kind !== "recall" && m.kind !== "system").slice(-20);
    await loadReadCounts(cid, mine.map((m) => m.seq));
  }

  // ---- typing --------------------------------------------------------------

  function noteTyping(cid: number, userId: number) {
    if (userId === useAuthStore().me) return;
    // a typing frame sent just before the message may be delivered just after it (group
    // fan-out): the message ended that typing, so it does not start it again
    if (Date.now() - (typingEnded[cid]?.[userId] ?? 0) < TYPING_LATE_MS) return;
    (typing.value[cid] ??= {})[userId] = Date.now() + TYPING_SHOW_MS;
    setTimeout(() => {
      const t = typing.value[cid];
      if (t && t[userId] !== undefined && t[userId] <= Date.now()) delete t[userId];
    }, TYPING_SHOW_MS + 50);
  }
  function clearTyping(cid: number, userId: number) {
    const t = typing.value[cid];
    if (t) delete t[userId];
  }
  function typers(cid: number): number[] {
    const t = typing.value[cid];
    if (!t) return [];
    const now = Date.now();
    return Object.entries(t).filter(([, until]) => until > now).map(([id]) => Number(id));
  }
  /** Send a `typing` frame, at most one every 3 s per conversation (and not just after a send). */
  function iAmTyping(cid: number, now = Date.now()): boolean {
    if (now - (lastTypingSent[cid] ?? 0) < TYPING_SEND_EVERY_MS) return false;
    // peers drop a typing frame that comes right after my message (see noteTyping): wait
    // until they take it, or the indicator for my next message would only show 3 s later
    if (now - (lastSent[cid] ?? -Infinity) < TYPING_AFTER_SEND_MS) return false;
    const { ws } = services();
    if (!ws || !ws.send({ type: "typing", conversation_id: cid })) return false;
    lastTypingSent[cid] = now;
    return true;
  }

  function forget(cid: number) {
    delete windows.value[cid];
    for (const o of outbox.value[cid] ?? []) { releaseUpload(o); unpersist(o.client_msg_id); }
    delete outbox.value[cid];
  }

  /** Signed out: clear what is held in memory (the saved outbox stays for this user's next login). */
  function reset() {
    for (const box of Object.values(outbox.value)) for (const o of box) releaseUpload(o);
    for (const t of Object.values(retryTimers)) clearTimeout(t);
    for (const k of Object.keys(retryTimers)) delete retryTimers[Number(k)];
    windows.value = {}; outbox.value = {}; lastChange.value = {}; typing.value = {}; readCounts.value = {};
    for (const k of Object.keys(countStamps)) delete countStamps[k];
  }

  return {
    windows, outbox, typing, readCounts, sink, win, isLoaded, open, loadOlder, loadBackTo, setPage, send, sendText, sendFile, retry, discard, recall,
    markRead, loadReadCounts, refreshOwnCounts, noteGroupRead, noteTyping, clearTyping, typers, iAmTyping, onNewMessage,
    restoreOutbox, flushOutbox, forget, reset,
    lastChange, applyChanged, receiveChanged, catchUpChanges, edit, toggleReaction,
  };
});
