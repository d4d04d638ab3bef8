import { mount } from "@vue/test-utils";
import { describe, expect, it } from "vitest";
import { defineComponent, h, nextTick, ref } from "vue";
import { useDrawerFocus } from "../src/lib/drawerFocus";

/** A panel with a heading and two buttons, using the composable like GroupPanel does. */
function panelWith(modal: boolean, escapes: string[]) {
  return defineComponent({
    setup() {
      const panel = ref<HTMLElement | null>(null);
      const heading = ref<HTMLElement | null>(null);
      useDrawerFocus(panel, heading, { modal: ref(modal), onEscape: () => escapes.push("esc") });
      return () => h("aside", { ref: panel }, [h("h3", { ref: heading, tabindex: -1 }, "Info"), h("button", { id: "a" }, "A"), h("button", { id: "b" }, "B")]);
    },
  });
}

const key = (k: string, init: KeyboardEventInit = {}) => {
  const e = new KeyboardEvent("keydown", { key: k, bubbles: true, cancelable: true, ...init });
  (document.activeElement ?? document.body).dispatchEvent(e);
  return e;
};

describe("drawer focus", () => {
  it("moves focus in on open, so Esc works at once, and gives it back on close", async () => {
    const opener = document.createElement("button");
    document.body.append(opener);
    opener.focus();
    const escapes: string[] = [];
    const w = mount(panelWith(false, escapes), { attachTo: document.body });
    await nextTick();
    expect(document.activeElement?.tagName).toBe("H3");
    key("Escape");
    expect(escapes).toEqual(["esc"]);
    w.unmount();
    expect(document.activeElement).toBe(opener);
    opener.remove();
  });

  it("leaves Esc to whatever took it first, and to a modal dialog over the panel", async () => {
    const escapes: string[] = [];
    const w = mount(panelWith(false, escapes), { attachTo: document.body });
    await nextTick();
    const taken = new KeyboardEvent("keydown", { key: "Escape", bubbles: true, cancelable: true });
    taken.preventDefault();
    window.dispatchEvent(taken);
    const viewer = document.createElement("div");
    viewer.setAttribute("aria-modal", "true");
    document.body.append(viewer);
    key("Escape");
    expect(escapes).toEqual([]);
    viewer.remove();
    key("Escape");
    expect(escapes).toEqual(["esc"]);
    w.unmount();
  });

  it("keeps Tab inside while modal", async () => {
    const w = mount(panelWith(true, []), { attachTo: document.body });
    await nextTick();
    const a = w.find("#a").element as HTMLElement;
    const b = w.find("#b").element as HTMLElement;
    // happy-dom has no layout; make the buttons count as shown
    for (const el of [a, b]) Object.defineProperty(el, "offsetParent", { get: () => document.body });
    b.focus();
    expect(key("Tab").defaultPrevented).toBe(true);
    expect(document.activeElement).toBe(a);
    expect(key("Tab", { shiftKey: true }).defaultPrevented).toBe(true);
    expect(document.activeElement).toBe(b);
    w.unmount();
  });
});
