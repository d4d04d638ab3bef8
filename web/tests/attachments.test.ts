import { createPinia, setActivePinia } from "pinia";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiClient, type TransportResult, type UploadTransport } from "../src/api/client";
import { ApiError } from "../src/api/errors";
import { MemoryTokenStore } from "../src/api/tokens";
import type { Upload, UploadKind } from "../src/api/types";
import { bodyFor, fitBox, formatDuration, kindForFile, refuseUpload, safeMediaUrl } from "../src/lib/attachments";
import { preview } from "../src/lib/format";
import { canMentionAll, mentionsAll, removesMe } from "../src/lib/groupEvents";
import { resetServices, setServices } from "../src/services";
import { useAuthStore } from "../src/stores/auth";
import { useConversationsStore } from "../src/stores/conversations";
import { useMessagesStore } from "../src/stores/messages";
import { usePresenceStore } from "../src/stores/presence";
import { useUiStore } from "../src/stores/ui";
import { ProtocolClient } from "../src/ws/client";
import { SyncEngine } from "../src/ws/sync";
import { FakeHistory, FakeSocket, conv, jsonResponse, makeTokens, makeUser, msg } from "./fakes";

const ME = 1;
const noLock = <T,>(_: string, fn: () => Promise<T>) => fn();

async function flush() {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

function stored(kind: UploadKind, extra: Partial<Upload> = {}): Upload {
  return {
    id: "ab".repeat(16), kind, name: kind === "image" ? "cat.png" : "notes.pdf", mime: kind === "image" ? "image/png" : "application/pdf",
    size: 1234, url: `/files/${"ab".repeat(16)}`, thumb_url: kind === "image" ? `/files/${"ab".repeat(16)}/thumbnail` : null,
    width: kind === "image" ? 640 : null, height: kind === "image" ? 480 : null, ...extra,
  };
}

describe("removedMe: which group changes take me out of a group", () => {
  it("is true only for a kick or a leave that names me", () => {
    expect(removesMe("member_kicked", [ME], ME)).toBe(true);
    expect(removesMe("member_left", [3, ME], ME)).toBe(true);
    expect(removesMe("member_kicked", [3], ME)).toBe(false);
    expect(removesMe("member_left", [], ME)).toBe(false);
  });
  it("is false for a demoted admin and other changes that name me", () => {
    expect(removesMe("admin_removed", [ME], ME)).toBe(false);
    expect(removesMe("admin_added", [ME], ME)).toBe(false);
    expect(removesMe("owner_transferred", [ME], ME)).toBe(false);
    expect(removesMe("member_joined", [ME], ME)).toBe(false);
  });
  it("treats a dissolved group as dissolved, not as a removal; copes with missing data", () => {
    expect(removesMe("group_dissolved", [ME], ME)).toBe(false);
    expect(removesMe("member_kicked", undefined, ME)).toBe(false);
    expect(removesMe("member_kicked", [ME], null)).toBe(false);
    expect(removesMe("member_kicked", [String(ME)], ME)).toBe(true);
  });
});

describe("@all permission", () => {
  it("is offered to owners and admins only", () => {
    expect(canMentionAll("owner")).toBe(true);
    expect(canMentionAll("admin")).toBe(true);
    expect(canMentionAll("member")).toBe(false);
    expect(canMentionAll(null)).toBe(false);
  });
  it("goes out only when picked, still in the text, and allowed", () => {
    expect(mentionsAll("@all lunch at noon", true, "owner")).toBe(true);
    expect(mentionsAll("lunch @all!", true, "admin")).toBe(true);
    expect(mentionsAll("@all lunch", false, "owner")).toBe(false); // typed, not picked
    expect(mentionsAll("lunch", true, "owner")).toBe(false); // picked, then deleted
    expect(mentionsAll("@allison hi", true, "owner")).toBe(false);
    expect(mentionsAll("@all lunch", true, "member")).toBe(false);
  });
});

describe("conversation list previews", () => {
  const name = () => "Bob";
  it("names images, files and voice clips with their duration", () => {
    expect(preview(msg(1, 1, 2, "", { kind: "image", body: { url: "/files/x", width: 1, height: 1 } }), name, ME)).toBe("[Image]");
    expect(preview(msg(1, 1, 2, "", { kind: "file", body: { url: "/files/x", name: "report.pdf", size: 3 } }), name, ME)).toBe("[File] report.pdf");
    expect(preview(msg(1, 1, 2, "", { kind: "voice", body: { url: "/files/x", duration_ms: 5200 } }), name, ME)).toBe("[Voice] 0:05");
    expect(preview(msg(1, 1, 2, "", { kind: "voice", body: { url: "/files/x", duration_ms: 83_000 } }), name, ME)).toBe("[Voice] 1:23");
  });
});

describe("attachment helpers", () => {
  it("builds the message body of each kind from the upload", () => {
    expect(bodyFor("image", stored("image"))).toEqual({ url: stored("image").url, thumb_url: stored("image").thumb_url, width: 640, height: 480, size: 1234 });
    expect(bodyFor("file", stored("file"))).toEqual({ url: stored("file").url, name: "notes.pdf", size: 1234, mime: "application/pdf" });
    expect(bodyFor("voice", stored("voice", { mime: "audio/webm" }), { duration_ms: 4321.4 })).toEqual({ url: stored("voice").url, duration_ms: 4321, size: 1234 });
    expect(bodyFor("voice", stored("voice"), { duration_ms: 11 * 60_000 }).duration_ms).toBe(10 * 60_000);
  });
  it("sends decodable image types as images and everything else as files", () => {
    expect(kindForFile({ type: "image/png" })).toBe("image");
    expect(kindForFile({ type: "image/webp" })).toBe("image");
    expect(kindForFile({ type: "image/svg+xml" })).toBe("file");
    expect(kindForFile({ type: "application/pdf" })).toBe("file");
    expect(kindForFile({ type: "" })).toBe("file");
  });
  it("refuses empty and oversize files before uploading", () => {
    expect(refuseUpload({ size: 0 })).toMatch(/empty/);
    expect(refuseUpload({ size: 26 * 1024 * 1024 })).toMatch(/too large/);
    expect(refuseUpload({ size: 25 * 1024 * 1024 })).toBeNull();
  });
  it("only lets same-origin paths and http(s) URLs into src and href", () => {
    expect(safeMediaUrl("/files/abc")).toBe("/files/abc");
    expect(safeMediaUrl("https://cdn.example/x.png")).toBe("https://cdn.example/x.png");
    expect(safeMediaUrl("javascript:alert(1)")).toBeNull();
    expect(safeMediaUrl("//evil.example/x")).toBeNull();
    expect(safeMediaUrl("data:text/html,hi")).toBeNull();
    expect(safeMediaUrl(42)).toBeNull();
  });
  it("sizes a thumbnail box from the message's width and height, keeping the aspect ratio", () => {
    expect(fitBox(640, 480)).toEqual({ width: 260, height: 195 });
    expect(fitBox(300, 1200)).toEqual({ width: 65, height: 260 });
    expect(fitBox(100, 50)).toEqual({ width: 100, height: 50 });
    expect(formatDuration(5000)).toBe("0:05");
    expect(formatDuration(600_000)).toBe("10:00");
  });
});

describe("ApiClient.upload", () => {
  function client(answers: Array<TransportResult | ((t: string | null) => TransportResult)>) {
    const seen: Array<{ url: string; token: string | null; kind: FormDataEntryValue | null; file: FormDataEntryValue | null }> = [];
    const transport: UploadTransport = async (url, form, token, onProgress) => {
      seen.push({ url, token, kind: form.get("kind"), file: form.get("file") });
      onProgress(50, 100);
      onProgress(100, 100);
      const a = answers.shift()!;
      return typeof a === "function" ? a(token) : a;
    };
    const tokens = new MemoryTokenStore();
    tokens.save(makeTokens(1));
    const fetch = async (url: string) => (url.endsWith("/auth/refresh") ? jsonResponse(200, makeTokens(2)) : jsonResponse(404, {}));
    return { api: new ApiClient({ tokens, fetch, lock: noLock, upload: transport }), seen };
  }

  it("posts the file and its kind as a form, with progress, and returns the upload", async () => {
    const { api, seen } = client([{ status: 201, text: JSON.stringify(stored("image")) }]);
    const progress: number[] = [];
    const up = await api.upload(new Blob(["png"], { type: "image/png" }), "cat.png", "image", (f) => progress.push(f));
    expect(up.url).toBe(stored("image").url);
    expect(progress).toEqual([0.5, 1]);
    expect(seen[0]).toMatchObject({ url: "/api/v1/uploads", token: "a1", kind: "image" });
    expect(seen[0].file).toBeInstanceOf(Blob);
  });

  it("refreshes the token once on a 401 and uploads again", async () => {
    const { api, seen } = client([{ status: 401, text: "" }, { status: 201, text: JSON.stringify(stored("file")) }]);
    await api.upload(new Blob(["x"]), "notes.pdf", "file");
    expect(seen.map((s) => s.token)).toEqual(["a1", "a2"]);
  });

  it("turns the server's error into an ApiError with its code", async () => {
    const { api } = client([{ status: 422, text: JSON.stringify({ error: { code: "invalid_image", message: "not a readable image" } }) }]);
    await expect(api.upload(new Blob(["x"]), "x.png", "image")).rejects.toMatchObject({ status: 422, code: "invalid_image" });
    const { api: api2 } = client([{ status: 0, text: "" }]);
    await expect(api2.upload(new Blob(["x"]), "x.png", "image")).rejects.toSatisfy((e: ApiError) => e.isNetwork);
  });
});

// ---- the upload state machine in the messages store -----------------------------

class FakeApi extends FakeHistory {
  tokens = new MemoryTokenStore();
  uploads: Array<{ name: string; kind: string }> = [];
  uploadAnswer: (kind: UploadKind) => Promise<Upload> = async (kind) => stored(kind);
  progressSteps = [0.25, 0.75];
  sentBodies: Array<Record<string, unknown>> = [];
  async upload(_file: Blob, name: string, kind: UploadKind, onProgress: (f: number) => void) {
    this.uploads.push({ name, kind });
    for (const p of this.progressSteps) onProgress(p);
    return this.uploadAnswer(kind);
  }
  async sendMessage(cid: number, m: { client_msg_id: string; kind: string; body: Record<string, unknown> }) {
    this.sentBodies.push(m);
    const last = this.add(cid, 1, ME);
    return { message_id: last.id, conversation_id: cid, seq: last.seq, ts: last.ts, client_msg_id: m.client_msg_id };
  }
  async markRead() { /* no-op */ }
  async presence() { return { presence: {} }; }
}

/** `socket: false`: no protocol client, so messages go over HTTP (the FakeApi answers). */
function setup({ socket = true } = {}) {
  setActivePinia(createPinia());
  FakeSocket.all = [];
  const api = new FakeApi();
  api.tokens.save(makeTokens(1, makeUser(ME, "me")));
  const msgs = useMessagesStore();
  const sync = new SyncEngine(api, msgs.sink);
  const ws = new ProtocolClient({ url: "ws://x/ws", getToken: async () => "a1", socketFactory: (u) => new FakeSocket(u), requestTimeoutMs: 1000 });
  setServices({ api: api as unknown as ApiClient, ws: socket ? ws : null, sync });
  useAuthStore().setUser(makeUser(ME, "me"));
  return { api, ws, msgs, convs: useConversationsStore() };
}

async function goOnline(ws: ProtocolClient) {
  ws.start();
  await flush();
  FakeSocket.last().open();
  FakeSocket.last().hello(makeUser(ME, "me"));
  return FakeSocket.last();
}

describe("sending attachments", () => {
  afterEach(() => { resetServices(); vi.useRealTimers(); });

  it("shows an image at once with its size, reports progress, uploads, then sends the image message", async () => {
    const { api, msgs, convs } = setup({ socket: false });
    api.add(5, 1);
    convs.setAll([conv(5, 1)]);
    await msgs.open(5);
    let release!: () => void;
    api.uploadAnswer = (kind) => new Promise((r) => { release = () => r(stored(kind)); });
    const o = msgs.sendFile(5, new Blob(["png"], { type: "image/png" }), "image", { name: "cat.png", width: 640, height: 480, preview: "blob:local" })!;
    const live = msgs.outbox[5][0];
    expect(live.state).toBe("uploading");
    expect(live.body).toMatchObject({ width: 640, height: 480 });
    await flush();
    expect(live.upload!.progress).toBe(0.75);
    release();
    await flush();
    await flush();
    expect(api.uploads).toEqual([{ name: "cat.png", kind: "image" }]);
    expect(api.sentBodies[0]).toMatchObject({ client_msg_id: o.client_msg_id, kind: "image", body: { url: stored("image").url, thumb_url: stored("image").thumb_url, width: 640, height: 480, size: 1234 } });
    expect(msgs.outbox[5]).toEqual([]);
    expect(msgs.win(5)!.items.at(-1)).toMatchObject({ kind: "image", body: { width: 640, height: 480 } });
    expect(useConversationsStore().byId[5].last_message!.kind).toBe("image");
  });

  it("fails on a lost upload with Retry, and Retry uploads again and sends once", async () => {
    const { api, msgs, convs } = setup({ socket: false });
    api.add(5, 1);
    convs.setAll([conv(5, 1)]);
    await msgs.open(5);
    api.uploadAnswer = async () => { throw ApiError.network(new Error("down")); };
    const o = msgs.sendFile(5, new Blob(["pdf"], { type: "application/pdf" }), "file", { name: "notes.pdf" })!;
    await flush();
    expect(msgs.outbox[5][0]).toMatchObject({ state: "failed", error: "Upload failed", permanent: false });
    expect(api.sentBodies).toEqual([]);
    api.uploadAnswer = async (kind) => stored(kind);
    await msgs.retry(5, o.client_msg_id);
    expect(api.uploads.length).toBe(2);
    expect(api.sentBodies.map((b) => b.client_msg_id)).toEqual([o.client_msg_id]);
    expect(api.sentBodies[0].body).toEqual({ url: stored("file").url, name: "notes.pdf", size: 1234, mime: "application/pdf" });
    expect(msgs.outbox[5]).toEqual([]);
  });

  it("says clearly when the server cannot read an image, and offers no Retry", async () => {
    const { api, msgs, convs } = setup({ socket: false });
    api.add(5, 1);
    convs.setAll([conv(5, 1)]);
    await msgs.open(5);
    api.uploadAnswer = async () => { throw new ApiError(422, "invalid_image", "not a readable image"); };
    msgs.sendFile(5, new Blob(["nope"], { type: "image/png" }), "image", { name: "broken.png" });
    await flush();
    expect(msgs.outbox[5][0]).toMatchObject({ state: "failed", permanent: true });
    expect(msgs.outbox[5][0].error).toMatch(/image could not be read/);
    api.uploadAnswer = async () => { throw new ApiError(413, "payload_too_large", "uploads are limited"); };
    msgs.sendFile(5, new Blob(["big"]), "file", { name: "big.bin" });
    await flush();
    expect(msgs.outbox[5][1]).toMatchObject({ state: "failed", permanent: true, error: "That file is too large to send." });
  });

  it("refuses an oversize file before uploading it", async () => {
    const { api, msgs } = setup();
    const big = { size: 30 * 1024 * 1024, type: "application/zip", name: "huge.zip" } as unknown as Blob;
    expect(msgs.sendFile(5, big, "file")).toBeNull();
    expect(api.uploads).toEqual([]);
    expect(useUiStore().toasts.at(-1)?.text).toMatch(/too large/);
  });

  it("a send that fails after the upload retries the message without uploading again", async () => {
    const { api, ws, msgs, convs } = setup();
    api.add(5, 1);
    convs.setAll([conv(5, 1)]);
    await msgs.open(5);
    const sock = await goOnline(ws);
    const o = msgs.sendFile(5, new Blob(["ogg"], { type: "audio/webm" }), "voice", { duration_ms: 5000 })!;
    await flush();
    const f1 = sock.sentOf("send")[0] as Record<string, unknown>;
    expect(f1).toMatchObject({ kind: "voice", body: { url: stored("voice").url, duration_ms: 5000, size: 1234 } });
    sock.push({ type: "error", ref: f1.ref, code: "not_friends", message: "x" });
    await flush();
    expect(msgs.outbox[5][0]).toMatchObject({ state: "failed", permanent: false });
    void msgs.retry(5, o.client_msg_id);
    await flush();
    expect(api.uploads.length).toBe(1);
    const f2 = sock.sentOf("send")[1] as Record<string, unknown>;
    expect(f2).toMatchObject({ client_msg_id: o.client_msg_id, kind: "voice" });
  });

  it("sends mention_all only when asked, and the confirmed message keeps it", async () => {
    const { api, ws, msgs, convs } = setup();
    api.add(5, 1);
    convs.setAll([conv(5, 1, { kind: "group", peer: null })]);
    await msgs.open(5);
    const sock = await goOnline(ws);
    msgs.sendText(5, "plain");
    const o = msgs.sendText(5, "@all meeting", [], true);
    const [plain] = sock.sentOf("send") as Array<Record<string, unknown>>;
    expect(plain.mention_all).toBeUndefined();
    sock.push({ type: "ack", ref: plain.ref, message_id: 901, conversation_id: 5, seq: 2, ts: 1, client_msg_id: (plain.client_msg_id as string) });
    await flush();
    const all = sock.sentOf("send")[1] as Record<string, unknown>; // sent once the one before is acked
    expect(all).toMatchObject({ mention_all: true, body: { text: "@all meeting" } });
    sock.push({ type: "ack", ref: all.ref, message_id: 902, conversation_id: 5, seq: 3, ts: 2, client_msg_id: o.client_msg_id });
    await flush();
    await flush();
    expect(msgs.win(5)!.items.at(-1)).toMatchObject({ seq: 3, mention_all: true });
  });
});

describe("presence ordering", () => {
  afterEach(() => resetServices());

  it("a push that arrives while a query is under way wins over the query's answer", async () => {
    setActivePinia(createPinia());
    let answer!: (v: { presence: Record<string, { online: boolean; devices: string[] }> }) => void;
    setServices({ api: { presence: () => new Promise((r) => { answer = r; }) } as unknown as ApiClient });
    const presence = usePresenceStore();
    const q = presence.query([7, 8]);
    presence.set(7, true, ["web"]); // Bob came back while the query was in flight
    answer({ presence: { 7: { online: false, devices: [] }, 8: { online: true, devices: ["mobile"] } } });
    await q;
    expect(presence.isOnline(7)).toBe(true);
    expect(presence.map[7].devices).toEqual(["web"]);
    expect(presence.isOnline(8)).toBe(true);
  });

  it("a query sent after a push updates it, and an older answer never overwrites a newer one", () => {
    setActivePinia(createPinia());
    const presence = usePresenceStore();
    presence.set(7, true, ["web"]);
    const older = presence.beginQuery();
    const newer = presence.beginQuery();
    presence.applyQuery(newer, { 7: { online: false, devices: [] } });
    expect(presence.isOnline(7)).toBe(false);
    presence.applyQuery(older, { 7: { online: true, devices: ["web"] } });
    expect(presence.isOnline(7)).toBe(false);
    presence.set(7, true, ["mobile"]);
    expect(presence.isOnline(7)).toBe(true);
  });
});
