import { describe, expect, it } from "vitest";
import type { Conversation, Message, MessagePage } from "../src/api/types";
import { SyncEngine, type SyncSink } from "../src/ws/sync";
import { FakeHistory, conv, msg } from "./fakes";

/** A plain sink keeping windows like the store does, recording what was applied. */
class TestSink implements SyncSink {
  windows = new Map<number, Message[]>();
  summaries: Message[] = [];
  convs: Conversation[] = [];
  resets: number[] = [];
  fetched: Conversation[] = [];
  localSeq(cid: number) {
    const w = this.windows.get(cid);
    if (!w) return null;
    return w.length ? w[w.length - 1].seq : 0;
  }
  applyMessages(cid: number, ms: Message[]) {
    const w = this.windows.get(cid)!;
    for (const m of ms) {
      if (w.length && m.seq <= w[w.length - 1].seq) throw new Error(`out of order or duplicate: ${m.seq}`);
      w.push(m);
    }
  }
  applySummary(m: Message) { this.summaries.push(m); }
  setConversations(list: Conversation[]) { this.convs = list; }
  putConversation(c: Conversation) { this.fetched.push(c); }
  resetWindow(cid: number, page: MessagePage) {
    this.resets.push(cid);
    this.windows.set(cid, [...page.messages]);
  }
  seqs(cid: number) { return this.windows.get(cid)!.map((m) => m.seq); }
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

/**
 * A history whose answers (pages after a seq, single conversations) are held back until the test
 * releases them: the request is made, and the page computed, at once; only the answer waits. This
 * keeps a pull "in flight" while notices arrive.
 */
class HeldHistory extends FakeHistory {
  holding = true;
  private waiting: Array<() => void> = [];
  private hold() {
    return this.holding ? new Promise<void>((r) => this.waiting.push(r)) : Promise.resolve();
  }
  async messagesAfter(cid: number, after: number, limit: number) {
    const page = await super.messagesAfter(cid, after, limit);
    await this.hold();
    return page;
  }
  async conversation(cid: number) {
    const c = await super.conversation(cid);
    await this.hold();
    return c;
  }
  /** Answer everything held, and everything asked from now on. */
  release() {
    this.holding = false;
    for (const r of this.waiting.splice(0)) r();
  }
  /** Requests made and still unanswered. */
  get held() { return this.waiting.length; }
}

async function settle() {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

describe("SyncEngine", () => {
  it("after hello, pages after= for every loaded conversation that is behind, until has_more is false", async () => {
    const h = new FakeHistory();
    h.add(1, 250);
    h.add(2, 10);
    h.add(3, 5);
    h.convs = [conv(1, 250), conv(2, 10), conv(3, 5)];
    const sink = new TestSink();
    sink.windows.set(1, h.data.get(1)!.slice(0, 20)); // loaded up to 20
    sink.windows.set(2, h.data.get(2)!.slice()); // fully up to date
    // conversation 3 never opened: summary only
    const eng = new SyncEngine(h, sink, { pageSize: 100 });
    await eng.fullSync();
    expect(sink.convs.map((c) => c.id)).toEqual([1, 2, 3]);
    expect(sink.seqs(1)).toEqual(range(1, 250));
    expect(h.calls).toEqual(["conversations", "after:1:20", "after:1:120", "after:1:220"]);
    expect(sink.seqs(2)).toEqual(range(1, 10));
  });

  it("pulls the gap before showing a pushed message with seq > local + 1", async () => {
    const h = new FakeHistory();
    h.add(1, 30);
    const sink = new TestSink();
    sink.windows.set(1, h.data.get(1)!.slice(0, 25));
    const eng = new SyncEngine(h, sink);
    await eng.receive(h.data.get(1)![29]); // seq 30 arrives, 26..29 missing
    expect(sink.seqs(1)).toEqual(range(1, 30));
    expect(h.calls).toEqual(["after:1:25"]);
  });

  it("ignores duplicates (seq <= local)", async () => {
    const h = new FakeHistory();
    h.add(1, 5);
    const sink = new TestSink();
    sink.windows.set(1, h.data.get(1)!.slice());
    const eng = new SyncEngine(h, sink);
    await eng.receive(msg(1, 3));
    await eng.receive(msg(1, 5));
    expect(sink.seqs(1)).toEqual(range(1, 5));
    expect(h.calls).toEqual([]);
  });

  it("appends the next message directly without a pull", async () => {
    const h = new FakeHistory();
    h.add(1, 6);
    const sink = new TestSink();
    sink.windows.set(1, h.data.get(1)!.slice(0, 5));
    const eng = new SyncEngine(h, sink);
    await eng.receive(h.data.get(1)![5]);
    expect(sink.seqs(1)).toEqual(range(1, 6));
    expect(h.calls).toEqual([]);
  });

  it("serialises concurrent pushes and pulls so nothing is applied twice or out of order", async () => {
    const h = new FakeHistory();
    h.add(1, 40);
    const sink = new TestSink();
    sink.windows.set(1, h.data.get(1)!.slice(0, 10));
    const eng = new SyncEngine(h, sink);
    const all = h.data.get(1)!;
    // pushes arrive shuffled while a full sync runs
    h.convs = [conv(1, 40)];
    await Promise.all([eng.receive(all[35]), eng.fullSync(), eng.receive(all[11]), eng.receive(all[39]), eng.receive(all[10])]);
    expect(sink.seqs(1)).toEqual(range(1, 40));
  });

  it("hands messages of conversations without a loaded window to the summary", async () => {
    const h = new FakeHistory();
    const sink = new TestSink();
    const eng = new SyncEngine(h, sink);
    await eng.receive(msg(9, 100));
    expect(sink.summaries.map((m) => m.seq)).toEqual([100]);
    expect(h.calls).toEqual([]);
  });

  it("restarts the window at the newest page when the gap is too large", async () => {
    const h = new FakeHistory();
    h.add(1, 5000);
    const sink = new TestSink();
    sink.windows.set(1, h.data.get(1)!.slice(0, 10));
    const eng = new SyncEngine(h, sink, { maxGap: 1000 });
    await eng.pull(1, 5000);
    expect(sink.resets).toEqual([1]);
    expect(sink.seqs(1)[0]).toBe(4951);
    expect(sink.seqs(1).at(-1)).toBe(5000);
    // and pulls after the newest page, so the server sees a pull to the end
    expect(h.calls).toEqual(["latest:1", "after:1:5000"]);
  });

  it("keeps going after a failed pull (the next push retries the gap)", async () => {
    const h = new FakeHistory();
    h.add(1, 12);
    const sink = new TestSink();
    sink.windows.set(1, h.data.get(1)!.slice(0, 10));
    const eng = new SyncEngine(h, sink);
    const orig = h.messagesAfter.bind(h);
    h.messagesAfter = async () => { throw new Error("network down"); };
    await expect(eng.receive(h.data.get(1)![11])).rejects.toThrow("network down");
    h.messagesAfter = orig;
    await eng.receive(h.data.get(1)![11]);
    expect(sink.seqs(1)).toEqual(range(1, 12));
  });
});

describe("SyncEngine notices (hot groups)", () => {
  it("pulls on a notice even when its last_seq is not ahead of the local seq", async () => {
    const h = new FakeHistory();
    h.add(1, 10);
    const sink = new TestSink();
    sink.windows.set(1, h.data.get(1)!.slice());
    const eng = new SyncEngine(h, sink);
    await eng.notice(1, 8);
    await eng.notice(1, 10);
    // each notice is answered by a pull to the end: that is how the server learns we caught up
    expect(h.calls).toEqual(["after:1:10", "after:1:10"]);
    expect(sink.seqs(1)).toEqual(range(1, 10));
  });

  it("fetches a conversation that is not loaded on a notice, even when its summary looks current", async () => {
    const h = new FakeHistory();
    h.add(3, 5);
    h.convs = [conv(3, 5)];
    const sink = new TestSink();
    const eng = new SyncEngine(h, sink);
    await eng.notice(3, 5);
    await eng.notice(3, 4);
    expect(h.calls).toEqual(["conversation:3", "conversation:3"]);
    expect(sink.fetched.map((c) => [c.id, c.last_seq])).toEqual([[3, 5], [3, 5]]);
  });

  it("answers a notice that arrives while a pull runs with exactly one more pull, after it", async () => {
    const h = new HeldHistory();
    h.add(1, 11);
    const sink = new TestSink();
    sink.windows.set(1, h.data.get(1)!.slice(0, 10));
    const eng = new SyncEngine(h, sink);
    const first = eng.notice(1, 11);
    await settle();
    expect(h.calls).toEqual(["after:1:10"]); // in flight: its page holds seq 11 only
    h.add(1, 1); // seq 12 is sent while the page is on its way
    const second = eng.notice(1, 12);
    await settle();
    expect(h.calls).toEqual(["after:1:10"]); // not a second pull alongside the first
    h.release();
    await Promise.all([first, second]);
    expect(h.calls).toEqual(["after:1:10", "after:1:11"]);
    expect(sink.seqs(1)).toEqual(range(1, 12));
    await eng.notice(1, 12);
    expect(h.calls).toHaveLength(3); // the pull is over: the next notice pulls again
  });

  it("coalesces several notices during one pull into one extra pull", async () => {
    const h = new HeldHistory();
    h.add(1, 11);
    const sink = new TestSink();
    sink.windows.set(1, h.data.get(1)!.slice(0, 10));
    const eng = new SyncEngine(h, sink);
    const all = [eng.notice(1, 11)];
    await settle();
    for (let seq = 12; seq <= 16; seq++) {
      h.add(1, 1);
      all.push(eng.notice(1, seq));
    }
    await settle();
    expect(h.held).toBe(1);
    h.release();
    await Promise.all(all);
    expect(h.calls).toEqual(["after:1:10", "after:1:11"]);
    expect(sink.seqs(1)).toEqual(range(1, 16));
  });

  it("coalesces notices during the fetch of a conversation that is not loaded the same way", async () => {
    const h = new HeldHistory();
    h.add(3, 5);
    const sink = new TestSink();
    const eng = new SyncEngine(h, sink);
    const all = [eng.notice(3, 5)];
    await settle();
    h.add(3, 2);
    all.push(eng.notice(3, 6), eng.notice(3, 7));
    await settle();
    expect(h.calls).toEqual(["conversation:3"]);
    h.release();
    await Promise.all(all);
    expect(h.calls).toEqual(["conversation:3", "conversation:3"]);
    expect(sink.fetched.at(-1)!.last_seq).toBe(7);
  });

  it("still makes the queued pull when the running one fails", async () => {
    const h = new FakeHistory();
    h.add(1, 12);
    const sink = new TestSink();
    sink.windows.set(1, h.data.get(1)!.slice(0, 10));
    const eng = new SyncEngine(h, sink);
    const orig = h.messagesAfter.bind(h);
    let fail: (() => void) | null = null;
    h.messagesAfter = (cid, after) => {
      h.messagesAfter = orig;
      h.calls.push(`after:${cid}:${after}`);
      return new Promise((_, reject) => { fail = () => reject(new Error("network down")); });
    };
    const first = eng.notice(1, 11);
    await settle();
    const second = eng.notice(1, 12);
    fail!();
    await Promise.all([first, second]);
    expect(h.calls).toEqual(["after:1:10", "after:1:10"]);
    expect(sink.seqs(1)).toEqual(range(1, 12));
  });
});
