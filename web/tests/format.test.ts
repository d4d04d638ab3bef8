import { describe, expect, it, vi } from "vitest";
import { avatarColor, dayKey, initials, preview, shortTime } from "../src/lib/format";
import { msg } from "./fakes";

describe("format helpers", () => {
  it("makes initials from one or two words, emoji-safe", () => {
    expect(initials("Alice")).toBe("A");
    expect(initials("alice cooper")).toBe("AC");
    expect(initials("  ")).toBe("?");
    expect(initials("😀 smile")).toBe("😀S");
  });

  it("gives a stable colour per seed", () => {
    expect(avatarColor(42)).toBe(avatarColor("42"));
    expect(avatarColor(1)).toMatch(/^#[0-9a-f]{6}$/);
  });

  it("previews every message kind as plain text", () => {
    const name = (id: number | null) => `U${id}`;
    expect(preview(msg(1, 1, 2, "<b>hi</b>"), name, 1)).toBe("<b>hi</b>");
    expect(preview(msg(1, 2, 2, "", { kind: "image", body: { url: "x" } }), name, 1)).toBe("[Image]");
    expect(preview(msg(1, 3, 2, "", { kind: "file", body: { name: "a.pdf" } }), name, 1)).toBe("[File] a.pdf");
    expect(preview(msg(1, 4, 2, "", { kind: "system", body: { tip: "Bob joined" } }), name, 1)).toBe("Bob joined");
    expect(preview(msg(1, 5, 2, "", { kind: "recall", body: { message_id: 1, seq: 1, by: 2 } }), name, 1)).toBe("U2 recalled a message");
    expect(preview(msg(1, 6, 1, "", { kind: "recall", body: { message_id: 1, seq: 1, by: 1 } }), name, 1)).toBe("You recalled a message");
    expect(preview(msg(1, 7, 2, "x", { recalled: true }), name, 1)).toBe("Message recalled");
  });

  it("formats times relative to now", () => {
    const now = new Date(2026, 0, 15, 12, 0).getTime();
    expect(shortTime(now - 86_400_000, now)).toBe("Yesterday");
    expect(shortTime(now - 60_000, now)).toMatch(/\d/);
    expect(dayKey(now)).toBe(dayKey(now + 60_000));
  });
});

describe("time formatters", () => {
  it("builds each Intl formatter once, however many messages are formatted", async () => {
    vi.resetModules();
    const Real = Intl.DateTimeFormat;
    let built = 0;
    const counting = function (...args: ConstructorParameters<typeof Intl.DateTimeFormat>) {
      built++;
      return new Real(...args);
    };
    Intl.DateTimeFormat = counting as unknown as typeof Intl.DateTimeFormat;
    try {
      const f = await import("../src/lib/format");
      const now = new Date(2026, 0, 15, 12, 0).getTime();
      for (let i = 0; i < 500; i++) {
        f.clockTime(now - i * 60_000);
        f.dayLabel(now - i * 86_400_000, now);
        f.shortTime(now - i * 3_600_000, now);
      }
      expect(f.clockTime(now)).toBe(new Real(undefined, { hour: "2-digit", minute: "2-digit" }).format(now));
    } finally {
      Intl.DateTimeFormat = Real;
    }
    expect(built).toBeGreaterThan(0);
    expect(built).toBeLessThanOrEqual(4);
  });
});
