import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiClient } from "../src/api/client";
import { ApiError, PASSWORD_CHANGE_ERRORS, friendlyError } from "../src/api/errors";
import { MemoryTokenStore } from "../src/api/tokens";
import { probeDuration, statedDuration, type MediaLike } from "../src/lib/audioDuration";
import { exitActions, transferQuestion } from "../src/lib/groupActions";
import { THEME_KEY, followTheme, loadThemeChoice, resolveTheme, saveThemeChoice } from "../src/lib/theme";
import { jsonResponse, makeTokens } from "./fakes";

describe("group actions", () => {
  it("says the old owner becomes an ordinary member, as the server does", () => {
    const q = transferQuestion("Bob");
    expect(q).toContain("Make Bob the owner?");
    expect(q).toMatch(/ordinary member/);
    expect(q).not.toMatch(/admin/i);
  });

  it("offers no Leave group in a dissolved group, only Delete chat", () => {
    expect(exitActions("member", true)).toEqual(["delete-chat"]);
    expect(exitActions("admin", true)).toEqual(["delete-chat"]);
    expect(exitActions("owner", true)).toEqual(["delete-chat"]);
    expect(exitActions("member", false)).toEqual(["leave"]);
    expect(exitActions("admin", false)).toEqual(["leave"]);
    expect(exitActions("owner", false)).toEqual(["dissolve"]);
    expect(exitActions(null, false)).toEqual([]);
    expect(exitActions(null, true)).toEqual([]);
  });
});

describe("password change errors", () => {
  it("reads a wrong current password as that, not as a wrong username", () => {
    const e = new ApiError(401, "wrong_password", "the current password is wrong");
    expect(friendlyError(e, PASSWORD_CHANGE_ERRORS)).toBe("The current password is wrong.");
    expect(friendlyError(e)).toBe("Wrong username or password."); // the login screen
    expect(friendlyError(new ApiError(422, "weak_password", "x"), PASSWORD_CHANGE_ERRORS)).toMatch(/stronger password/);
  });

  it("does not refresh the token (rotating it) for a 401 wrong_password", async () => {
    const calls: string[] = [];
    const tokens = new MemoryTokenStore();
    tokens.save(makeTokens(1));
    const api = new ApiClient({
      tokens,
      lock: (_n, fn) => fn(),
      fetch: async (url: string) => {
        calls.push(url);
        return jsonResponse(401, { error: { code: "wrong_password", message: "the current password is wrong" } });
      },
    });
    await expect(api.changePassword("nope", "Tawny-Otter-Lamp-42")).rejects.toMatchObject({ status: 401, code: "wrong_password" });
    expect(calls).toEqual(["/api/v1/auth/password"]);
    expect(tokens.refresh()).toBe("r1");
  });
});

/** An <audio> stand-in: `duration` is Infinity until a seek past the end reveals `real`. */
class FakeAudio extends EventTarget implements MediaLike {
  duration = Number.NaN;
  readyState = 0;
  seeks: number[] = [];
  private time = 0;
  constructor(private readonly real: number, private readonly headerHasDuration: boolean) { super(); }
  get currentTime() { return this.time; }
  set currentTime(t: number) {
    this.seeks.push(t);
    this.time = Math.min(t, this.duration);
    if (t > this.real && !Number.isFinite(this.duration)) {
      queueMicrotask(() => { this.duration = this.real; this.dispatchEvent(new Event("durationchange")); });
    }
  }
  loadMetadata() {
    this.readyState = 1;
    this.duration = this.headerHasDuration ? this.real : Number.POSITIVE_INFINITY;
    this.dispatchEvent(new Event("loadedmetadata"));
  }
}

