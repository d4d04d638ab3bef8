import { defineStore } from "pinia";
import { ref } from "vue";
import type { PresenceInfo } from "../api/types";
import { services } from "../services";

export const usePresenceStore = defineStore("presence", () => {
  const map = ref<Record<number, PresenceInfo>>({});

  function set(userId: number, online: boolean, devices: string[] = []) {
    map.value[userId] = { online, devices };
  }
  function isOnline(userId: number | null | undefined): boolean {
    return userId != null && !!map.value[userId]?.online;
  }
  async function query(ids: number[]) {
    const want = [...new Set(ids)].filter((id) => id > 0);
    if (!want.length) return;
    try {
      const { presence } = await services().api.presence(want);
      for (const [id, p] of Object.entries(presence ?? {})) set(Number(id), !!p.online, p.devices ?? []);
    } catch { /* presence is best effort */ }
  }
  function reset() { map.value = {}; }
  return { map, set, isOnline, query, reset };
});
