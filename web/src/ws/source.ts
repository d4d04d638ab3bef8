import type { MessagePage } from "../api/types";
import { RequestError, type ProtocolClient } from "./client";
import type { MessagesFrame } from "./protocol";
import type { SyncSource } from "./sync";

/** Answers that mean "the socket could not carry it", not "Pigeon refused": try HTTP. */
const SOCKET_TROUBLE = new Set(["offline", "timeout", "disconnected"]);

/**
 * The sync engine's source: pages `after=` over the socket while it is online, the HTTP API
 * otherwise. A pull over the socket costs the server no request routing, token check or
 * session lookup per page, which is most of a hot group's work: every online member pulls
 * every message. Everything else (lists, newest pages, summaries) stays on HTTP.
 */
export class SocketFirstSource implements SyncSource {
  constructor(private readonly http: SyncSource, private readonly socket: () => ProtocolClient | null) {}

  conversations() { return this.http.conversations(); }
  latestMessages(conversationId: number, limit: number) { return this.http.latestMessages(conversationId, limit); }
  conversation(conversationId: number) { return this.http.conversation(conversationId); }

  async messagesAfter(conversationId: number, after: number, limit: number): Promise<MessagePage> {
    const ws = this.socket();
    if (ws && ws.state === "online") {
      try {
        const frame = await ws.request<MessagesFrame>({
          type: "sync", ref: ws.nextRef(), conversation_id: conversationId, after, limit,
        });
        return { messages: frame.messages, has_more: frame.has_more };
      } catch (e) {
        if (!(e instanceof RequestError) || !SOCKET_TROUBLE.has(e.code)) throw e;
      }
    }
    return this.http.messagesAfter(conversationId, after, limit);
  }
}
