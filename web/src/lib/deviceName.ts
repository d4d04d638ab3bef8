import Bowser from "bowser";

/**
 * What this browser is called in the device list ("Chrome on Linux"), from its user agent.
 * The user can rename it under Me → Devices; this is only the first name.
 */
export function deviceName(userAgent: string = typeof navigator !== "undefined" ? navigator.userAgent : ""): string {
  if (!userAgent) return "Web browser";
  const parsed = Bowser.parse(userAgent);
  const browser = parsed.browser.name?.replace(/^Microsoft /, "") || "Web browser";
  const os = parsed.os.name;
  return (os ? `${browser} on ${os}` : browser).slice(0, 64);
}
