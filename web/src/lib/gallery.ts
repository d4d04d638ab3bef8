import type { MediaKind, MediaPage, Message } from "../api/types";

/** The two views of a conversation's gallery and the message kinds each lists. */
export const GALLERY_TABS: Record<"media" | "files", MediaKind[]> = {
  media: ["image"],
  files: ["file", "voice"],
};

/**
 * Pages of a gallery, newest first: each `more()` asks for the page before the oldest item
 * held; items are kept once each (by seq) and in order, whatever pages overlap; a second
 * call while one is under way waits for it instead of asking again.
 */
export class MediaPager {
  items: Message[] = [];
  hasMore = true;
  error = "";
  private running: Promise<void> | null = null;

  constructor(private readonly fetchPage: (before: number | undefined) => Promise<MediaPage>) {}

  get loading(): boolean {
    return this.running !== null;
  }

  more(): Promise<void> {
    if (!this.hasMore) return Promise.resolve();
    this.running ??= this.load().finally(() => (this.running = null));
    return this.running;
  }

  /** Forget a message that was recalled while the gallery was open. */
  drop(messageId: number): void {
    this.items = this.items.filter((m) => m.id !== messageId);
  }

  private async load(): Promise<void> {
    const before = this.items.length ? this.items[this.items.length - 1].seq : undefined;
    try {
      const page = await this.fetchPage(before);
      const seen = new Set(this.items.map((m) => m.seq));
      const fresh = page.items.filter((m) => !seen.has(m.seq) && !m.recalled);
      this.items = [...this.items, ...fresh].sort((a, b) => b.seq - a.seq);
      this.hasMore = page.has_more;
      this.error = "";
    } catch (e) {
      this.error = e instanceof Error ? e.message : String(e);
      throw e;
    }
  }
}
