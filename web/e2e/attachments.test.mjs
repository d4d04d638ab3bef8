// End-to-end tests for images, files, voice clips and @all: real Pigeon, real headless Chromium.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, describe, test } from "node:test";
import { eventually, makePng, sessionOf, shot, suite, texts } from "./harness.mjs";

const t = suite({ browserArgs: ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"] });
const { api, befriend } = t;
const person = (name) => t.person(name, { permissions: ["microphone"] });

async function openChat(page, cid) {
  await page.getByTestId("nav-chats").click();
  await page.getByTestId(`conv-${cid}`).click();
  await page.getByTestId("messages").waitFor();
}

async function send(page, text) {
  await page.getByTestId("composer").fill(text);
  await page.getByTestId("composer").press("Enter");
}

async function noPending(page) {
  await eventually(async () => assert.equal(await page.getByTestId("message-pending").count(), 0), { timeout: 15_000 });
}

/** A 480×320 picture: an evening sky, a sun and two hills. */
function landscape() {
  const W = 480, H = 320;
  return makePng(W, H, (x, y) => {
    const t = y / H;
    let c = [Math.round(255 - 90 * t), Math.round(170 - 60 * t), Math.round(120 + 80 * t)];
    if ((x - 330) ** 2 + (y - 120) ** 2 < 48 ** 2) c = [255, 236, 140];
    if (y > 215 + 35 * Math.sin(x / 60)) c = [64, 140 - Math.round(30 * t), 90];
    if (y > 250 + 22 * Math.sin(x / 37 + 1)) c = [38, 104, 70];
    return c;
  });
}

describe("Pigeon attachments", () => {
  let alice, bob, carol, cid;

  before(async () => {
    if (t.startError) return;
    alice = await person("Alice");
    bob = await person("Bob");
    cid = await befriend(alice, bob);
  });

  test("an image arrives as a thumbnail of the right shape and opens in full", async () => {
    await openChat(bob.page, cid);
    await send(bob.page, "How was the hike? 🥾");
    await openChat(alice.page, cid);
    await alice.page.getByTestId("message-text").filter({ hasText: "How was the hike?" }).waitFor();
    await send(alice.page, "Long but worth it. Look at the view from the top 🌄");
    await alice.page.getByTestId("file-input").setInputFiles({ name: "evening.png", mimeType: "image/png", buffer: landscape() });
    // the sender sees it at once, the right shape even before the upload finishes
    const mine = alice.page.getByTestId("message-image").last();
    await mine.waitFor();
    await noPending(alice.page);

    const img = bob.page.getByTestId("message-image").last();
    await img.waitFor({ timeout: 10_000 });
    assert.equal(await img.getAttribute("data-width"), "480");
    assert.equal(await img.getAttribute("data-height"), "320");
    const box = await img.boundingBox();
    assert.ok(Math.abs(box.width / box.height - 1.5) < 0.02, `thumbnail is ${box.width}×${box.height}`);
    assert.equal(Math.round(box.width), 260);
    // the thumbnail itself loads (a JPEG from /files/<id>/thumbnail)
    await eventually(async () => assert.ok(await img.evaluate((el) => el.complete && el.naturalWidth > 0)));
    assert.match(await img.getAttribute("src"), /^\/files\/[0-9a-f]{32}\/thumbnail$/);

    // click: the original opens in a lightbox, at its own size, with a link to it
    await bob.page.getByTestId("image-open").last().click();
    const full = bob.page.getByTestId("lightbox-image");
    await full.waitFor();
    await eventually(async () => assert.deepEqual(await full.evaluate((el) => [el.complete, el.naturalWidth, el.naturalHeight]), [true, 480, 320]));
    const href = await bob.page.getByTestId("open-original").getAttribute("href");
    assert.match(href, /^\/files\/[0-9a-f]{32}$/);
    const res = await fetch(t.server.base + href); // no auth header needed
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "image/png");
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), landscape());
    await bob.page.keyboard.press("Escape");
    await bob.page.getByTestId("lightbox").waitFor({ state: "hidden" });
  });

  test("a file arrives as a card with its name, size and a working download", async () => {
    const content = "Packing list\n- tent\n- stove\n- map\n";
    await send(bob.page, "Wow, what a sunset! Same trail on Saturday?");
    await send(alice.page, "Yes! Here is what to bring:");
    await alice.page.getByTestId("file-input").setInputFiles({ name: "packing-list.txt", mimeType: "text/plain", buffer: Buffer.from(content) });
    await noPending(alice.page);
    await send(bob.page, "Thanks! Bringing snacks 🍫");

    const card = bob.page.getByTestId("file-card").last();
    await card.waitFor({ timeout: 10_000 });
    assert.equal((await card.getByTestId("file-name").textContent()).trim(), "packing-list.txt");
    assert.equal((await card.getByTestId("file-size").textContent()).trim(), `${content.length} B`);
    const [download] = await Promise.all([bob.page.waitForEvent("download"), card.getByTestId("file-download").click()]);
    assert.equal(download.suggestedFilename(), "packing-list.txt");
    assert.equal(readFileSync(await download.path(), "utf8"), content);

    // the conversation list says what it was
    await alice.page.getByTestId("messages").waitFor();
    await eventually(async () => assert.match(await bob.page.getByTestId(`conv-${cid}`).getByTestId("conv-preview").textContent(), /Bringing snacks/));
    await eventually(async () => assert.ok((await texts(alice.page.getByTestId("message-text"))).includes("Thanks! Bringing snacks 🍫")));
    await alice.page.getByTestId("composer").blur();
    for (const b of await alice.page.getByTestId("toast").getByRole("button", { name: "Dismiss" }).all()) await b.click().catch(() => undefined);
    await eventually(async () => assert.equal(await alice.page.getByTestId("toast").count(), 0));
    await eventually(async () => assert.ok(await alice.page.getByTestId("message-image").last().evaluate((el) => el.complete && el.naturalWidth > 0)));
    await shot(alice.page, "10-chat-media.png");
  });

  test("a dropped file and a pasted image are sent, and the list preview names them", async () => {
    await alice.page.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(["route notes"], "route.md", { type: "text/markdown" }));
      const target = document.querySelector("section.chat");
      for (const type of ["dragenter", "dragover", "drop"]) target.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt }));
    });
    await noPending(alice.page);
    await bob.page.getByTestId("nav-chats").click();
    await eventually(async () => assert.equal((await bob.page.getByTestId(`conv-${cid}`).getByTestId("conv-preview").textContent()).trim(), "[File] route.md"));
    await bob.page.getByTestId(`conv-${cid}`).click();
    await bob.page.getByTestId("file-card").filter({ hasText: "route.md" }).waitFor();

    // a pasted image is sent as an image
    const png = landscape().toString("base64");
    await alice.page.evaluate(async (b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], "pasted.png", { type: "image/png" }));
      document.querySelector("#composer-input").dispatchEvent(new ClipboardEvent("paste", { bubbles: true, cancelable: true, clipboardData: dt }));
    }, png);
    await noPending(alice.page);
    await eventually(async () => assert.equal(await bob.page.getByTestId("message-image").count(), 2));
    assert.equal(await bob.page.getByTestId("message-image").last().getAttribute("data-width"), "480");
    await eventually(async () => assert.equal((await bob.page.getByTestId(`conv-${cid}`).getByTestId("conv-preview").textContent()).trim(), "[Image]"));
  });

  test("a file that is not an image, sent as one, fails with a clear reason; an oversize file is refused", async () => {
    await alice.page.getByTestId("file-input").setInputFiles({ name: "holiday.png", mimeType: "image/png", buffer: Buffer.from("this is not a picture at all") });
    const failed = alice.page.getByTestId("send-error").last();
    await failed.waitFor({ timeout: 10_000 });
    assert.match(await failed.textContent(), /image could not be read/);
    assert.equal(await failed.getByTestId("retry").count(), 0);
    await failed.getByRole("button", { name: "Delete" }).click();
    await noPending(alice.page);

    await alice.page.getByTestId("file-input").setInputFiles({ name: "huge.bin", mimeType: "application/octet-stream", buffer: Buffer.alloc(26 * 1024 * 1024, 1) });
    await eventually(async () => assert.ok((await texts(alice.page.locator(".toast"))).some((t) => /too large/.test(t)), "no 'too large' toast"));
    assert.equal(await alice.page.getByTestId("message-pending").count(), 0);
    // and the server says the same for a direct upload over its limit
    const form = new FormData();
    form.append("kind", "file");
    form.append("file", new Blob([Buffer.alloc(25 * 1024 * 1024 + 70 * 1024, 1)]), "huge.bin");
    const r = await fetch(`${t.server.base}/api/v1/uploads`, { method: "POST", body: form, headers: { Authorization: `Bearer ${(await sessionOf(alice.page)).access_token}` } });
    assert.equal(r.status, 413);
    assert.equal((await r.json()).error.code, "payload_too_large");
  });

  test("a voice clip is recorded, sent and played back with its duration", async () => {
    await alice.page.getByTestId("record").click();
    await alice.page.getByTestId("recording").waitFor();
    await alice.page.waitForTimeout(1600);
    await alice.page.getByTestId("voice-send").click();
    await noPending(alice.page);
    const voice = bob.page.getByTestId("voice").last();
    await voice.waitFor({ timeout: 10_000 });
    assert.match((await voice.getByTestId("voice-duration").textContent()).trim(), /^0:0[12]$/);
    assert.match(await voice.locator("audio").getAttribute("src"), /^\/files\/[0-9a-f]{32}$/);
    await eventually(async () => assert.match(await bob.page.getByTestId(`conv-${cid}`).getByTestId("conv-preview").textContent(), /^\s*\[Voice\] 0:0[12]\s*$/));
  });

  test("@all is offered to the group owner only, and highlights the message for everyone", async () => {
    carol = await person("Carol");
    await befriend(alice, carol);
    const group = await (await api(alice))("POST", "/groups", { name: "Hikers", member_ids: [bob.id, carol.id] });
    await openChat(alice.page, group.id);
    await alice.page.getByTestId("composer").pressSequentially("@al", { delay: 30 });
    await alice.page.getByTestId("mention-all").waitFor();
    await alice.page.getByTestId("composer").press("Enter");
    await alice.page.getByTestId("composer").pressSequentially("we leave at 7", { delay: 5 });
    assert.equal(await alice.page.getByTestId("composer").inputValue(), "@all we leave at 7");
    await alice.page.getByTestId("composer").press("Enter");
    await noPending(alice.page);

    for (const p of [bob, carol]) {
      await p.page.getByTestId("nav-chats").click();
      const row = p.page.getByTestId(`conv-${group.id}`);
      await eventually(async () => assert.match(await row.getByTestId("conv-preview").textContent(), /\[@you\].*we leave at 7/));
      await row.click();
      const line = p.page.getByTestId("message").filter({ hasText: "we leave at 7" });
      await line.waitFor();
      assert.equal((await line.getByTestId("mention-tag").textContent()).trim(), "@all");
    }
    // a plain member gets no @all in the picker
    await bob.page.getByTestId("composer").pressSequentially("@", { delay: 30 });
    await bob.page.getByRole("option", { name: /Carol/ }).waitFor();
    assert.equal(await bob.page.getByTestId("mention-all").count(), 0);
    await bob.page.getByTestId("composer").fill("");
  });
});
