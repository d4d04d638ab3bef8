// End-to-end tests for avatars (pick, crop, upload), a conversation's gallery, and the
// colour emoji fallback font: real Pigeon, real headless Chromium.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { eventually, launchBrowser, makePng, sessionOf, shot, suite, texts } from "./harness.mjs";

const t = suite();
const { api, befriend } = t;
const person = (name, on) => t.person(name, { on });

async function openChat(page, cid) {
  await page.getByTestId("nav-chats").click();
  await page.getByTestId(`conv-${cid}`).click();
  await page.getByTestId("messages").waitFor();
}

/** Upload through the API (setup, not what these tests are about). */
async function upload(p, bytes, name, kind, mime) {
  const form = new FormData();
  form.append("kind", kind);
  form.append("file", new Blob([bytes], { type: mime }), name);
  const token = (await sessionOf(p.page)).access_token;
  const r = await fetch(`${t.server.base}/api/v1/uploads`, { method: "POST", headers: { Authorization: `Bearer ${token}` }, body: form });
  assert.equal(r.status, 201, await r.clone().text());
  return r.json();
}

async function sendImage(p, cid, shade) {
  const up = await upload(p, makePng(60, 40, () => [shade, 40, 255 - shade]), `p${shade}.png`, "image", "image/png");
  await (await api(p))("POST", `/conversations/${cid}/messages`, { client_msg_id: crypto.randomUUID(), kind: "image", body: { url: up.url, width: 60, height: 40 } });
  return up;
}

/** Three bands, green | red | blue, 600×300: where a crop is shows in its colours. */
const bands = () => makePng(600, 300, (x) => (x < 200 ? [0, 170, 0] : x < 400 ? [220, 0, 0] : [0, 0, 220]));

/** The dominant colour of each pixel (x, y) of an image URL, read back in the page. */
async function coloursAt(page, url, points) {
  return page.evaluate(async ({ url, points }) => {
    const img = new Image();
    img.src = url;
    await img.decode();
    const c = document.createElement("canvas");
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    const ctx = c.getContext("2d");
    ctx.drawImage(img, 0, 0);
    const names = ["red", "green", "blue"];
    return { size: [img.naturalWidth, img.naturalHeight], colours: points.map(([x, y]) => {
      const d = ctx.getImageData(x, y, 1, 1).data;
      return names[[d[0], d[1], d[2]].indexOf(Math.max(d[0], d[1], d[2]))];
    }) };
  }, { url, points });
}

