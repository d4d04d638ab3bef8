import { defineStore } from "pinia";
import { ref } from "vue";
import type { Message, Pin } from "../api/types";
import { services } from "../services";

/** A conversation's pinned messages (latest pin first), loaded when the chat is open. */
export const usePinsStore = defineStore("pins", () => {
  const api = () => services().api;
  const byConv = ref<Record<number, Pin[]>>({});

  async function load(cid: number) {
    const { pins } = await api().pins(cid);
    byConv.value[cid] = pins;
  }

  /** A pin tip arrived: ask again, if this conversation's pins are held at all. */
  function refreshIfHeld(cid: number) {
    if (byConv.value[cid]) void load(cid).catch(() => undefined);
  }

  function isPinned(cid: number, messageId: number): boolean {
    return (byConv.value[cid] ?? []).some((p) => p.message.id === messageId);
  }

  async function setPinned(m: Message, on: boolean) {
    if (on) await api().pin(m.id); else await api().unpin(m.id);
    await load(m.conversation_id);
  }

  function reset() { byConv.value = {}; }

  return { byConv, load, refreshIfHeld, isPinned, setPinned, reset };
});

/** A tip that tells of a pin or unpin: the pins of its conversation changed. */
export function isPinTip(m: Message): boolean {
  const event = (m.body as { event?: unknown }).event;
  return m.kind === "system" && (event === "message_pinned" || event === "message_unpinned");
}
