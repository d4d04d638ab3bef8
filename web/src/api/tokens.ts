import type { Tokens, User } from "./types";

/** Where the session's tokens live. The refresh token rotates on every use, so all tabs must share one copy. */
export interface TokenStore {
  access(): string | null;
  refresh(): string | null;
  /** Epoch ms after which the access token should be considered stale. */
  expiresAt(): number;
  user(): User | null;
  save(tokens: Tokens): void;
  setUser(user: User): void;
  clear(): void;
}

const KEY = "pigeon.session";

interface Stored {
  access_token: string;
  refresh_token: string;
  expires_at: number;
  user: User;
}

/** Tokens kept in localStorage, read fresh on every call so a rotation done by another tab is seen at once. */
export class LocalTokenStore implements TokenStore {
  constructor(private readonly storage: Storage = localStorage, private readonly key = KEY) {}

  private read(): Stored | null {
    try {
      const raw = this.storage.getItem(this.key);
      return raw ? (JSON.parse(raw) as Stored) : null;
    } catch {
      return null;
    }
  }

  access(): string | null { return this.read()?.access_token ?? null; }
  refresh(): string | null { return this.read()?.refresh_token ?? null; }
  expiresAt(): number { return this.read()?.expires_at ?? 0; }
  user(): User | null { return this.read()?.user ?? null; }

  save(t: Tokens): void {
    const s: Stored = {
      access_token: t.access_token,
      refresh_token: t.refresh_token,
      expires_at: Date.now() + Math.max(0, t.expires_in) * 1000,
      user: t.user,
    };
    this.storage.setItem(this.key, JSON.stringify(s));
  }

  setUser(user: User): void {
    const s = this.read();
    if (s) this.storage.setItem(this.key, JSON.stringify({ ...s, user }));
  }

  clear(): void { this.storage.removeItem(this.key); }
}

/** In-memory store for tests. */
export class MemoryTokenStore implements TokenStore {
  data: Stored | null = null;
  access() { return this.data?.access_token ?? null; }
  refresh() { return this.data?.refresh_token ?? null; }
  expiresAt() { return this.data?.expires_at ?? 0; }
  user() { return this.data?.user ?? null; }
  save(t: Tokens) {
    this.data = { access_token: t.access_token, refresh_token: t.refresh_token, expires_at: Date.now() + t.expires_in * 1000, user: t.user };
  }
  setUser(user: User) { if (this.data) this.data = { ...this.data, user }; }
  clear() { this.data = null; }
}

export const SESSION_STORAGE_KEY = KEY;
