/**
 * The colour theme: "system" follows the operating system's light or dark setting (live, as it
 * changes), "light" and "dark" fix it. The choice is kept in localStorage under THEME_KEY and
 * applied as `data-theme="light|dark"` on <html>, which styles.css keys its colours on.
 * public/theme.js applies the same choice before the first paint; keep the two in step.
 */
export type ThemeChoice = "system" | "light" | "dark";
export type Theme = "light" | "dark";

export const THEME_KEY = "pigeon.theme";
export const THEME_CHOICES: readonly ThemeChoice[] = ["system", "light", "dark"];
const DARK_QUERY = "(prefers-color-scheme: dark)";

export function isThemeChoice(v: unknown): v is ThemeChoice {
  return typeof v === "string" && (THEME_CHOICES as readonly string[]).includes(v);
}

/** The saved choice; anything unreadable or unknown is "system". */
export function loadThemeChoice(storage: Pick<Storage, "getItem"> | null = safeStorage()): ThemeChoice {
  try {
    const v = storage?.getItem(THEME_KEY);
    return isThemeChoice(v) ? v : "system";
  } catch {
    return "system";
  }
}

export function saveThemeChoice(choice: ThemeChoice, storage: Pick<Storage, "setItem"> | null = safeStorage()): void {
  try { storage?.setItem(THEME_KEY, choice); } catch { /* storage full or off: the choice lasts this visit */ }
}

/** The theme to show for a choice, given whether the system is dark. */
export function resolveTheme(choice: ThemeChoice, systemDark: boolean): Theme {
  if (choice === "system") return systemDark ? "dark" : "light";
  return choice;
}

export function applyTheme(theme: Theme, root: HTMLElement = document.documentElement): void {
  root.setAttribute("data-theme", theme);
}

/**
 * Keeps <html> in the chosen theme: applies `choice()` now, again whenever the system's
 * setting changes, and whenever `refresh` is called (after the choice changed). Another tab's
 * change arrives through the `storage` event and is passed to `onOtherTab`.
 */
export function followTheme(choice: () => ThemeChoice, onOtherTab?: (c: ThemeChoice) => void) {
  const mql = window.matchMedia ? window.matchMedia(DARK_QUERY) : null;
  const refresh = () => applyTheme(resolveTheme(choice(), mql?.matches ?? false));
  const onStorage = (e: StorageEvent) => {
    if (e.key === THEME_KEY) onOtherTab?.(isThemeChoice(e.newValue) ? e.newValue : "system");
  };
  mql?.addEventListener("change", refresh);
  window.addEventListener("storage", onStorage);
  refresh();
  return {
    refresh,
    stop() {
      mql?.removeEventListener("change", refresh);
      window.removeEventListener("storage", onStorage);
    },
  };
}

function safeStorage(): Storage | null {
  try { return typeof localStorage === "undefined" ? null : localStorage; } catch { return null; }
}