describe("Pigeon avatars and galleries", () => {
  let alice, bob, cid;

  before(async () => {
    if (t.startError) return;
    alice = await person("Alice");
    bob = await person("Bob");
    cid = await befriend(alice, bob);
  });

  test("an avatar is picked, cropped to a square, uploaded and shown to others", async () => {
    const page = alice.page;
    await page.locator(".rail-me").click();
    await page.getByTestId("avatar-file").setInputFiles({ name: "bands.png", mimeType: "image/png", buffer: bands() });
    const win = page.getByTestId("crop-window");
    await win.waitFor();
    // drag the picture right: the window moves over its left part (green, then red)
    const box = await win.boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 60, box.y + box.height / 2, { steps: 5 });
    await page.mouse.move(box.x + box.width / 2 + 400, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    await shot(page, "30-avatar-crop.png");
    await page.getByTestId("crop-save").click();
    await page.getByTestId("avatar-crop").waitFor({ state: "hidden", timeout: 15_000 });

    const me = await eventually(async () => {
      const found = await (await api(alice))("GET", "/users/me");
      assert.match(found.avatar_url, /^\/files\/[0-9a-f]{32}$/);
      return found;
    });
    // the server's copy: a 256 px square of the picture's left 300 px (2/3 green, 1/3 red)
    const stored = await coloursAt(page, me.avatar_url, [[30, 128], [150, 128], [240, 128]]);
    assert.deepEqual(stored, { size: [256, 256], colours: ["green", "green", "red"] });
    const res = await fetch(t.server.base + me.avatar_url);
    assert.equal(res.headers.get("content-type"), "image/webp");
    assert.match(res.headers.get("cache-control"), /immutable/);

    // the profile and the rail show it at once (the small one loads the thumbnail)
    const rail = page.locator(".rail-me img");
    await eventually(async () => assert.equal(await rail.getAttribute("src"), `${me.avatar_url}/thumbnail`));
    await eventually(async () => assert.ok(await rail.evaluate((el) => el.complete && el.naturalWidth === 96)));
    assert.equal(await page.getByTestId("me-avatar").locator("img").getAttribute("src"), me.avatar_url);
    await shot(page, "31-avatar-profile.png");

    // Bob sees it next to Alice in his list and in the chat header
    await bob.page.reload();
    const inList = bob.page.getByTestId(`conv-${cid}`).locator("img");
    await eventually(async () => assert.equal(await inList.getAttribute("src"), `${me.avatar_url}/thumbnail`));
    await openChat(bob.page, cid);
    await eventually(async () => assert.equal(await bob.page.locator(".chat .bar img").first().getAttribute("src"), `${me.avatar_url}/thumbnail`));
  });

  test("a picture that is not one is refused before anything is cropped", async () => {
    const page = alice.page;
    await page.locator(".rail-me").click();
    await page.getByTestId("avatar-file").setInputFiles({ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("hello") });
    await page.getByText("Choose a PNG, JPEG, GIF or WebP picture.").waitFor();
    assert.equal(await page.getByTestId("avatar-crop").count(), 0);
  });

  test("the gallery lists images newest first, pages on scroll, and opens them", async () => {
    const first = await sendImage(alice, cid, 10);
    for (let i = 0; i < 60; i++) await sendImage(bob, cid, 20 + i);
    const newest = await sendImage(alice, cid, 250);
    const notes = await upload(alice, Buffer.from("Route notes\n"), "route notes.txt", "file", "text/plain");
    await (await api(alice))("POST", `/conversations/${cid}/messages`, { client_msg_id: crypto.randomUUID(), kind: "file", body: { url: notes.url, name: "route notes.txt", size: notes.size } });
    await (await api(alice))("POST", `/conversations/${cid}/messages`, { client_msg_id: crypto.randomUUID(), kind: "text", body: { text: "that is all" } });

    const page = bob.page;
    await openChat(page, cid);
    await page.getByTestId("message-text").filter({ hasText: "that is all" }).waitFor();
    await page.getByTestId("open-gallery").click();
    const cells = page.getByTestId("gallery-image");
    await eventually(async () => assert.equal(await cells.count(), 60));
    assert.equal(await cells.first().locator("img").getAttribute("src"), newest.thumb_url);
    await shot(page, "32-gallery-images.png");
    // scrolling to the end loads the older page
    await page.locator(".gallery .content").evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await eventually(async () => assert.equal(await cells.count(), 62));
    assert.equal(await cells.last().locator("img").getAttribute("src"), first.thumb_url);

    await cells.first().click();
    const full = page.getByTestId("gallery-viewer-image");
    await eventually(async () => assert.deepEqual(await full.evaluate((el) => [el.getAttribute("src"), el.complete, el.naturalWidth]), [newest.url, true, 60]));
    await page.getByTestId("gallery-viewer-older").click();
    await eventually(async () => assert.notEqual(await full.getAttribute("src"), newest.url));
    await page.getByTestId("gallery-viewer-close").click();

    await page.getByTestId("gallery-tab-files").click();
    const files = page.getByTestId("gallery-file");
    await eventually(async () => assert.equal(await files.count(), 1));
    assert.deepEqual(await texts(page.getByTestId("gallery-file-name")), ["route notes.txt"]);
    assert.match(await page.getByTestId("gallery-file-meta").textContent(), /^12 B · Today \d{1,2}:\d{2}/);
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("gallery-download").click()]);
    assert.equal(download.suggestedFilename(), "route notes.txt");
    await shot(page, "33-gallery-files.png");
    await page.getByTestId("gallery-close").click();
    await page.getByTestId("gallery").waitFor({ state: "hidden" });
  });

  test("a group's owner sets its picture from the group panel; its gallery opens there", async () => {
    const group = await (await api(alice))("POST", "/groups", { name: "Hikers", member_ids: [bob.id] });
    await openChat(alice.page, group.id);
    await alice.page.getByTestId("group-info").click();
    await alice.page.getByTestId("group-panel").getByTestId("avatar-file").setInputFiles({ name: "bands.png", mimeType: "image/png", buffer: bands() });
    await alice.page.getByTestId("crop-save").click();
    const picture = await eventually(async () => {
      const found = await (await api(bob))("GET", `/groups/${group.id}`);
      assert.match(found.avatar_url, /^\/files\/[0-9a-f]{32}$/);
      return found.avatar_url;
    });
    // the default crop is the middle square: red in the middle, green and blue at the edges
    assert.deepEqual((await coloursAt(alice.page, picture, [[10, 128], [128, 128], [246, 128]])).colours, ["green", "red", "blue"]);

    const up = await sendImage(alice, group.id, 128);
    await openChat(bob.page, group.id);
    await eventually(async () => assert.equal(await bob.page.locator(".chat .bar img").first().getAttribute("src"), `${picture}/thumbnail`));
    assert.equal(await bob.page.getByTestId("group-panel").count(), 0);
    await bob.page.getByTestId("group-info").click();
    // a plain member is not offered the picture
    assert.equal(await bob.page.getByTestId("group-panel").getByTestId("avatar-pick").count(), 0);
    await bob.page.getByTestId("group-gallery").click();
    await eventually(async () => assert.deepEqual(await bob.page.getByTestId("gallery-image").locator("img").evaluateAll((els) => els.map((e) => e.getAttribute("src"))), [up.thumb_url]));
    await bob.page.getByTestId("gallery-close").click();
  });
});

