import { LinkifyIt } from "linkify-it";

/** A piece of a message text: plain text, or a link that is safe to put in `href`. */
export type TextPart = { text: string; href?: undefined } | { text: string; href: string };

const SAFE_SCHEMES = new Set(["http:", "https:", "mailto:"]);

/**
 * linkify-it finds links the way people write them ("see https://x.org/a." ends before the dot,
 * "(https://x.org/b)" drops the parenthesis, "example.com" and "bob@example.com" are links too).
 * Only http(s) and mailto are kept: "ftp:" and scheme-relative "//host" are switched off, and any
 * other scheme (javascript:, data:, …) is never recognised as a link at all.
 */
const linkify = new LinkifyIt().add("ftp:", null).add("//", null);

/** The URL if it parses and has a safe scheme, else null. */
export function safeHref(url: string): string | null {
  try {
    const u = new URL(url);
    return SAFE_SCHEMES.has(u.protocol) ? u.href : null;
  } catch {
    return null;
  }
}

/**
 * Splits a message text into plain text and links, for rendering as text nodes and `<a>`
 * elements (never as HTML). Concatenating the parts' `text` gives the original text back.
 */
export function linkParts(text: string): TextPart[] {
  const matches = text ? linkify.match(text) : null;
  if (!matches) return text ? [{ text }] : [];
  const parts: TextPart[] = [];
  let at = 0;
  for (const m of matches) {
    const href = safeHref(m.url);
    if (!href) continue;
    if (m.index > at) parts.push({ text: text.slice(at, m.index) });
    parts.push({ text: text.slice(m.index, m.lastIndex), href });
    at = m.lastIndex;
  }
  if (at < text.length) parts.push({ text: text.slice(at) });
  return parts;
}
