import { RouterLinkStub, mount } from "@vue/test-utils";
import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ApiClient } from "../src/api/client";
import { ApiError } from "../src/api/errors";
import type { SearchPage } from "../src/api/types";
import MessageSearchResults from "../src/components/MessageSearchResults.vue";
import { resetServices, setServices } from "../src/services";
import { useMessageSearchStore } from "../src/stores/messageSearch";
import { msg } from "./fakes";

type Call = { q: string; cursor: string | null | undefined };

/** Answers each search when the test says so, so that answers can arrive out of order. */
class FakeSearchApi {
  calls: Call[] = [];
  pending: Array<{ resolve: (p: SearchPage) => void; reject: (e: unknown) => void }> = [];
  searchMessages(q: string, opts: { cursor?: string | null } = {}): Promise<SearchPage> {
    this.calls.push({ q, cursor: opts.cursor });
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }
}

function page(texts: string[], next: string | null = null, seq0 = 1): SearchPage {
  return {
    hits: texts.map((t, i) => ({
      message: msg(7, seq0 + i, 2, t),
      snippet: [{ text: t.slice(0, 2), match: true }, { text: t.slice(2), match: false }],
      score: 1,
    })),
    next_cursor: next,
  };
}

async function flush() {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

let api: FakeSearchApi;
beforeEach(() => {
  setActivePinia(createPinia());
  api = new FakeSearchApi();
  setServices({ api: api as unknown as ApiClient });
});
afterEach(() => resetServices());

describe("message search store", () => {
  it("shows the first page, then appends the next one by cursor", async () => {
    const store = useMessageSearchStore();
    const first = store.search("  东京 ");
    expect(store.loading).toBe(true);
    api.pending[0].resolve(page(["东京塔", "东京站"], "c1"));
    await first;
    expect(api.calls[0]).toEqual({ q: "东京", cursor: null });
    expect(store.hits.map((h) => h.message.body.text)).toEqual(["东京塔", "东京站"]);
    expect(store.nextCursor).toBe("c1");
    const more = store.more();
    api.pending[1].resolve(page(["东京湾"], null, 3));
    await more;
    expect(api.calls[1]).toEqual({ q: "东京", cursor: "c1" });
    expect(store.hits).toHaveLength(3);
    expect(store.nextCursor).toBeNull();
    expect(store.loading).toBe(false);
  });

  it("keeps only the answer to the latest query", async () => {
    const store = useMessageSearchStore();
    const old = store.search("to");
    const latest = store.search("tokyo");
    api.pending[1].resolve(page(["tokyo tower"]));
    await latest;
    api.pending[0].resolve(page(["to be or not"]));
    await old;
    expect(store.hits.map((h) => h.message.body.text)).toEqual(["tokyo tower"]);
  });

  it("clears for an empty box without asking, and shows a refusal", async () => {
    const store = useMessageSearchStore();
    await store.search("   ");
    expect(api.calls).toHaveLength(0);
    expect(store.hits).toEqual([]);
    const refused = store.search("x".repeat(101));
    api.pending[0].reject(new ApiError(422, "invalid_query", "search queries are limited to 100 characters"));
    await refused;
    expect(store.error).toBe("search queries are limited to 100 characters");
    expect(store.loading).toBe(false);
  });
});

describe("MessageSearchResults", () => {
  it("lists hits with the matches marked, links to the conversation, loads more", async () => {
    const wrapper = mount(MessageSearchResults, {
      props: { query: "会議", debounceMs: 0 },
      global: { stubs: { RouterLink: RouterLinkStub } },
    });
    await new Promise((r) => setTimeout(r, 1));
    expect(wrapper.text()).toContain("Searching");
    api.pending[0].resolve(page(["会議は午後です"], "c1"));
    await flush();
    const hits = wrapper.findAll('[data-testid="message-hit"]');
    expect(hits).toHaveLength(1);
    expect(hits[0].findAll("mark").map((m) => m.text())).toEqual(["会議"]);
    expect(hits[0].text()).toContain("会議は午後です");
    expect(wrapper.findComponent(RouterLinkStub).props("to")).toEqual({ name: "chat", params: { id: 7 } });
    await wrapper.get('[data-testid="more-message-hits"]').trigger("click");
    api.pending[1].resolve(page(["会議室"], null, 2));
    await flush();
    expect(wrapper.findAll('[data-testid="message-hit"]')).toHaveLength(2);
    expect(wrapper.find('[data-testid="more-message-hits"]').exists()).toBe(false);
  });

  it("says when nothing matches", async () => {
    const wrapper = mount(MessageSearchResults, {
      props: { query: "zzz", debounceMs: 0 },
      global: { stubs: { RouterLink: RouterLinkStub } },
    });
    await new Promise((r) => setTimeout(r, 1));
    api.pending[0].resolve(page([]));
    await flush();
    expect(wrapper.find('[data-testid="no-message-hits"]').exists()).toBe(true);
  });
});