describe("Pigeon colour emoji", () => {
  const EMOJI = "😀 🎉 ❤️ 🐦";

  /** Whether canvas text in the emoji family is drawn in colour, and which font files loaded. */
  async function emojiInfo(p, requested, text = EMOJI) {
    const colourful = await p.page.evaluate(async (text) => {
      await document.fonts.load('40px "Pigeon Color Emoji"', text);
      const c = document.createElement("canvas");
      c.width = 400;
      c.height = 60;
      const ctx = c.getContext("2d");
      ctx.font = '40px "Pigeon Color Emoji", monospace';
      ctx.fillStyle = "#000";
      ctx.fillText(text, 4, 46);
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      let coloured = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 200 && Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 80) coloured++;
      return coloured;
    }, text);
    return { colourful, fetched: requested.filter((u) => /\/assets\/\d+-[\w-]+\.woff2$/.test(u)) };
  }

  async function chatWithEmoji(on) {
    const a = await person("Dee", on);
    const b = await person("Eli", on);
    const requested = [];
    a.page.on("request", (r) => requested.push(r.url()));
    const cid = await befriend(a, b);
    await (await api(b))("POST", `/conversations/${cid}/messages`, { client_msg_id: crypto.randomUUID(), kind: "text", body: { text: EMOJI } });
    await openChat(a.page, cid);
    await a.page.getByTestId("message-text").filter({ hasText: "🎉" }).waitFor();
    return { a, requested };
  }

  test("with a colour emoji font on the system, no font is downloaded", async () => {
    const { a, requested } = await chatWithEmoji(t.browser);
    const info = await emojiInfo(a, requested);
    assert.deepEqual(info.fetched, []);
    assert.ok(info.colourful > 200, `only ${info.colourful} coloured pixels`);
  });

  test("without one, the bundled Noto Color Emoji is fetched for just the emoji shown", async () => {
    // a fontconfig that knows only DejaVu: no colour emoji font on this "system"
    const dir = mkdtempSync(join(tmpdir(), "pigeon-fonts-"));
    writeFileSync(join(dir, "fonts.conf"), `<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig><dir>/usr/share/fonts/truetype/dejavu</dir><cachedir>${dir}/cache</cachedir></fontconfig>`);
    const bare = await launchBrowser([], { env: { ...process.env, FONTCONFIG_FILE: join(dir, "fonts.conf") } });
    t.browsers.push(bare);
    const { a, requested } = await chatWithEmoji(bare);
    const info = await emojiInfo(a, requested);
    // The files' ranges overlap (a sequence's parts are in the file of the sequence), so these
    // four emoji fetch six of the eleven files; never the 700 KB one of flags.
    const names = info.fetched.map((u) => u.split("/").pop().split("-")[0]).sort((x, y) => x - y);
    assert.deepEqual(names, ["2", "4", "7", "8", "9", "10"]);
    assert.ok(info.colourful > 200, `only ${info.colourful} coloured pixels`);
    // a heart with the emoji presentation selector is in colour too
    const heart = await emojiInfo(a, [], "❤️");
    assert.ok(heart.colourful > 50, `only ${heart.colourful} coloured pixels in the heart`);
    await shot(a.page, "34-emoji-fallback.png");
  });
});
