import { defineStore } from "pinia";
import { ref } from "vue";
import type { ConnState } from "../ws/client";

export interface Toast { id: number; text: string; kind: "error" | "info" }

const SETTINGS_KEY = "pigeon.settings";

interface Settings { notify: boolean; sound: boolean }

function loadSettings(): Settings {
  try {
    const s = JSON.parse(localStorage.getItem(SETTINGS_KEY) || "{}");
    return { notify: !!s.notify, sound: s.sound !== false };
  } catch {
    return { notify: false, sound: true };
  }
}

export const useUiStore = defineStore("ui", () => {
  const conn = ref<ConnState>("idle");
  const retryAt = ref<number | null>(null);
  const everOnline = ref(false);
  const kicked = ref<string | null>(null);
  const toasts = ref<Toast[]>([]);
  const settings = ref<Settings>(loadSettings());
  const visible = ref(typeof document === "undefined" ? true : document.visibilityState !== "hidden");
  /** Announced to screen readers (aria-live). */
  const announcement = ref("");
  let toastId = 0;

  function toast(text: string, kind: Toast["kind"] = "error", ms = 4500) {
    const id = ++toastId;
    toasts.value.push({ id, text, kind });
    if (toasts.value.length > 4) toasts.value.shift();
    setTimeout(() => dismiss(id), ms);
  }
  function dismiss(id: number) {
    toasts.value = toasts.value.filter((t) => t.id !== id);
  }
  function saveSettings(patch: Partial<Settings>) {
    settings.value = { ...settings.value, ...patch };
    try { localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings.value)); } catch { /* ignore */ }
  }
  function announce(text: string) {
    announcement.value = "";
    setTimeout(() => (announcement.value = text), 30);
  }

  return { conn, retryAt, everOnline, kicked, toasts, settings, visible, announcement, toast, dismiss, saveSettings, announce };
});
