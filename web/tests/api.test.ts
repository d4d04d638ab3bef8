import { describe, expect, it } from "vitest";
import { ApiClient } from "../src/api/client";
import { ApiError } from "../src/api/errors";
import { LocalTokenStore, MemoryTokenStore } from "../src/api/tokens";
import { jsonResponse, makeTokens, makeUser } from "./fakes";

interface Call { method: string; url: string; auth: string | null; body: unknown }

function fakeServer(handler: (c: Call) => Response | Promise<Response>) {
  const calls: Call[] = [];
  const fetch = async (url: string, init?: RequestInit) => {
    const headers = (init?.headers ?? {}) as Record<string, string>;
    const c: Call = { method: init?.method ?? "GET", url, auth: headers.Authorization ?? null, body: init?.body ? JSON.parse(String(init.body)) : undefined };
    calls.push(c);
    return handler(c);
  };
  return { calls, fetch };
}

const noLock = <T,>(_: string, fn: () => Promise<T>) => fn();

describe("ApiClient", () => {
  it("stores tokens on login and sends the bearer token", async () => {
    const srv = fakeServer((c) => {
      if (c.url.endsWith("/auth/login")) return jsonResponse(200, makeTokens(1));
      return jsonResponse(200, makeUser(1));
    });
    const tokens = new MemoryTokenStore();
    const api = new ApiClient({ tokens, fetch: srv.fetch, lock: noLock });
    await api.login("alice", "secret123");
    expect(srv.calls[0].body).toEqual({ username: "alice", password: "secret123", device: "web" });
    await api.login("alice", "secret123", "web", "Firefox on Linux");
    expect(srv.calls[1].body).toEqual({ username: "alice", password: "secret123", device: "web", device_name: "Firefox on Linux" });
    expect(tokens.refresh()).toBe("r1");
    await api.me();
    expect(srv.calls[2]).toMatchObject({ method: "GET", url: "/api/v1/users/me", auth: "Bearer a1" });
  });

  it("refreshes once on a 401 and retries with the new access token", async () => {
    let n = 1;
    const srv = fakeServer((c) => {
      if (c.url.endsWith("/auth/refresh")) {
        expect(c.body).toEqual({ refresh_token: `r${n}` });
        n++;
        return jsonResponse(200, makeTokens(n));
      }
      if (c.auth === "Bearer a1") return jsonResponse(401, { error: { code: "unauthorized", message: "expired" } });
      return jsonResponse(200, { conversations: [] });
    });
    const tokens = new MemoryTokenStore();
    tokens.save(makeTokens(1));
    const api = new ApiClient({ tokens, fetch: srv.fetch, lock: noLock });
    const res = await api.conversations();
    expect(res).toEqual({ conversations: [] });
    expect(srv.calls.map((c) => `${c.method} ${c.url} ${c.auth}`)).toEqual([
      "GET /api/v1/conversations Bearer a1",
      "POST /api/v1/auth/refresh null",
      "GET /api/v1/conversations Bearer a2",
    ]);
    expect(tokens.refresh()).toBe("r2"); // rotated
  });

  it("uses one refresh for many requests failing at once (never reuses a rotated refresh token)", async () => {
    let refreshes = 0;
    const srv = fakeServer(async (c) => {
      if (c.url.endsWith("/auth/refresh")) {
        refreshes++;
        await new Promise((r) => setTimeout(r, 5));
        return jsonResponse(200, makeTokens(2));
      }
      if (c.auth === "Bearer a1") return jsonResponse(401, { error: { code: "unauthorized", message: "expired" } });
      return jsonResponse(200, makeUser(1));
    });
    const tokens = new MemoryTokenStore();
    tokens.save(makeTokens(1));
    const api = new ApiClient({ tokens, fetch: srv.fetch, lock: noLock });
    await Promise.all([api.me(), api.me(), api.me(), api.user(3)]);
    expect(refreshes).toBe(1);
  });

  it("does not spend the refresh token when another tab already rotated it", async () => {
    const storage = new Map<string, string>();
    const ls = {
      getItem: (k: string) => storage.get(k) ?? null,
      setItem: (k: string, v: string) => void storage.set(k, v),
      removeItem: (k: string) => void storage.delete(k),
    } as unknown as Storage;
    const tabA = new LocalTokenStore(ls);
    tabA.save(makeTokens(1));
    let refreshes = 0;
    const srv = fakeServer((c) => {
      if (c.url.endsWith("/auth/refresh")) { refreshes++; return jsonResponse(200, makeTokens(9)); }
      if (c.auth === "Bearer a1") return jsonResponse(401, { error: { code: "unauthorized", message: "expired" } });
      return jsonResponse(200, makeUser(1));
    });
    const api = new ApiClient({ tokens: tabA, fetch: srv.fetch, lock: noLock });
    // "tab B" rotates while tab A's request is in flight
    const tabB = new LocalTokenStore(ls);
    const origFetch = srv.fetch;
    let first = true;
    const api2 = new ApiClient({
      tokens: tabA, lock: noLock,
      fetch: async (u, i) => {
        const r = await origFetch(u, i);
        if (first) { first = false; tabB.save(makeTokens(2)); }
        return r;
      },
    });
    void api;
    await api2.me();
    expect(refreshes).toBe(0);
    expect(srv.calls.at(-1)!.auth).toBe("Bearer a2");
  });

  it("ends the session when the refresh token is refused", async () => {
    let ended = 0;
    const srv = fakeServer((c) => {
      if (c.url.endsWith("/auth/refresh")) return jsonResponse(401, { error: { code: "invalid_refresh_token", message: "no" } });
      return jsonResponse(401, { error: { code: "unauthorized", message: "expired" } });
    });
    const tokens = new MemoryTokenStore();
    tokens.save(makeTokens(1));
    const api = new ApiClient({ tokens, fetch: srv.fetch, lock: noLock, onSessionEnded: () => ended++ });
    await expect(api.me()).rejects.toMatchObject({ status: 401, code: "unauthorized" });
    expect(ended).toBe(1);
    expect(tokens.access()).toBeNull();
  });

  it("throws a typed ApiError with the contract's code and message", async () => {
    const srv = fakeServer(() => jsonResponse(409, { error: { code: "username_taken", message: "taken" } }));
    const api = new ApiClient({ tokens: new MemoryTokenStore(), fetch: srv.fetch, lock: noLock });
    const err = await api.register("bob", "password1").catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 409, code: "username_taken", message: "taken" });
  });

  it("reports network failures as ApiError with status 0 and does not refresh on login failures", async () => {
    const api = new ApiClient({ tokens: new MemoryTokenStore(), fetch: async () => { throw new TypeError("Failed to fetch"); }, lock: noLock });
    const err = await api.me().catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.isNetwork).toBe(true);
    const srv = fakeServer(() => jsonResponse(401, { error: { code: "wrong_password", message: "bad" } }));
    const api2 = new ApiClient({ tokens: new MemoryTokenStore(), fetch: srv.fetch, lock: noLock });
    await expect(api2.login("a", "b")).rejects.toMatchObject({ code: "wrong_password" });
    expect(srv.calls.length).toBe(1);
  });

  it("builds paging queries by seq", async () => {
    const srv = fakeServer(() => jsonResponse(200, { messages: [], has_more: false }));
    const tokens = new MemoryTokenStore();
    tokens.save(makeTokens(1));
    const api = new ApiClient({ tokens, fetch: srv.fetch, lock: noLock });
    await api.messagesBefore(7, 120, 50);
    await api.messagesAfter(7, 130, 100);
    expect(srv.calls.map((c) => c.url)).toEqual([
      "/api/v1/conversations/7/messages?before=120&limit=50",
      "/api/v1/conversations/7/messages?after=130&limit=100",
    ]);
  });
});
