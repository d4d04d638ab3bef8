import type { Message, User } from "../api/types";
import { formatDuration } from "./attachments";

const PALETTE = ["#e8590c", "#2f9e44", "#1971c2", "#9c36b5", "#c2255c", "#0c8599", "#5f3dc4", "#e67700", "#087f5b", "#d6336c"];

export function avatarColor(seed: string | number): string {
  const s = String(seed);
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
  return PALETTE[h % PALETTE.length];
}

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  if (!parts.length) return "?";
  const chars = parts.length > 1 ? [...parts[0]][0] + [...parts[1]][0] : [...parts[0]][0];
  return chars.toUpperCase();
}

export function userName(u: Pick<User, "nickname" | "username"> | null | undefined): string {
  if (!u) return "Unknown";
  return u.nickname?.trim() || u.username;
}

function sameDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/**
 * Intl formatters are expensive to build (a locale lookup each time) and cheap to use, and a
 * long chat formats thousands of times: build each one once and keep it.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(name: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  let f = formatters.get(name);
  if (!f) {
    f = new Intl.DateTimeFormat(undefined, options);
    formatters.set(name, f);
  }
  return f;
}
const clock = () => formatter("clock", { hour: "2-digit", minute: "2-digit" });
const weekday = () => formatter("weekday", { weekday: "short" });
const shortDate = () => formatter("date", {});
const longDate = () => formatter("day", { weekday: "long", year: "numeric", month: "long", day: "numeric" });

/** Short time for the conversation list: "14:05", "Yesterday", "Mon", "12/03/2025". */
export function shortTime(ts: number, now = Date.now()): string {
  if (!ts) return "";
  const d = new Date(ts);
  const n = new Date(now);
  if (sameDay(d, n)) return clock().format(d);
  const y = new Date(now - 86_400_000);
  if (sameDay(d, y)) return "Yesterday";
  if (now - ts < 6 * 86_400_000) return weekday().format(d);
  return shortDate().format(d);
}

function hhmm(d: Date): string {
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/** "just now", "5 min ago", "today at 14:02", "yesterday at 09:15", "Mon at 18:40", "3/12/2025". */
export function lastSeenAgo(ts: number, now = Date.now()): string {
  const ago = now - ts;
  if (ago < 60_000) return "just now";
  if (ago < 3_600_000) return `${Math.floor(ago / 60_000)} min ago`;
  const d = new Date(ts);
  const n = new Date(now);
  if (sameDay(d, n)) return `today at ${hhmm(d)}`;
  const y = new Date(n.getFullYear(), n.getMonth(), n.getDate() - 1);
  if (sameDay(d, y)) return `yesterday at ${hhmm(d)}`;
  if (ago < 6 * 86_400_000) return `${d.toLocaleDateString("en", { weekday: "short" })} at ${hhmm(d)}`;
  return d.toLocaleDateString();
}

/** Text for a friend's status: live, last seen, or not known while this client is not connected. */
export function presenceLine(p: { online?: boolean; last_seen?: number | null } | undefined, known: boolean, now = Date.now()): string {
  if (!known) return "Connecting… — status may be out of date";
  if (p?.online) return "online";
  if (p?.last_seen) return `last seen ${lastSeenAgo(p.last_seen, now)}`;
  return "offline";
}

export function clockTime(ts: number): string {
  return clock().format(ts);
}

export function dayLabel(ts: number, now = Date.now()): string {
  const d = new Date(ts);
  const n = new Date(now);
  if (sameDay(d, n)) return "Today";
  if (sameDay(d, new Date(now - 86_400_000))) return "Yesterday";
  return longDate().format(d);
}

export function dayKey(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

export function formatSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** One-line preview of a message for the conversation list and notifications. */
export function preview(m: Message | null | undefined, nameOf: (id: number | null) => string, me: number | null): string {
  if (!m) return "";
  if (m.kind === "recall") {
    const by = (m.body as { by?: number }).by ?? m.sender_id;
    return by === me ? "You recalled a message" : `${nameOf(by)} recalled a message`;
  }
  if (m.recalled) return "Message recalled";
  if (m.hidden) return "You deleted this message";
  const b = m.body as Record<string, unknown>;
  switch (m.kind) {
    case "text": return String(b.text ?? "");
    case "image": return "[Image]";
    case "file": return `[File] ${String(b.name ?? "")}`;
    case "voice": return `[Voice] ${formatDuration(b.duration_ms)}`;
    case "location": return `[Location] ${String(b.label || b.address || "")}`.trim();
    case "contact": return `[Contact] ${String(b.nickname || b.username || "")}`.trim();
    case "system": return String(b.tip ?? "");
    default: return `[${m.kind}]`;
  }
}

/** When a device was last active, for the device list: "just now", "5 min ago", "Yesterday". */
export function lastActive(ts: number, now = Date.now()): string {
  const ago = now - ts;
  if (ago < 60_000) return "just now";
  if (ago < 3_600_000) return `${Math.floor(ago / 60_000)} min ago`;
  return shortTime(ts, now);
}

/** A map of a shared location (OpenStreetMap, which needs no key), or null for bad coordinates. */
export function placeUrl(latitude: unknown, longitude: unknown): string | null {
  const lat = Number(latitude);
  const lon = Number(longitude);
  if (!Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
  return `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`;
}
