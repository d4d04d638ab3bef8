import { defineStore } from "pinia";
import { computed, ref } from "vue";
import type { PresenceInfo } from "../api/types";
import { presenceLine } from "../lib/format";
import { services } from "../services";
import { useUiStore } from "./ui";

/**
 * Who is online. Two sources feed it: `presence` pushes and query answers (`/presence/query`,
 * the friend list). Around reconnects they can disagree, so every write carries a stamp taken
 * from one counter: a push is stamped when it arrives, a query when it is sent. A write only
 * lands if its stamp is newer than the one that set the current value, so a push always wins
 * over the answer to a query that was already under way, and an old answer never overwrites a
 * newer one.
 *
 * What is held is only as fresh as the connection: while this client is not connected, nobody's
 * status is known (`known` is false), and views say so instead of showing everyone offline.
 */
export const usePresenceStore = defineStore("presence", () => {
  const map = ref<Record<number, PresenceInfo>>({});
  const stamps: Record<number, number> = {};
  let clock = 0;

  function write(userId: number, stamp: number, online: boolean, devices: string[], lastSeen?: number | null): boolean {
    if ((stamps[userId] ?? 0) > stamp) return false;
    stamps[userId] = stamp;
    // An answer without last_seen (an older server) keeps the one we had.
    const last_seen = online ? null : lastSeen ?? map.value[userId]?.last_seen ?? null;
    map.value[userId] = { online, devices, last_seen };
    return true;
  }
  /** A `presence` push: newer than anything that arrived or was asked before it. */
  function set(userId: number, online: boolean, devices: string[] = [], lastSeen?: number | null) {
    write(userId, ++clock, online, devices, lastSeen);
  }
  /** Take a stamp before asking the server; hand it to `applyQuery` with the answer. */
  function beginQuery(): number {
    return ++clock;
  }
  /** Apply a query's answer, except for people a push (or a newer answer) has updated since. */
  function applyQuery(stamp: number, answer: Record<string | number, { online?: boolean; devices?: string[]; last_seen?: number | null } | undefined>) {
    for (const [id, p] of Object.entries(answer ?? {})) {
      if (p) write(Number(id), stamp, !!p.online, p.devices ?? [], p.last_seen);
    }
  }
  function isOnline(userId: number | null | undefined): boolean {
    return userId != null && !!map.value[userId]?.online;
  }
  /** True while this client is connected, so what is held is live. */
  const known = computed(() => useUiStore().conn === "online");
  /** For an avatar's dot: online or not, or null (no dot) while that is not known. */
  function dot(userId: number | null | undefined): boolean | null {
    return known.value ? isOnline(userId) : null;
  }
  /** "online", "last seen 5 min ago", "offline", or why it is not known right now. */
  function line(userId: number | null | undefined, now = Date.now()): string {
    return presenceLine(userId != null ? map.value[userId] : undefined, known.value, now);
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
  return { map, set, beginQuery, applyQuery, isOnline, known, dot, line, query, reset };
});
