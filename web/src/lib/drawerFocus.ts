import { nextTick, onBeforeUnmount, onMounted, type Ref } from "vue";

const FOCUSABLE = 'button:not([disabled]), input:not([disabled]), textarea:not([disabled]), select:not([disabled]), a[href], [tabindex]:not([tabindex="-1"])';

/**
 * Keyboard and focus for a side panel or drawer while it is mounted: focus moves to `start`
 * when it opens (so Esc works at once), Esc anywhere calls `onEscape` (unless something else
 * already took it: a picker that called preventDefault, a modal dialog over the panel, a menu
 * outside it), Tab stays inside while `modal` is true, and focus goes back to what opened the
 * panel when it closes.
 */
export function useDrawerFocus(panel: Ref<HTMLElement | null>, start: Ref<HTMLElement | null>, opts: { modal: Ref<boolean>; onEscape: () => void }) {
  let opener: HTMLElement | null = null;

  function onKey(e: KeyboardEvent) {
    if (e.key === "Escape") {
      if (e.defaultPrevented || otherModalOpen() || inOtherMenu(e.target)) return;
      e.preventDefault();
      opts.onEscape();
    } else if (e.key === "Tab" && opts.modal.value) {
      trapFocus(e);
    }
  }
  function otherModalOpen() {
    return [...document.querySelectorAll('[aria-modal="true"]')].some((el) => el !== panel.value);
  }
  function inOtherMenu(target: EventTarget | null) {
    const menu = target instanceof Element ? target.closest('[role="menu"]') : null;
    return !!menu && !panel.value?.contains(menu);
  }
  function trapFocus(e: KeyboardEvent) {
    const items = [...(panel.value?.querySelectorAll<HTMLElement>(FOCUSABLE) ?? [])].filter((el) => el.offsetParent !== null);
    if (!items.length) return;
    const first = items[0]!;
    const last = items[items.length - 1]!;
    const active = document.activeElement;
    const inside = !!active && !!panel.value?.contains(active);
    if (e.shiftKey && (!inside || active === first || active === start.value)) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && (!inside || active === last)) { e.preventDefault(); first.focus(); }
  }

  onMounted(() => {
    opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    void nextTick(() => start.value?.focus());
    window.addEventListener("keydown", onKey);
  });
  onBeforeUnmount(() => {
    window.removeEventListener("keydown", onKey);
    const active = document.activeElement;
    // only when focus was in the panel (or fell to the page): never steal it from elsewhere
    if (opener?.isConnected && (!active || active === document.body || panel.value?.contains(active))) opener.focus();
  });
}