describe("voice clip duration", () => {
  afterEach(() => vi.useRealTimers());

  it("trusts a stated duration, not a placeholder that would read 0:00", () => {
    expect(statedDuration(1520)).toBe(1520);
    expect(statedDuration(1)).toBeNull();
    expect(statedDuration(undefined)).toBeNull();
    expect(statedDuration("abc")).toBeNull();
  });

  it("reads the duration from the metadata when the file has it", async () => {
    const a = new FakeAudio(2.4, true);
    const p = probeDuration(a);
    a.loadMetadata();
    expect(await p).toBe(2400);
    expect(a.seeks).toEqual([]);
  });

  it("seeks to the end of a MediaRecorder WebM (Infinity duration) and back to the start", async () => {
    const a = new FakeAudio(1.6, false);
    const p = probeDuration(a);
    a.loadMetadata();
    expect(await p).toBe(1600);
    expect(a.seeks.length).toBe(2);
    expect(a.seeks[0]).toBeGreaterThan(1e9);
    expect(a.currentTime).toBe(0);
  });

  it("works when the metadata was already loaded, and gives up after the timeout", async () => {
    const a = new FakeAudio(3, true);
    a.loadMetadata();
    expect(await probeDuration(a)).toBe(3000);
    vi.useFakeTimers();
    const never = new FakeAudio(3, true);
    const p = probeDuration(never, 1000);
    vi.advanceTimersByTime(1001);
    expect(await p).toBeNull();
  });
});

describe("theme", () => {
  afterEach(() => { localStorage.clear(); document.documentElement.removeAttribute("data-theme"); vi.unstubAllGlobals(); });

  it("resolves system to the system's setting and keeps light and dark fixed", () => {
    expect(resolveTheme("system", true)).toBe("dark");
    expect(resolveTheme("system", false)).toBe("light");
    expect(resolveTheme("light", true)).toBe("light");
    expect(resolveTheme("dark", false)).toBe("dark");
  });

  it("saves the choice and reads unknown values as system", () => {
    expect(loadThemeChoice()).toBe("system");
    saveThemeChoice("dark");
    expect(localStorage.getItem(THEME_KEY)).toBe("dark");
    expect(loadThemeChoice()).toBe("dark");
    localStorage.setItem(THEME_KEY, "purple");
    expect(loadThemeChoice()).toBe("system");
  });

  it("follows the system live while the choice is system, and not when it is fixed", () => {
    let dark = false;
    const listeners = new Set<() => void>();
    vi.stubGlobal("matchMedia", (q: string) => ({
      media: q,
      get matches() { return dark; },
      addEventListener: (_t: string, fn: () => void) => listeners.add(fn),
      removeEventListener: (_t: string, fn: () => void) => listeners.delete(fn),
    }));
    let choice: "system" | "light" | "dark" = "system";
    const f = followTheme(() => choice);
    const html = document.documentElement;
    expect(html.getAttribute("data-theme")).toBe("light");
    dark = true;
    listeners.forEach((fn) => fn());
    expect(html.getAttribute("data-theme")).toBe("dark");
    choice = "light";
    f.refresh();
    expect(html.getAttribute("data-theme")).toBe("light");
    listeners.forEach((fn) => fn()); // the system is still dark: a fixed choice wins
    expect(html.getAttribute("data-theme")).toBe("light");
    f.stop();
    expect(listeners.size).toBe(0);
  });
});

describe("theme before the first paint", () => {
  afterEach(() => { localStorage.clear(); document.documentElement.removeAttribute("data-theme"); vi.unstubAllGlobals(); });

  it("public/theme.js applies the saved choice under the same key as lib/theme.ts", async () => {
    const { readFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const src = readFileSync(join(process.cwd(), "public", "theme.js"), "utf8");
    const run = () => new Function(src)();
    vi.stubGlobal("matchMedia", () => ({ matches: true }));
    run();
    expect(document.documentElement.getAttribute("data-theme")).toBe("dark"); // system, and the system is dark
    saveThemeChoice("light");
    run();
    expect(document.documentElement.getAttribute("data-theme")).toBe("light");
    vi.stubGlobal("matchMedia", () => ({ matches: false }));
    saveThemeChoice("dark");
    run();
    expect(document.documentElement.getAttribute("data-theme")).toBe("dark");
  });
});
