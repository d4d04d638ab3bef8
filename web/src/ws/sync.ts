import type { Conversation, Message, MessagePage } from "../api/types";

/** Where the sync engine reads from. The ApiClient satisfies it. */
export interface SyncSource {
  conversations(): Promise<{ conversations: Conversation[] }>;
  messagesAfter(conversationId: number, after: number, limit: number): Promise<MessagePage>;
  latestMessages(conversationId: number, limit: number): Promise<MessagePage>;
  conversation(conversationId: number): Promise<Conversation>;
}

/** Where the sync engine writes to. The Pinia stores satisfy it. */
export interface SyncSink {
  /**
   * Highest seq held locally with nothing missing below it (down to the oldest loaded message),
   * or null when this conversation's history is not loaded (then only its summary is kept).
   */
  localSeq(conversationId: number): number | null;
  /** Messages in ascending seq order, none at or below localSeq, with no gap. */
  applyMessages(conversationId: number, messages: Message[]): void;
  /** A message for a conversation whose history is not loaded: update its summary only. */
  applySummary(message: Message): void;
  /** Replace the conversation list with the server's. */
  setConversations(list: Conversation[]): void;
  /** One conversation as the server has it now (its summary: last message, unread). */
  putConversation(conversation: Conversation): void;
  /** The gap was too large to fill: drop the loaded window and start again from the newest page. */
  resetWindow(conversationId: number, page: MessagePage): void;
}

export interface SyncOptions {
  pageSize?: number;
  /** A gap larger than this is not filled message by message; the window restarts at the newest page. */
  maxGap?: number;
}

/**
 * Pigeon's client sync algorithm: after `hello`, list the conversations and page `after=local`
 * for every loaded conversation that is behind; on a pushed message with seq > local + 1, pull
 * the gap first. Work on one conversation is serialised, so pulls and pushes never interleave and
 * messages always arrive in seq order, each once. A `notice` (hot groups) is always answered by a
 * pull or a fetch of the conversation, and notices that arrive meanwhile by one more.
 */
export class SyncEngine {
  private chains = new Map<number, Promise<void>>();
  /** Conversations whose notice is being answered; `again` when another notice came meanwhile. */
  private noticed = new Map<number, { again: boolean; upTo: number; done: Promise<void> }>();
  private readonly pageSize: number;
  private readonly maxGap: number;

  constructor(private readonly source: SyncSource, private readonly sink: SyncSink, opts: SyncOptions = {}) {
    this.pageSize = opts.pageSize ?? 100;
    this.maxGap = opts.maxGap ?? 1000;
  }

  /** Run `fn` after every earlier task of this conversation. */
  private serial(cid: number, fn: () => Promise<void>): Promise<void> {
    const prev = this.chains.get(cid) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(fn);
    const tail = next.catch(() => undefined);
    this.chains.set(cid, tail);
    void tail.then(() => {
      if (this.chains.get(cid) === tail) this.chains.delete(cid);
    });
    return next;
  }

  /** Wait until all queued work for a conversation is done (tests, view loading). */
  idle(cid: number): Promise<void> {
    return (this.chains.get(cid) ?? Promise.resolve()).then(() => undefined);
  }

  /** The full catch-up after (re)connecting. */
  async fullSync(): Promise<void> {
    const { conversations } = await this.source.conversations();
    this.sink.setConversations(conversations);
    await Promise.all(
      conversations.map((c) => {
        const local = this.sink.localSeq(c.id);
        if (local === null || c.last_seq <= local) return Promise.resolve();
        return this.serial(c.id, () => this.fill(c.id, c.last_seq));
      }),
    );
  }

  /** Pull everything after the local seq, at least up to `upTo` (or until the server has no more). */
  pull(cid: number, upTo = Infinity): Promise<void> {
    return this.serial(cid, () => this.fill(cid, upTo));
  }

  /**
   * A `notice`: catch up with the conversation, ALWAYS, even when `lastSeq` is not ahead of what
   * is held. The server sends no other notice for it until this client has pulled to the end (or
   * fetched the conversation), so a notice left unanswered silences the conversation for good.
   * A notice that arrives while one is being answered is not dropped: it asks for one more catch-up
   * after the running one, however many arrive meanwhile.
   */
  notice(cid: number, lastSeq: number): Promise<void> {
    const busy = this.noticed.get(cid);
    if (busy) {
      busy.again = true;
      busy.upTo = Math.max(busy.upTo, lastSeq);
      return busy.done;
    }
    const state = { again: false, upTo: lastSeq, done: Promise.resolve() };
    this.noticed.set(cid, state);
    state.done = this.answerNotices(cid, state);
    return state.done;
  }

  private async answerNotices(cid: number, state: { again: boolean; upTo: number }): Promise<void> {
    try {
      do {
        state.again = false;
        try {
          await this.serial(cid, () => this.catchUp(cid, state.upTo));
        } catch (e) {
          if (!state.again) throw e; // a later notice is queued: its catch-up is the retry
        }
      } while (state.again);
    } finally {
      this.noticed.delete(cid);
    }
  }

  /** Pull a loaded conversation to its end; for one that is not loaded, fetch its summary. */
  private async catchUp(cid: number, upTo: number): Promise<void> {
    if (this.sink.localSeq(cid) !== null) return this.fill(cid, upTo);
    this.sink.putConversation(await this.source.conversation(cid));
  }

  private async fill(cid: number, upTo: number): Promise<void> {
    let local = this.sink.localSeq(cid);
    if (local === null) return;
    if (Number.isFinite(upTo) && upTo - local > this.maxGap) {
      const page = await this.source.latestMessages(cid, 50);
      this.sink.resetWindow(cid, page);
      // The newest page is not a pull to the end: pull after it too, for messages sent meanwhile
      // and so that the server learns this client caught up (a hot group notifies it again).
      local = this.sink.localSeq(cid);
      if (local === null) return;
    }
    for (let guard = 0; guard < 10_000; guard++) {
      const page = await this.source.messagesAfter(cid, local, this.pageSize);
      const fresh = page.messages.filter((m) => m.seq > local!).sort((a, b) => a.seq - b.seq);
      if (fresh.length) this.sink.applyMessages(cid, fresh);
      const now = this.sink.localSeq(cid);
      if (now === null) return;
      const progressed = now > local;
      local = now;
      if (!page.has_more || !progressed) return;
    }
  }

  /** A message pushed by the server (or built from our own ack). */
  receive(msg: Message): Promise<void> {
    const cid = msg.conversation_id;
    return this.serial(cid, async () => {
      const local = this.sink.localSeq(cid);
      if (local === null) {
        this.sink.applySummary(msg);
        return;
      }
      if (msg.seq <= local) return; // duplicate
      if (msg.seq > local + 1) {
        await this.fill(cid, msg.seq);
        const now = this.sink.localSeq(cid);
        if (now === null || msg.seq <= now) return;
        // If the server could not fill the hole, still show the message (the store keeps seq order).
      }
      this.sink.applyMessages(cid, [msg]);
    });
  }
}
