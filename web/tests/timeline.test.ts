import { describe, expect, it } from "vitest";
import type { Message } from "../src/api/types";
import { RowBuilder, unreadStart, type Row, type RowOptions } from "../src/lib/timeline";
import type { Outgoing } from "../src/stores/messages";
import { msg } from "./fakes";

const ME = 1;
const opts = (readSeq: number | null, extra: Partial<RowOptions> = {}): RowOptions => ({
  me: ME, readSeq, atStart: false, recallTip: (_m, by) => `${by} recalled`, now: 1_700_000_000_000 + 86_400_000 * 30, ...extra,
});
const kinds = (rows: Row[]) => rows.map((r) => (r.t === "msg" ? `m${r.m.seq}` : r.t === "unread" ? `u${r.count}` : r.t));

describe("unread divider placement", () => {
  const items = [msg(5, 1, 2), msg(5, 2, ME), msg(5, 3, 2), msg(5, 4, ME), msg(5, 5, 2), msg(5, 6, 3)];

  it("goes before the first message from someone else after my read marker", () => {
    expect(unreadStart(items, 2, ME)).toEqual({ seq: 3, count: 3 });
    expect(unreadStart(items, 3, ME)).toEqual({ seq: 5, count: 2 });
    expect(unreadStart(items, 0, ME)).toEqual({ seq: 1, count: 4 });
  });

  it("is not there when nothing from others is unread, or without a marker", () => {
    expect(unreadStart(items, 6, ME)).toBeNull();
    expect(unreadStart([msg(5, 1, 2), msg(5, 2, ME)], 1, ME)).toBeNull();
    expect(unreadStart(items, null, ME)).toBeNull();
    expect(unreadStart([], 0, ME)).toBeNull();
  });

  it("skips my own messages, tips and recalls, and counts only others' messages", () => {
    const mixed: Message[] = [
      msg(5, 1, 2), msg(5, 2, ME),
      msg(5, 3, null as unknown as number, "", { kind: "system", sender_id: null, body: { tip: "Bob joined" } }),
      msg(5, 4, 2, "", { recalled: true, body: {} }),
      msg(5, 5, 2, "", { kind: "recall", body: { message_id: 5 * 10000 + 4, seq: 4, by: 2 } }),
      msg(5, 6, 2, "", { kind: "image", body: { url: "/files/x" } }), msg(5, 7, 2),
    ];
    expect(unreadStart(mixed, 1, ME)).toEqual({ seq: 6, count: 2 });
  });

  it("sits in the rows right before that message, after its day separator", () => {
    const rows = new RowBuilder().build(items, [], opts(2));
    expect(kinds(rows)).toEqual(["day", "m1", "m2", "u3", "m3", "m4", "m5", "m6"]);
    const after = rows[rows.findIndex((r) => r.t === "unread") + 1];
    expect(after.t === "msg" && after.first).toBe(true);
    expect(kinds(new RowBuilder().build(items, [], opts(6)))).not.toContain("u");
  });

  it("stays where it was, with the same count, while new messages arrive", () => {
    const b = new RowBuilder();
    b.build(items, [], opts(2));
    const rows = b.build([...items, msg(5, 7, 2), msg(5, 8, 2)], [], opts(2));
    expect(kinds(rows).indexOf("u3")).toBe(3);
    // and after a full rebuild (older history loaded above)
    const again = b.build([msg(5, 0, 2, "", { id: 1 }), ...items, msg(5, 7, 2), msg(5, 8, 2)], [], opts(2));
    expect(kinds(again)).toContain("u3");
  });
});

describe("rows", () => {
  it("hands back the same row objects when nothing in them changed", () => {
    const b = new RowBuilder();
    const items = [msg(5, 1, 2), msg(5, 2, 2)];
    const first = b.build(items, [], opts(null));
    const second = b.build([...items, msg(5, 3, 2)], [], opts(null));
    expect(second[1]).toBe(first[1]);
    expect(second[2]).toBe(first[2]);
    expect(second).toHaveLength(4);
    // a recall replaces the message object (and comes with the recall message): a new row
    const m3 = second[3].t === "msg" ? second[3].m : items[0];
    const recall = msg(5, 4, 2, "", { kind: "recall", body: { message_id: items[1].id, seq: 2, by: 2 } });
    const third = b.build([items[0], { ...items[1], recalled: true, body: {} }, m3, recall], [], opts(null));
    expect(third[1]).toBe(first[1]);
    expect(third[2]).not.toBe(second[2]);
    expect(third[2].t).toBe("tip");
    expect(third).toHaveLength(4);
  });

  it("builds the same rows one message at a time as all at once", () => {
    const all = Array.from({ length: 60 }, (_, i) => msg(5, i + 1, i % 3 === 0 ? ME : 2, "x", { ts: 1_700_000_000_000 + i * 3_600_000 }));
    const b = new RowBuilder();
    let rows: Row[] = [];
    for (let n = 1; n <= all.length; n++) rows = b.build(all.slice(0, n), [], opts(null));
    expect(rows).toEqual(new RowBuilder().build(all, [], opts(null)));
    expect(kinds(rows).filter((k) => k === "day").length).toBeGreaterThan(1);
  });

  it("starts with the beginning of the conversation once it is loaded, and ends with my pending messages", () => {
    const o = { client_msg_id: "c1", conversation_id: 5, kind: "text", body: { text: "hi" }, mentions: [], ts: 1_700_000_009_000, order: 1, state: "sending" } as Outgoing;
    const rows = new RowBuilder().build([msg(5, 1, 2)], [o], opts(null, { atStart: true }));
    expect(kinds(rows)).toEqual(["start", "day", "m1", "out"]);
    expect(rows[3].t === "out" && rows[3].first).toBe(true);
  });

  it("groups consecutive messages of one sender", () => {
    const rows = new RowBuilder().build([msg(5, 1, 2), msg(5, 2, 2), msg(5, 3, ME), msg(5, 4, 2)], [], opts(null));
    expect(rows.filter((r) => r.t === "msg").map((r) => (r.t === "msg" ? r.first : null))).toEqual([true, false, true, true]);
  });
});
