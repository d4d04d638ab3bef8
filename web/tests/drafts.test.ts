import { mount } from "@vue/test-utils";
import { createPinia, setActivePinia } from "pinia";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { nextTick } from "vue";
import type { ApiClient } from "../src/api/client";
import Composer from "../src/components/Composer.vue";
import { clearDraft, loadDraft, saveDraft } from "../src/lib/drafts";
import { resetServices, setServices } from "../src/services";
import { useAuthStore } from "../src/stores/auth";
import { useMessagesStore } from "../src/stores/messages";
import { makeUser } from "./fakes";

describe("drafts", () => {
  beforeEach(() => localStorage.clear());

  it("keeps one draft per user and conversation; blank text removes it", () => {
    saveDraft(1, 5, "hello");
    saveDraft(1, 6, "other chat");
    saveDraft(2, 5, "someone else");
    expect(loadDraft(1, 5)).toBe("hello");
    expect(loadDraft(1, 6)).toBe("other chat");
    expect(loadDraft(2, 5)).toBe("someone else");
    saveDraft(1, 5, "   ");
    expect(loadDraft(1, 5)).toBe("");
    clearDraft(1, 6);
    expect(loadDraft(1, 6)).toBe("");
    expect(loadDraft(null, 5)).toBe("");
  });
});

describe("the composer's draft", () => {
  beforeEach(() => {
    localStorage.clear();
    setActivePinia(createPinia());
    useAuthStore().setUser(makeUser(1, "me"));
    const api = { sendMessage: async () => new Promise(() => undefined) } as unknown as ApiClient;
    setServices({ api, ws: null, sync: null });
  });
  afterEach(() => resetServices());

  it("survives leaving the chat and coming back, follows the conversation, and is cleared when sent", async () => {
    const first = mount(Composer, { props: { conversationId: 5, isGroup: false } });
    await first.get("textarea").setValue("not finished");
    await nextTick();
    first.unmount(); // to Contacts or Me
    const again = mount(Composer, { props: { conversationId: 5, isGroup: false } });
    expect((again.get("textarea").element as HTMLTextAreaElement).value).toBe("not finished");

    await again.setProps({ conversationId: 6 });
    expect((again.get("textarea").element as HTMLTextAreaElement).value).toBe("");
    await again.setProps({ conversationId: 5 });
    expect((again.get("textarea").element as HTMLTextAreaElement).value).toBe("not finished");

    await again.get("textarea").trigger("keydown", { key: "Enter" });
    await nextTick();
    expect(useMessagesStore().outbox[5].map((o) => o.body.text)).toEqual(["not finished"]);
    expect((again.get("textarea").element as HTMLTextAreaElement).value).toBe("");
    expect(loadDraft(1, 5)).toBe("");
    again.unmount();
  });
});
