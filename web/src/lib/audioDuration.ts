/**
 * How long a voice clip is. A message's `duration_ms` is what the sender measured; below
 * half a second it is a placeholder (it would read 0:00), and then the clip's own metadata
 * is asked instead.
 */
export const MIN_TRUSTED_DURATION_MS = 500;

/** The duration a message body states, or null when it is missing or a placeholder. */
export function statedDuration(ms: unknown): number | null {
  const n = Number(ms);
  return Number.isFinite(n) && n >= MIN_TRUSTED_DURATION_MS ? n : null;
}

/** The parts of an `<audio>` element the probe uses (so tests can hand in a fake). */
export type MediaLike = Pick<HTMLMediaElement, "duration" | "readyState" | "currentTime" | "addEventListener" | "removeEventListener">;

/**
 * The clip's length in ms from its `<audio>` element (with `preload="metadata"`), or null if
 * the browser cannot tell within `timeoutMs`. WebM written by MediaRecorder has no duration in
 * its header, so `duration` is Infinity after `loadedmetadata`; seeking far past the end makes
 * the browser scan the file and report the real duration, after which the element is put back
 * at the start.
 */
export function probeDuration(audio: MediaLike, timeoutMs = 8000): Promise<number | null> {
  return new Promise((resolve) => {
    let done = false;
    let seeking = false;
    const known = () => Number.isFinite(audio.duration) && audio.duration > 0;
    const finish = (ms: number | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      audio.removeEventListener("loadedmetadata", onMetadata);
      audio.removeEventListener("durationchange", onChange);
      audio.removeEventListener("timeupdate", onChange);
      if (seeking) audio.currentTime = 0;
      resolve(ms === null ? null : Math.round(ms));
    };
    const onChange = () => {
      if (known()) finish(audio.duration * 1000);
    };
    const onMetadata = () => {
      if (known()) return finish(audio.duration * 1000);
      audio.addEventListener("durationchange", onChange);
      audio.addEventListener("timeupdate", onChange);
      seeking = true;
      audio.currentTime = Number.MAX_SAFE_INTEGER;
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    if (audio.readyState >= 1) onMetadata();
    else audio.addEventListener("loadedmetadata", onMetadata);
  });
}
