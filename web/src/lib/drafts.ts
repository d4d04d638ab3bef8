/**
 * Unsent text per conversation, kept in localStorage per user so that it survives leaving the
 * chat (Contacts, Me), a reload, or closing the tab. Sending a message clears its draft.
 */

const PREFIX = "pigeon.draft.";

const keyOf = (userId: number, conversationId: number) => `${PREFIX}${userId}.${conversationId}`;

function storage(): Storage | null {
  try {
    return typeof localStorage !== "undefined" ? localStorage : null;
  } catch {
    return null; // storage blocked by the browser's settings
  }
}

export function loadDraft(userId: number | null, conversationId: number): string {
  if (userId === null) return "";
  return storage()?.getItem(keyOf(userId, conversationId)) ?? "";
}

/** Save the text as the conversation's draft; blank text removes it. */
export function saveDraft(userId: number | null, conversationId: number, text: string): void {
  const s = storage();
  if (userId === null || !s) return;
  try {
    if (text.trim()) s.setItem(keyOf(userId, conversationId), text);
    else s.removeItem(keyOf(userId, conversationId));
  } catch {
    /* storage full: the draft lives only in the message box */
  }
}

export function clearDraft(userId: number | null, conversationId: number): void {
  saveDraft(userId, conversationId, "");
}
