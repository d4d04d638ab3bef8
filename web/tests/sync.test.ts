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
  resetWindow(cid: number, page: MessagePage) {
    this.resets.push(cid);
    this.windows.set(cid, [...page.messages]);
  }
  seqs(cid: number) { return this.windows.get(cid)!.map((m) => m.seq); }
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

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
