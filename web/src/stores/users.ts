import { defineStore } from "pinia";
import { ref } from "vue";
import type { User } from "../api/types";
import { services } from "../services";

/** How many ids one `GET /users?ids=` may ask for (the server's limit). */
export const LOOKUP_BATCH = 100;
/** A profile older than this is fetched again the next time it is shown (Pigeon sends no profile events). */
export const PROFILE_TTL_MS = 10 * 60_000;

/**
 * Profiles of everyone the client shows by name, friends or not (group members met in a chat).
 * Asking for unknown ids never fetches at once: the ids asked for in one tick are collected and
 * fetched together in batches of 100, an id already on its way is not asked for again, and an id
 * the server does not know is remembered as missing so it is not asked for in a loop. Profiles
 * met elsewhere (friend list, member lists, conversation peers) are put in as they arrive.
 */
export const useUsersStore = defineStore("users", () => {
  const byId = ref<Record<number, User>>({});
  const fetchedAt: Record<number, number> = {};
  const inFlight = new Map<number, Promise<void>>();
  const missing = new Set<number>();
  let queued = new Set<number>();
  let flush: Promise<void> | null = null;

  function put(users: Iterable<User | null | undefined>, now = Date.now()) {
    for (const u of users) {
      if (!u || typeof u.id !== "number") continue;
      byId.value[u.id] = u;
      fetchedAt[u.id] = now;
      missing.delete(u.id);
    }
  }

  function stale(id: number, now: number): boolean {
    return !byId.value[id] || now - (fetchedAt[id] ?? 0) > PROFILE_TTL_MS;
  }

  /** Fetch the profiles of these ids that are unknown or stale; resolves when they are in. */
  function ensure(ids: Iterable<number>, now = Date.now()): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const id of ids) {
      if (!(id > 0) || missing.has(id)) continue;
      const running = inFlight.get(id);
      if (running) { waits.push(running); continue; }
      if (!stale(id, now)) continue;
      queued.add(id);
    }
    if (queued.size) waits.push(scheduleFlush());
    return Promise.all(waits).then(() => undefined);
  }

  function scheduleFlush(): Promise<void> {
    if (flush) return flush;
    flush = Promise.resolve().then(async () => {
      const ids = [...queued];
      queued = new Set();
      flush = null;
      const batches: Promise<void>[] = [];
      for (let i = 0; i < ids.length; i += LOOKUP_BATCH) {
        const batch = ids.slice(i, i + LOOKUP_BATCH);
        const p = fetchBatch(batch);
        for (const id of batch) inFlight.set(id, p);
        batches.push(p);
      }
      await Promise.all(batches);
    });
    return flush;
  }

  async function fetchBatch(ids: number[]) {
    try {
      const { users } = await services().api.usersByIds(ids);
      put(users);
      const found = new Set(users.map((u) => u.id));
      for (const id of ids) if (!found.has(id)) missing.add(id);
    } catch {
      /* shown by id for now; asked again next time */
    } finally {
      for (const id of ids) inFlight.delete(id);
    }
  }

  /** The cached profile, asking for it (batched, in the background) when unknown or stale. */
  function get(id: number | null | undefined): User | undefined {
    if (id == null) return undefined;
    if (stale(id, Date.now())) void ensure([id]);
    return byId.value[id];
  }

  function reset() {
    byId.value = {};
    for (const k of Object.keys(fetchedAt)) delete fetchedAt[Number(k)];
    inFlight.clear(); missing.clear(); queued = new Set(); flush = null;
  }

  return { byId, put, ensure, get, reset };
});
