import type { Upload, UploadKind } from "../api/types";

/** The contract's upload limit (25 MiB); larger files are refused before they are sent. */
export const MAX_UPLOAD_BYTES = 25 * 1024 * 1024;
/** Image types Pigeon decodes; anything else is sent as a file. */
export const IMAGE_TYPES: ReadonlySet<string> = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
/** Pigeon accepts voice clips up to 10 minutes. */
export const MAX_VOICE_MS = 10 * 60 * 1000;

/** Whether a picked, dropped or pasted file goes out as an image or as a file. */
export function kindForFile(file: { type: string }): "image" | "file" {
  return IMAGE_TYPES.has(file.type.toLowerCase()) ? "image" : "file";
}

/** A reason not to upload this file at all, or null. */
export function refuseUpload(file: { size: number }): string | null {
  if (file.size === 0) return "That file is empty.";
  if (file.size > MAX_UPLOAD_BYTES) return `That file is too large to send (${formatBytes(file.size)}; the limit is 25 MB).`;
  return null;
}

/** The message body for an uploaded file, by message kind. */
export function bodyFor(kind: UploadKind, up: Upload, extra: { duration_ms?: number } = {}): Record<string, unknown> {
  switch (kind) {
    case "image":
      return { url: up.url, thumb_url: up.thumb_url ?? up.url, width: up.width ?? 1, height: up.height ?? 1, size: up.size };
    case "voice":
      return { url: up.url, duration_ms: Math.min(MAX_VOICE_MS, Math.max(1, Math.round(extra.duration_ms ?? 1))), size: up.size };
    default:
      return { url: up.url, name: up.name, size: up.size, mime: up.mime };
  }
}

/**
 * A URL from a message body that is safe to put in src/href: same-origin paths ("/files/…") and
 * http(s) URLs. Anything else (javascript:, data:, protocol-relative "//host") gives null.
 */
export function safeMediaUrl(u: unknown): string | null {
  if (typeof u !== "string" || !u) return null;
  if (u.startsWith("/") && !u.startsWith("//") && !u.startsWith("/\\")) return u;
  if (/^https?:\/\//i.test(u)) return u;
  return null;
}

/** The size to show an image at: its own, scaled down to fit a `max` box, never enlarged. */
export function fitBox(width: unknown, height: unknown, max = 260, min = 48): { width: number; height: number } {
  const w = Number(width) > 0 ? Number(width) : max;
  const h = Number(height) > 0 ? Number(height) : max;
  const scale = Math.min(1, max / w, max / h);
  return { width: Math.max(Math.round(w * scale), Math.min(min, w)), height: Math.max(Math.round(h * scale), Math.min(min, h)) };
}

/** "0:05", "1:30", "12:04". */
export function formatDuration(ms: unknown): string {
  const total = Math.max(0, Math.round((Number(ms) || 0) / 1000));
  const m = Math.floor(total / 60);
  const s = total % 60;
  return `${m}:${String(s).padStart(2, "0")}`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Errors after which sending the same file again cannot help. */
export function isPermanentUploadError(code: string | undefined): boolean {
  return code === "invalid_image" || code === "payload_too_large" || code === "invalid_request" || code === "too_large";
}

/** The width and height of a local image file, or null if the browser cannot read it. */
export async function imageSize(file: Blob): Promise<{ width: number; height: number } | null> {
  if (typeof createImageBitmap === "function") {
    try {
      const bmp = await createImageBitmap(file);
      const size = { width: bmp.width, height: bmp.height };
      bmp.close();
      return size;
    } catch { /* fall through */ }
  }
  if (typeof Image === "undefined" || typeof URL.createObjectURL !== "function") return null;
  const url = URL.createObjectURL(file);
  try {
    return await new Promise((resolve) => {
      const img = new Image();
      img.onload = () => resolve({ width: img.naturalWidth, height: img.naturalHeight });
      img.onerror = () => resolve(null);
      img.src = url;
    });
  } finally {
    URL.revokeObjectURL(url);
  }
}
