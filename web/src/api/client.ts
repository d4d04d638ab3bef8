import { ApiError } from "./errors";
import type { TokenStore } from "./tokens";
import type {
  Ack, ChangesPage, Conversation, ConversationSettings, Device, DeviceKind, ForwardResult, Friend, FriendRequest, Group,
  GroupMember, HiddenPage, MediaKind, MediaPage, Message, Pin,
  MessagePage, PresenceInfo, Readers, SearchPage, Tokens, Upload, UploadKind, User,
} from "./types";
import { MUTED_FOREVER } from "./types";

const MUTED_FOREVER_DIGITS = "4611686018427387904";

/** A request body already written as JSON. */
export class JsonText {
  constructor(readonly text: string) {}
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;
/** Runs `fn` while holding a lock shared by all tabs (Web Locks), so only one tab rotates the refresh token at a time. */
export type LockFn = <T>(name: string, fn: () => Promise<T>) => Promise<T>;

/** What an upload transport answers: the HTTP status and the body text (status 0: no answer). */
export interface TransportResult { status: number; text: string }
/** Sends a multipart form with upload progress. The default uses XMLHttpRequest (fetch cannot report upload progress). */
export type UploadTransport = (
  url: string,
  form: FormData,
  token: string | null,
  onProgress: (loaded: number, total: number) => void,
  signal?: AbortSignal,
) => Promise<TransportResult>;

export const xhrTransport: UploadTransport = (url, form, token, onProgress, signal) =>
  new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("Accept", "application/json");
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); };
    xhr.onload = () => resolve({ status: xhr.status, text: xhr.responseText });
    xhr.onerror = () => resolve({ status: 0, text: "" });
    xhr.ontimeout = () => resolve({ status: 0, text: "" });
    xhr.onabort = () => reject(new DOMException("The upload was cancelled", "AbortError"));
    signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(form);
  });

export interface ApiClientOptions {
  tokens: TokenStore;
  baseUrl?: string;
  fetch?: FetchLike;
  lock?: LockFn;
  upload?: UploadTransport;
  /** Called when the session cannot be refreshed any more (the user must log in again). */
  onSessionEnded?: () => void;
  /** Called after tokens were rotated. */
  onTokens?: (t: Tokens) => void;
}

interface RequestOptions {
  auth?: boolean;
  /** Query parameters; an array repeats the name (`kind=image&kind=file`). */
  query?: Record<string, string | number | readonly string[] | undefined | null>;
  signal?: AbortSignal;
}

export const defaultLock: LockFn = (name, fn) => {
  const locks = typeof navigator !== "undefined" ? (navigator as Navigator & { locks?: LockManager }).locks : undefined;
  if (locks && typeof locks.request === "function") return locks.request(name, fn) as Promise<Awaited<ReturnType<typeof fn>>>;
  return fn();
};

/**
 * Whether a 401 says the access token was refused (`unauthorized`), as opposed to a 401 about
 * something the person typed (`wrong_password` for the current password): only the first is
 * worth refreshing the token for.
 */
async function tokenRefused(res: Response): Promise<boolean> {
  try {
    const data = (await res.clone().json()) as { error?: { code?: string } } | undefined;
    const code = data?.error?.code;
    return code === undefined || code === "unauthorized";
  } catch {
    return true;
  }
}

/** Typed client for Pigeon's HTTP API (`/api/v1`), refreshing the access token once on a 401 `unauthorized`. */
export class ApiClient {
  readonly tokens: TokenStore;
  private readonly base: string;
  private readonly doFetch: FetchLike;
  private readonly lock: LockFn;
  private readonly transport: UploadTransport;
  private refreshing: Promise<string | null> | null = null;
  onSessionEnded?: () => void;
  onTokens?: (t: Tokens) => void;

  constructor(opts: ApiClientOptions) {
    this.tokens = opts.tokens;
    this.base = (opts.baseUrl ?? "") + "/api/v1";
    this.doFetch = opts.fetch ?? ((i, init) => fetch(i, init));
    this.lock = opts.lock ?? defaultLock;
    this.transport = opts.upload ?? xhrTransport;
    this.onSessionEnded = opts.onSessionEnded;
    this.onTokens = opts.onTokens;
  }

  // ---- core ---------------------------------------------------------------

