import type { Message } from "../api/types";

/**
 * Edits and reactions change a stored message without a new seq: each takes the conversation's
 * next change number, which the message keeps as its `version`. These rules say which of two
 * copies to hold and how a reply's quote follows its original.
 */

/** Of two copies of one message, the one to keep: the higher version (the held one on a tie). */
export function newer(held: Message, other: Message): Message {
  return (other.version ?? 0) > (held.version ?? 0) ? other : held;
}

/** `m` with its quote marked recalled, if it quotes `messageId` (else `m` itself). */
export function quoteRecalled(m: Message, messageId: number): Message {
  const q = m.reply_to;
  if (!q || q.message_id !== messageId || q.recalled) return m;
  return { ...m, reply_to: { ...q, recalled: true, snippet: "" } };
}

/** `m` with its quote's snippet taken from the edited original (else `m` itself). */
export function quoteEdited(m: Message, original: Message): Message {
  const q = m.reply_to;
  if (!q || q.message_id !== original.id || original.kind !== "text") return m;
  const snippet = String((original.body as { text?: unknown }).text ?? "").slice(0, 100);
  return snippet === q.snippet ? m : { ...m, reply_to: { ...q, snippet } };
}

/** Emoji offered first when reacting. */
export const QUICK_REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🙏"] as const;
