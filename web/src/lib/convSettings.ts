import type { Conversation, ConversationSettings } from "../api/types";

/** What a conversation without settings from the server behaves like. */
export const DEFAULT_SETTINGS: ConversationSettings = { muted_until: 0, count_when_muted: true, pinned: false, archived: false };

export function settingsOf(c: Conversation): ConversationSettings {
  return c.settings ?? DEFAULT_SETTINGS;
}

export function isMuted(c: Conversation, now = Date.now()): boolean {
  return settingsOf(c).muted_until > now;
}

/** Whether a new message here may beep and raise a desktop notification: not while muted. */
export function alerts(c: Conversation | undefined, now = Date.now()): boolean {
  return !c || !isMuted(c, now);
}

function activity(c: Conversation): number {
  return c.last_message?.ts ?? 0;
}

/** The list order: pinned conversations first, then by latest activity (newest first). */
export function listOrder(list: readonly Conversation[]): Conversation[] {
  return [...list].sort((a, b) =>
    Number(settingsOf(b).pinned) - Number(settingsOf(a).pinned) || activity(b) - activity(a) || b.id - a.id);
}

/** The main list and the archived ones, each in list order. */
export function splitArchived(list: readonly Conversation[]): { main: Conversation[]; archived: Conversation[] } {
  const ordered = listOrder(list);
  return { main: ordered.filter((c) => !settingsOf(c).archived), archived: ordered.filter((c) => settingsOf(c).archived) };
}

/** The total for the tab and title badges: a muted conversation counts only if it asked to. */
export function unreadTotal(list: readonly Conversation[], now = Date.now()): number {
  return list.reduce((n, c) => (c.unread > 0 && (!isMuted(c, now) || settingsOf(c).count_when_muted) ? n + c.unread : n), 0);
}

/** Mute choices of the list's menu, as `muted_until` from now. */
export const MUTE_FOR: ReadonlyArray<{ label: string; ms: number | null }> = [
  { label: "1 hour", ms: 3_600_000 },
  { label: "8 hours", ms: 8 * 3_600_000 },
  { label: "1 week", ms: 7 * 86_400_000 },
  { label: "Until I unmute", ms: null },
];