  async request<T>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    const auth = opts.auth ?? true;
    let token = auth ? this.tokens.access() : null;
    if (auth && token && this.tokens.expiresAt() - Date.now() < 5_000) {
      token = (await this.refreshAccess(token)) ?? token;
    }
    let res = await this.send(method, path, body, token, opts);
    if (res.status === 401 && auth && (await tokenRefused(res))) {
      const fresh = await this.refreshAccess(token);
      if (fresh) res = await this.send(method, path, body, fresh, opts);
    }
    return this.parse<T>(res);
  }

  private async send(method: string, path: string, body: unknown, token: string | null, opts: RequestOptions): Promise<Response> {
    let url = this.base + path;
    if (opts.query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(opts.query)) {
        if (Array.isArray(v)) for (const item of v) q.append(k, item);
        else if (v !== undefined && v !== null) q.set(k, String(v));
      }
      const s = q.toString();
      if (s) url += "?" + s;
    }
    const headers: Record<string, string> = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers.Authorization = `Bearer ${token}`;
    try {
      return await this.doFetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : body instanceof JsonText ? body.text : JSON.stringify(body),
        signal: opts.signal,
      });
    } catch (e) {
      throw ApiError.network(e);
    }
  }

  private async parse<T>(res: Response): Promise<T> {
    if (res.status === 204) return undefined as T;
    return this.parseText<T>(res.status, res.ok, await res.text(), res.statusText);
  }

  private parseText<T>(status: number, ok: boolean, text: string, statusText = ""): T {
    let data: unknown = undefined;
    if (text) {
      try { data = JSON.parse(text); } catch { data = undefined; }
    }
    if (!ok) {
      const err = (data as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ApiError(status, err?.code ?? `http_${status}`, err?.message ?? (statusText || `HTTP ${status}`));
    }
    return data as T;
  }

  /**
   * Get a new access token. `stale` is the token that failed: if another tab (or an earlier call)
   * already rotated it, the stored one is used instead of spending the refresh token again —
   * reusing a rotated refresh token would revoke the whole session.
   */
  refreshAccess(stale: string | null): Promise<string | null> {
    if (!this.refreshing) {
      this.refreshing = this.lock("pigeon-refresh", async () => {
        const current = this.tokens.access();
        if (current && current !== stale && this.tokens.expiresAt() - Date.now() > 5_000) return current;
        const rt = this.tokens.refresh();
        if (!rt) return null;
        const res = await this.send("POST", "/auth/refresh", { refresh_token: rt }, null, {});
        if (res.ok) {
          const t = (await this.parse<Tokens>(res));
          this.tokens.save(t);
          this.onTokens?.(t);
          return t.access_token;
        }
        if (res.status === 401 || res.status === 403) {
          // Another tab may have rotated it between our read and the server's answer.
          if (this.tokens.refresh() !== rt && this.tokens.access()) return this.tokens.access();
          this.tokens.clear();
          this.onSessionEnded?.();
          return null;
        }
        throw await this.parse<never>(res).catch((e) => e);
      }).finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  /** An access token good for at least a few more seconds (used by the WebSocket auth frame). */
  async freshAccess(): Promise<string | null> {
    const t = this.tokens.access();
    if (t && this.tokens.expiresAt() - Date.now() > 15_000) return t;
    return this.refreshAccess(t);
  }

  // ---- accounts -----------------------------------------------------------

  async register(username: string, password: string, nickname?: string, device: DeviceKind = "web", device_name?: string): Promise<Tokens> {
    const t = await this.request<Tokens>("POST", "/auth/register", { username, password, nickname: nickname || undefined, device, device_name }, { auth: false });
    this.tokens.save(t);
    return t;
  }

  async login(username: string, password: string, device: DeviceKind = "web", device_name?: string): Promise<Tokens> {
    const t = await this.request<Tokens>("POST", "/auth/login", { username, password, device, device_name }, { auth: false });
    this.tokens.save(t);
    return t;
  }

  async logout(): Promise<void> {
    const rt = this.tokens.refresh();
    this.tokens.clear();
    if (rt) await this.request<void>("POST", "/auth/logout", { refresh_token: rt }, { auth: false }).catch(() => undefined);
  }

  changePassword(old_password: string, new_password: string) {
    return this.request<void>("POST", "/auth/password", { old_password, new_password });
  }
  me() { return this.request<User>("GET", "/users/me"); }

  // ---- devices --------------------------------------------------------------

  devices() { return this.request<{ devices: Device[] }>("GET", "/devices"); }
  renameDevice(id: string, name: string) { return this.request<Device>("PATCH", `/devices/${encodeURIComponent(id)}`, { name }); }
  /** Log a device out: its tokens stop working and all its tabs are closed (close 4003). */
  logOutDevice(id: string) { return this.request<void>("DELETE", `/devices/${encodeURIComponent(id)}`); }
  updateMe(patch: { nickname?: string; avatar_url?: string; signature?: string }) {
    return this.request<User>("PATCH", "/users/me", patch);
  }
  user(id: number) { return this.request<User>("GET", `/users/${id}`); }
  /** `GET /users?ids=`: public profiles of up to 100 users; unknown ids are left out. */
  usersByIds(ids: number[]) { return this.request<{ users: User[] }>("GET", "/users", undefined, { query: { ids: ids.join(",") } }); }
  searchUsers(q: string, limit = 20) { return this.request<{ users: User[] }>("GET", "/users", undefined, { query: { q, limit } }); }

  // ---- conversations & messages --------------------------------------------

  conversations() { return this.request<{ conversations: Conversation[] }>("GET", "/conversations"); }
  conversation(id: number) { return this.request<Conversation>("GET", `/conversations/${id}`); }
  openPrivate(user_id: number) { return this.request<Conversation>("POST", "/conversations/private", { user_id }); }
  messagesAfter(id: number, after: number, limit = 100) {
    return this.request<MessagePage>("GET", `/conversations/${id}/messages`, undefined, { query: { after, limit } });
  }
  messagesBefore(id: number, before: number, limit = 50) {
    return this.request<MessagePage>("GET", `/conversations/${id}/messages`, undefined, { query: { before, limit } });
  }
  latestMessages(id: number, limit = 50) {
    return this.request<MessagePage>("GET", `/conversations/${id}/messages`, undefined, { query: { limit } });
  }
  sendMessage(id: number, msg: { client_msg_id: string; kind: string; body: unknown; mentions?: number[]; mention_all?: boolean; reply_to?: number }) {
    return this.request<Ack>("POST", `/conversations/${id}/messages`, msg);
  }
  /**
   * `POST /uploads`: store a file for an image, file or voice message. Reports progress as a
   * fraction; refreshes the access token once on a 401, like every other call.
   */
  async upload(file: Blob, name: string, kind: UploadKind, onProgress: (fraction: number) => void = () => undefined, signal?: AbortSignal): Promise<Upload> {
    const form = () => {
      const f = new FormData();
      f.append("kind", kind);
      f.append("file", file, name);
      return f;
    };
    const progress = (loaded: number, total: number) => onProgress(total > 0 ? Math.min(1, loaded / total) : 0);
    let token = this.tokens.access();
    if (token && this.tokens.expiresAt() - Date.now() < 5_000) token = (await this.refreshAccess(token)) ?? token;
    let res = await this.transport(this.base + "/uploads", form(), token, progress, signal);
    if (res.status === 401) {
      const fresh = await this.refreshAccess(token);
      if (fresh) res = await this.transport(this.base + "/uploads", form(), fresh, progress, signal);
    }
    if (res.status === 0) throw ApiError.network(new Error("the upload did not finish"));
    return this.parseText<Upload>(res.status, res.status >= 200 && res.status < 300, res.text);
  }
  /** A page of the conversation's gallery, newest first; `before` is the oldest seq held. */
  media(id: number, kinds: MediaKind[], before?: number, limit = 60) {
    return this.request<MediaPage>("GET", `/conversations/${id}/media`, undefined, { query: { kind: kinds, limit, before } });
  }
  searchMessages(q: string, opts: { conversation_id?: number; cursor?: string | null; limit?: number } = {}) {
    const query = { q, conversation_id: opts.conversation_id, cursor: opts.cursor, limit: opts.limit };
    return this.request<SearchPage>("GET", "/search/messages", undefined, { query });
  }
  markRead(id: number, seq: number) { return this.request<void>("POST", `/conversations/${id}/read`, { seq }); }
  editMessage(messageId: number, text: string) { return this.request<Message>("PATCH", `/messages/${messageId}`, { text }); }
  react(messageId: number, emoji: string, on: boolean) {
    return this.request<Message>(on ? "PUT" : "DELETE", `/messages/${messageId}/reactions/${encodeURIComponent(emoji)}`);
  }
  changes(id: number, after: number, limit = 100) {
    return this.request<ChangesPage>("GET", `/conversations/${id}/changes`, undefined, { query: { after, limit } });
  }
  recall(messageId: number) { return this.request<void>("POST", `/messages/${messageId}/recall`); }
  pin(messageId: number) { return this.request<unknown>("POST", `/messages/${messageId}/pin`); }
  unpin(messageId: number) { return this.request<unknown>("DELETE", `/messages/${messageId}/pin`); }
  pins(id: number) { return this.request<{ pins: Pin[] }>("GET", `/conversations/${id}/pins`); }
  forward(client_msg_id: string, message_ids: number[], conversation_ids: number[]) {
    return this.request<{ results: ForwardResult[] }>("POST", "/messages/forward", { client_msg_id, message_ids, conversation_ids });
  }
  hide(id: number, message_ids: number[]) { return this.request<{ hidden_change: number }>("POST", `/conversations/${id}/hide`, { message_ids }); }
  hidden(id: number, after: number) { return this.request<HiddenPage>("GET", `/conversations/${id}/hidden`, undefined, { query: { after } }); }
  updateSettings(id: number, patch: Partial<ConversationSettings>) {
    // 2^62 ("until unmuted") is exact as a double but JSON.stringify writes it rounded
    // (…388000), which the server refuses: write its digits as they are.
    const text = JSON.stringify(patch).replace(`"muted_until":${JSON.stringify(MUTED_FOREVER)}`, `"muted_until":${MUTED_FOREVER_DIGITS}`);
    return this.request<Conversation>("PATCH", `/conversations/${id}/settings`, new JsonText(text));
  }
  readers(id: number, seq: number) { return this.request<Readers>("GET", `/conversations/${id}/messages/${seq}/readers`); }

  // ---- friends ------------------------------------------------------------

  friends() { return this.request<{ friends: Friend[] }>("GET", "/friends"); }
  friendRequests() { return this.request<{ incoming: FriendRequest[]; outgoing: FriendRequest[] }>("GET", "/friends/requests"); }
  sendFriendRequest(user_id: number, note?: string) {
    return this.request<FriendRequest>("POST", "/friends/requests", { user_id, note: note || undefined });
  }
  answerFriendRequest(id: number, action: "accept" | "decline" | "cancel") {
    return this.request<FriendRequest>("POST", `/friends/requests/${id}/${action}`);
  }
  deleteFriend(user_id: number) { return this.request<void>("DELETE", `/friends/${user_id}`); }
  setRemark(user_id: number, remark: string) { return this.request<unknown>("PATCH", `/friends/${user_id}`, { remark }); }
  block(user_id: number) { return this.request<unknown>("POST", `/blocks/${user_id}`); }
  unblock(user_id: number) { return this.request<unknown>("DELETE", `/blocks/${user_id}`); }
  blocks() { return this.request<{ blocks?: unknown[]; users?: User[] } & Record<string, unknown>>("GET", "/blocks"); }
  presence(user_ids: number[]) {
    return this.request<{ presence: Record<string, PresenceInfo> }>("POST", "/presence/query", { user_ids });
  }

  // ---- groups -------------------------------------------------------------

  createGroup(name: string, member_ids: number[]) { return this.request<Group>("POST", "/groups", { name, member_ids }); }
  group(id: number) { return this.request<Group>("GET", `/groups/${id}`); }
  updateGroup(id: number, patch: { name?: string; notice?: string; avatar_url?: string }) {
    return this.request<Group>("PATCH", `/groups/${id}`, patch);
  }
  members(id: number, after_user_id = 0, limit = 100) {
    return this.request<{ members: GroupMember[]; next: number | null }>("GET", `/groups/${id}/members`, undefined, { query: { after_user_id, limit } });
  }
  invite(id: number, user_ids: number[]) { return this.request<unknown>("POST", `/groups/${id}/members`, { user_ids }); }
  kick(id: number, user_id: number) { return this.request<unknown>("DELETE", `/groups/${id}/members/${user_id}`); }
  quit(id: number) { return this.request<unknown>("POST", `/groups/${id}/quit`); }
  dissolve(id: number) { return this.request<unknown>("POST", `/groups/${id}/dissolve`); }
  transfer(id: number, user_id: number) { return this.request<unknown>("POST", `/groups/${id}/transfer`, { user_id }); }
  setAdmin(id: number, user_id: number, on: boolean) {
    return this.request<unknown>(on ? "POST" : "DELETE", `/groups/${id}/admins/${user_id}`);
  }
  setAlias(id: number, alias: string) { return this.request<unknown>("PATCH", `/groups/${id}/me`, { alias }); }
}

export type { Message };
