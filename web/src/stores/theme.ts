import { defineStore } from "pinia";
import { ref } from "vue";
import { followTheme, loadThemeChoice, saveThemeChoice, type ThemeChoice } from "../lib/theme";

/** The theme picked in Profile & settings, saved and applied to the page. */
export const useThemeStore = defineStore("theme", () => {
  const choice = ref<ThemeChoice>(loadThemeChoice());
  let follower: ReturnType<typeof followTheme> | null = null;

  /** Apply the choice now and follow the system (and other tabs) from here on. */
  function start() {
    follower ??= followTheme(() => choice.value, (c) => {
      choice.value = c;
      follower?.refresh();
    });
  }
  function set(c: ThemeChoice) {
    choice.value = c;
    saveThemeChoice(c);
    follower?.refresh();
  }

  return { choice, start, set };
});
