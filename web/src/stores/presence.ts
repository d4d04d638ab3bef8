import { defineStore } from "pinia";
import { ref } from "vue";
import type { PresenceInfo } from "../api/types";
import { services } from "../services";

/**
 * Who is online. Two sources feed it: `presence` pushes and query answers (`/presence/query`,
 * the friend list). Around reconnects they can disagree, so every write carries a stamp taken
 * from one counter: a push is stamped when it arrives, a query when it is sent. A write only
 * lands if its stamp is newer than the one that set the current value, so a push always wins
 * over the answer to a query that was already under way, and an old answer never overwrites a
 * newer one.
 */
export const usePresenceStore = defineStore("presence", () => {
  const map = ref<Record<number, PresenceInfo>>({});
  const stamps: Record<number, number> = {};
  let clock = 0;

  function write(userId: number, stamp: number, online: boolean, devices: string[]): boolean {
    if ((stamps[userId] ?? 0) > stamp) return false;
    stamps[userId] = stamp;
    map.value[userId] = { online, devices };
    return true;
  }
  /** A `presence` push: newer than anything that arrived or was asked before it. */
  function set(userId: number, online: boolean, devices: string[] = []) {
    write(userId, ++clock, online, devices);
  }
  /** Take a stamp before asking the server; hand it to `applyQuery` with the answer. */
  function beginQuery(): number {
    return ++clock;
  }
  /** Apply a query's answer, except for people a push (or a newer answer) has updated since. */
  function applyQuery(stamp: number, answer: Record<string | number, { online?: boolean; devices?: string[] } | undefined>) {
    for (const [id, p] of Object.entries(answer ?? {})) {
      if (p) write(Number(id), stamp, !!p.online, p.devices ?? []);
    }
  }
  function isOnline(userId: number | null | undefined): boolean {
    return userId != null && !!map.value[userId]?.online;
  }
  async function query(ids: number[]) {
    const want = [...new Set(ids)].filter((id) => id > 0);
    if (!want.length) return;
    const stamp = beginQuery();
    try {
      const { presence } = await services().api.presence(want);
      applyQuery(stamp, presence ?? {});
    } catch { /* presence is best effort */ }
  }
  function reset() {
    map.value = {};
    for (const k of Object.keys(stamps)) delete stamps[Number(k)];
  }
  return { map, set, beginQuery, applyQuery, isOnline, query, reset };
});
