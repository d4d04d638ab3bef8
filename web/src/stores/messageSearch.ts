import { defineStore } from "pinia";
import { ref } from "vue";
import type { SearchHit } from "../api/types";
import { ApiError } from "../api/errors";
import { services } from "../services";

/** Full-text search of the messages I may see, for the sidebar's search box. */
export const useMessageSearchStore = defineStore("messageSearch", () => {
  const api = () => services().api;
  const query = ref("");
  const hits = ref<SearchHit[]>([]);
  const nextCursor = ref<string | null>(null);
  const loading = ref(false);
  const error = ref<string | null>(null);
  // Typing fires a search per pause: only the answer to the latest one is shown.
  let latest = 0;

  async function search(q: string) {
    const text = q.trim();
    const ticket = ++latest;
    query.value = text;
    hits.value = [];
    nextCursor.value = null;
    error.value = null;
    if (!text) { loading.value = false; return; }
    loading.value = true;
    await fetchPage(ticket, text, null);
  }

  async function more() {
    if (!nextCursor.value || loading.value) return;
    loading.value = true;
    await fetchPage(latest, query.value, nextCursor.value);
  }

  async function fetchPage(ticket: number, q: string, cursor: string | null) {
    try {
      const page = await api().searchMessages(q, { cursor });
      if (ticket !== latest) return;
      hits.value = [...hits.value, ...page.hits];
      nextCursor.value = page.next_cursor;
    } catch (e) {
      if (ticket !== latest) return;
      error.value = e instanceof ApiError ? e.message : "Search failed";
    } finally {
      if (ticket === latest) loading.value = false;
    }
  }

  return { query, hits, nextCursor, loading, error, search, more };
});
