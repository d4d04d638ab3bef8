import { onBeforeUnmount, ref, type Ref } from "vue";

/** Whether a CSS media query matches, kept live while the calling component is mounted. */
export function useMediaQuery(query: string): Ref<boolean> {
  const mql = typeof window !== "undefined" && window.matchMedia ? window.matchMedia(query) : null;
  const matches = ref(mql?.matches ?? false);
  const update = (e: MediaQueryListEvent) => (matches.value = e.matches);
  mql?.addEventListener("change", update);
  onBeforeUnmount(() => mql?.removeEventListener("change", update));
  return matches;
}
