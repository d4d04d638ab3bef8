import { defineStore } from "pinia";
import { ref } from "vue";
import { markHidden } from "../lib/hidden";
import { services } from "../services";
import { useConversationsStore } from "./conversations";
import { useMessagesStore } from "./messages";

/**
 * Delete for me. Hidden messages stay in their window at their seq, marked `hidden`; this store
 * keeps, per loaded conversation, the last `hidden_change` applied, so that a device that was
 * away asks only for what it missed.
 */
export const useHiddenStore = defineStore("hidden", () => {
  const api = () => services().api;
  /** hiddenChange[cid]: the last change of mine applied to the loaded window. */
  const seen: Record<number, number> = {};
  /** Bumped per conversation when messages in its window were hidden (the rows are rebuilt). */
  const epoch = ref<Record<number, number>>({});

  /** Mark these messages hidden in the loaded window, if any. */
  function apply(cid: number, ids: number[], change?: number) {
    const w = useMessagesStore().windows[cid];
    if (change !== undefined) seen[cid] = Math.max(seen[cid] ?? 0, change);
    if (w && markHidden(w.items, ids) > 0) epoch.value[cid] = (epoch.value[cid] ?? 0) + 1;
    const c = useConversationsStore().byId[cid];
    if (c && change !== undefined) c.hidden_change = Math.max(c.hidden_change ?? 0, change);
    if (c?.last_message && ids.includes(c.last_message.id)) c.last_message = { ...c.last_message, hidden: true, body: {} };
  }

  /** A window was loaded: it shows what was hidden up to the conversation's change now. */
  function track(cid: number) {
    seen[cid] ??= useConversationsStore().byId[cid]?.hidden_change ?? 0;
  }

  async function hide(cid: number, ids: number[]) {
    const { hidden_change } = await api().hide(cid, ids);
    apply(cid, ids, hidden_change);
  }

  /** After a reconnect: fetch what was hidden meanwhile on my other devices, for loaded windows. */
  async function catchUp() {
    const convs = useConversationsStore();
    const jobs: Promise<void>[] = [];
    for (const key of Object.keys(useMessagesStore().windows)) {
      const cid = Number(key);
      const now = convs.byId[cid]?.hidden_change ?? 0;
      if (seen[cid] === undefined) { seen[cid] = now; continue; }
      if (now > seen[cid]) jobs.push(pull(cid));
    }
    await Promise.all(jobs);
  }

  async function pull(cid: number) {
    for (let i = 0; i < 20; i++) {
      const page = await api().hidden(cid, seen[cid] ?? 0);
      apply(cid, page.message_ids, page.hidden_change);
      if (!page.has_more) return;
    }
  }

  function reset() {
    for (const k of Object.keys(seen)) delete seen[Number(k)];
    epoch.value = {};
  }

  return { epoch, apply, track, hide, catchUp, reset };
});
