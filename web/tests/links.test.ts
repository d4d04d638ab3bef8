import { describe, expect, it } from "vitest";
import { linkParts, safeHref } from "../src/lib/links";

const links = (text: string) => linkParts(text).filter((p) => p.href).map((p) => [p.text, p.href]);

describe("links in message text", () => {
  it("finds http, https and mailto links and keeps the text around them", () => {
    const parts = linkParts("read https://pigeon.chat/docs then mail bob@example.com");
    expect(parts.map((p) => p.text).join("")).toBe("read https://pigeon.chat/docs then mail bob@example.com");
    expect(links("read https://pigeon.chat/docs then mail bob@example.com")).toEqual([
      ["https://pigeon.chat/docs", "https://pigeon.chat/docs"],
      ["bob@example.com", "mailto:bob@example.com"],
    ]);
    expect(links("mailto:team@example.org")).toEqual([["mailto:team@example.org", "mailto:team@example.org"]]);
    expect(links("http://10.0.0.1:8080/x")).toEqual([["http://10.0.0.1:8080/x", "http://10.0.0.1:8080/x"]]);
  });

  it("leaves punctuation at the end of a URL out of the link", () => {
    expect(links("see https://x.org/a.")).toEqual([["https://x.org/a", "https://x.org/a"]]);
    expect(links("is it https://x.org/a?")).toEqual([["https://x.org/a", "https://x.org/a"]]);
    expect(links("first https://x.org/a, then https://x.org/b!")).toEqual([
      ["https://x.org/a", "https://x.org/a"], ["https://x.org/b", "https://x.org/b"],
    ]);
    expect(links("(see https://x.org/a)")).toEqual([["https://x.org/a", "https://x.org/a"]]);
    expect(links("https://en.wikipedia.org/wiki/Pigeon_(disambiguation).")[0][0]).toBe("https://en.wikipedia.org/wiki/Pigeon_(disambiguation)");
    expect(links("«https://x.org/q?a=1&b=2»")).toEqual([["https://x.org/q?a=1&b=2", "https://x.org/q?a=1&b=2"]]);
  });

  it("never makes a link of an unsafe scheme", () => {
    for (const t of ["javascript:alert(1)", "JavaScript:alert(document.cookie)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox", "ftp://files.example.com/x", "//evil.example.com/x", "file:///etc/passwd"]) {
      expect(links(t), t).toEqual([]);
      expect(linkParts(t).map((p) => p.text).join("")).toBe(t);
    }
    expect(safeHref("javascript:alert(1)")).toBeNull();
    expect(safeHref("not a url")).toBeNull();
    expect(safeHref("https://x.org/a b")).toBe("https://x.org/a%20b");
  });

  it("keeps HTML in the text as text", () => {
    const t = `<a href="javascript:alert(1)">x</a><img src=x onerror=alert(1)> https://x.org/<b>`;
    const parts = linkParts(t);
    expect(parts.map((p) => p.text).join("")).toBe(t);
    for (const p of parts) if (p.href) expect(p.href.startsWith("https://")).toBe(true);
  });

  it("handles empty and link-free text", () => {
    expect(linkParts("")).toEqual([]);
    expect(linkParts("just words")).toEqual([{ text: "just words" }]);
  });
});
