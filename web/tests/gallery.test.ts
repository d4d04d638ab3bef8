import { describe, expect, it } from "vitest";
import type { MediaPage, Message } from "../src/api/types";
import { MediaPager } from "../src/lib/gallery";

function msg(seq: number, extra: Partial<Message> = {}): Message {
  return { id: seq * 10, conversation_id: 1, seq, sender_id: 1, client_msg_id: null, kind: "image", body: {}, ts: seq, recalled: false, mentions: [], mention_all: false, ...extra };
}

describe("MediaPager", () => {
  it("pages back from the newest by the oldest seq held", async () => {
    const asked: (number | undefined)[] = [];
    const pages: MediaPage[] = [
      { conversation_id: 1, items: [msg(9), msg(7)], has_more: true },
      { conversation_id: 1, items: [msg(4), msg(2)], has_more: false },
    ];
    const pager = new MediaPager(async (before) => { asked.push(before); return pages[asked.length - 1]; });
    await pager.more();
    await pager.more();
    await pager.more(); // nothing more to ask for
    expect(asked).toEqual([undefined, 7]);
    expect(pager.items.map((m) => m.seq)).toEqual([9, 7, 4, 2]);
    expect(pager.hasMore).toBe(false);
  });

  it("keeps each item once, newest first, and skips recalled ones", async () => {
    const pages: MediaPage[] = [
      { conversation_id: 1, items: [msg(9), msg(7)], has_more: true },
      { conversation_id: 1, items: [msg(7), msg(5, { recalled: true }), msg(3)], has_more: false },
    ];
    let n = 0;
    const pager = new MediaPager(async () => pages[n++]);
    await pager.more();
    await pager.more();
    expect(pager.items.map((m) => m.seq)).toEqual([9, 7, 3]);
    pager.drop(70);
    expect(pager.items.map((m) => m.seq)).toEqual([9, 3]);
  });

  it("asks once for concurrent calls and keeps the error of a failed page", async () => {
    let calls = 0;
    let fail = true;
    const pager = new MediaPager(async () => {
      calls++;
      if (fail) throw new Error("offline");
      return { conversation_id: 1, items: [msg(1)], has_more: false };
    });
    const both = Promise.allSettled([pager.more(), pager.more()]);
    expect(pager.loading).toBe(true);
    await both;
    expect(calls).toBe(1);
    expect(pager.error).toBe("offline");
    expect(pager.hasMore).toBe(true);
    fail = false;
    await pager.more();
    expect(pager.error).toBe("");
    expect(pager.items.map((m) => m.seq)).toEqual([1]);
  });
});
