// Applies the theme picked in Profile & settings before the first paint, so a dark page never
// flashes light. A classic script in <head> (the Content-Security-Policy allows no inline one).
// src/lib/theme.ts does the same at run time and follows the system's changes.
(function () {
  var choice = "system";
  try { choice = localStorage.getItem("pigeon.theme") || "system"; } catch (e) { /* storage off */ }
  var dark = choice === "dark" || (choice !== "light" && !!window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.setAttribute("data-theme", dark ? "dark" : "light");
})();
