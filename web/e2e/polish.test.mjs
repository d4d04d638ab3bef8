// End-to-end tests for layout and small behaviours: the group panel beside or over the chat,
// member menus, dissolved groups, error wording, voice durations, the list skeleton, toasts
// and the theme switch. Real Pigeon, real headless Chromium (with a fake microphone).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eventually, sessionOf, shot, suite } from "./harness.mjs";

const t = suite({ browserArgs: ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"] });
const { api, befriend } = t;
const person = (name, opts) => t.person(name, opts);

async function openChat(page, cid) {
  await page.goto(`/c/${cid}`);
  await page.getByTestId("messages").waitFor();
}

/** Whether two boxes share any area. */
function overlaps(a, b) {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/** The element a click at the centre of `locator` would reach is the element itself (or inside it). */
async function reachable(locator) {
  return locator.evaluate((el) => {
    const r = el.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return !!hit && (hit === el || el.contains(hit));
  });
}

describe("Pigeon polish", () => {
  let alice, bob, carol, groupId;

  before(async () => {
    if (t.startError) return;
    alice = await person("Alice", { viewport: { width: 1440, height: 900 } });
    bob = await person("Bob");
    carol = await person("Carol");
    await befriend(alice, bob);
    await befriend(alice, carol);
    const g = await (await api(alice))("POST", "/groups", { name: "Ramblers", member_ids: [bob.id, carol.id] });
    groupId = g.id;
  });

  test("at 1440×900 the group panel sits beside the chat: header and Send stay visible and clickable", async () => {
    const page = alice.page;
    await openChat(page, groupId);
    await page.getByTestId("group-info").click();
    const panel = page.getByTestId("group-panel");
    await panel.waitFor();
    assert.equal(await page.getByTestId("group-panel-scrim").count(), 0, "no scrim when docked");
    await page.getByTestId("composer").fill("Seen with the panel open");
    const pbox = await panel.boundingBox();
    for (const id of ["send", "composer", "chat-title", "group-info"]) {
      const el = page.getByTestId(id);
      const box = await el.boundingBox();
      assert.ok(box && box.width > 0, `${id} is visible`);
      assert.ok(!overlaps(box, pbox), `${id} ${JSON.stringify(box)} is not under the panel ${JSON.stringify(pbox)}`);
      assert.ok(await reachable(el), `${id} can be clicked`);
    }
    await page.getByTestId("send").click();
    await page.getByTestId("message-text").filter({ hasText: "Seen with the panel open" }).waitFor();
    await shot(page, "20-group-panel-docked.png");
    assert.ok(await panel.isVisible(), "sending leaves the panel open");
    await page.getByTestId("group-info").click();
    await panel.waitFor({ state: "hidden" });
  });

  test("Esc closes the group panel right after it opens, and focus goes back to the button", async () => {
    for (const viewport of [{ width: 1440, height: 900 }, { width: 900, height: 800 }, { width: 390, height: 844 }]) {
      const page = alice.page;
      await page.setViewportSize(viewport);
      await openChat(page, groupId);
      await page.getByTestId("group-info").click();
      const panel = page.getByTestId("group-panel");
      await panel.waitFor();
      await eventually(async () => assert.ok(await panel.evaluate((el) => el.contains(document.activeElement)), "focus moves into the panel"));
      await page.keyboard.press("Escape");
      await panel.waitFor({ state: "hidden" });
      assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("data-testid")), "group-info", `focus returns (${viewport.width}px)`);
    }
    // narrower screens get a modal drawer over a scrim, which closes on a click outside
    await alice.page.setViewportSize({ width: 900, height: 800 });
    await alice.page.getByTestId("group-info").click();
    const panel = alice.page.getByTestId("group-panel");
    assert.equal(await panel.getAttribute("aria-modal"), "true");
    await alice.page.mouse.click(76 + 300 + 40, 400); // on the chat (after the rail and the list), left of the drawer
    await panel.waitFor({ state: "hidden" });
    await alice.page.setViewportSize({ width: 1440, height: 900 });
  });

  test("the member menu closes after Make admin, and Make owner says what happens to the owner", async () => {
    const page = alice.page;
    await openChat(page, groupId);
    await page.getByTestId("group-info").click();
    const panel = page.getByTestId("group-panel");
    const bobRow = panel.getByTestId("members").locator("li").filter({ hasText: "Bob" });
    await bobRow.waitFor();
    await bobRow.getByTestId("member-menu").click();
    await panel.getByRole("menuitem", { name: "Make admin" }).click();
    await eventually(async () => assert.equal((await bobRow.locator(".role").textContent()).trim(), "admin"));
    assert.equal(await panel.getByTestId("member-menu-items").count(), 0, "the menu closed");

    // Esc closes an open menu first, then the panel
    await bobRow.getByTestId("member-menu").click();
    await panel.getByTestId("member-menu-items").waitFor();
    await page.keyboard.press("Escape");
    assert.equal(await panel.getByTestId("member-menu-items").count(), 0);
    assert.ok(await panel.isVisible());

    let question = null;
    page.once("dialog", (d) => { question = d.message(); void d.dismiss(); });
    await bobRow.getByTestId("member-menu").click();
    await panel.getByRole("menuitem", { name: "Make owner" }).click();
    await eventually(async () => assert.ok(question));
    assert.match(question, /Make Bob the owner\?/);
    assert.match(question, /ordinary member/);
    assert.doesNotMatch(question, /admin/i);
    assert.equal(await panel.getByTestId("member-menu-items").count(), 0, "the menu closed");
    assert.equal((await panel.getByTestId("members").locator("li").filter({ hasText: "You" }).locator(".role").textContent()).trim(), "owner", "dismissed: nothing changed");
    await page.keyboard.press("Escape");
  });

  test("a dissolved group is read-only and offers Delete chat instead of Leave group", async () => {
    const g = await (await api(alice))("POST", "/groups", { name: "Short-lived", member_ids: [bob.id] });
    await (await api(alice))("POST", `/groups/${g.id}/dissolve`);
    const page = bob.page;
    await openChat(page, g.id);
    await page.getByText("This group has been dissolved.").first().waitFor();
    assert.equal(await page.getByTestId("composer").count(), 0);
    await page.getByTestId("group-info").click();
    const panel = page.getByTestId("group-panel");
    await panel.getByTestId("group-dissolved").waitFor();
    assert.equal(await panel.getByTestId("quit").count(), 0, "no Leave group");
    assert.equal(await panel.getByTestId("invite").count(), 0);
    page.once("dialog", (d) => void d.accept());
    await panel.getByTestId("delete-chat").click();
    await page.waitForURL((u) => u.pathname === "/");
    await eventually(async () => assert.equal(await page.getByTestId(`conv-${g.id}`).count(), 0));
    await page.reload();
    await page.getByTestId("conversation-list").waitFor();
    assert.equal(await page.getByTestId(`conv-${g.id}`).count(), 0, "gone after a reload too");
  });

  test("a wrong current password says so, not 'wrong username or password'", async () => {
    const page = carol.page;
    await page.goto("/me");
    await page.locator('input[autocomplete="current-password"]').fill("not-my-password-9");
    await page.locator('input[autocomplete="new-password"]').fill("Tawny-Otter-Lamp-42");
    await page.getByRole("button", { name: "Change password" }).click();
    const toast = page.getByTestId("toast").filter({ hasText: "The current password is wrong." });
    await toast.waitFor();
    assert.equal(await page.getByTestId("toast").filter({ hasText: /username/i }).count(), 0);
    await page.goto("/");
    await page.getByRole("heading", { name: "Chats" }).waitFor(); // still signed in
  });

  test("a voice clip whose message has no usable duration shows the length from the file", async () => {
    const page = alice.page;
    const cid = (await (await api(alice))("POST", "/conversations/private", { user_id: bob.id })).id;
    await openChat(page, cid);
    // a real MediaRecorder WebM (no duration in its header) of about 1.5 s from the fake microphone
    const token = (await sessionOf(page)).access_token;
    const upload = await page.evaluate(async (tok) => {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      const rec = new MediaRecorder(stream, { mimeType: "audio/webm" });
      const chunks = [];
      rec.ondataavailable = (e) => chunks.push(e.data);
      const stopped = new Promise((r) => (rec.onstop = r));
      rec.start();
      await new Promise((r) => setTimeout(r, 1500));
      rec.stop();
      await stopped;
      stream.getTracks().forEach((t) => t.stop());
      const form = new FormData();
      form.append("kind", "voice");
      form.append("file", new File(chunks, "clip.webm", { type: "audio/webm" }));
      const r = await fetch("/api/v1/uploads", { method: "POST", body: form, headers: { Authorization: `Bearer ${tok}` } });
      return r.json();
    }, token);
    assert.match(upload.url, /^\/files\//);
    // 1 ms is what a sender that measured nothing puts in (the contract wants at least 1)
    await (await api(alice))("POST", `/conversations/${cid}/messages`, { client_msg_id: `v-${Date.now()}`, kind: "voice", body: { url: upload.url, duration_ms: 1, size: upload.size } });
    await openChat(bob.page, cid);
    const voice = bob.page.getByTestId("voice").last();
    await voice.waitFor({ timeout: 10_000 });
    await eventually(async () => assert.match((await voice.getByTestId("voice-duration").textContent()).trim(), /^0:0[12]$/), { timeout: 15_000 });
  });

  test("the conversation list shows a skeleton while it loads", async () => {
    const page = bob.page;
    let release;
    const gate = new Promise((r) => (release = r));
    await page.route("**/api/v1/conversations", async (route) => {
      await gate;
      await route.continue();
    });
    await page.goto("/");
    const skeleton = page.getByTestId("conversation-skeleton");
    await skeleton.waitFor();
    assert.ok((await skeleton.locator(".sk-avatar").count()) >= 3);
    assert.equal(await page.getByTestId("conversation-list").count(), 0);
    release();
    await page.getByTestId("conversation-list").locator("li").first().waitFor();
    assert.equal(await skeleton.count(), 0);
    await page.unroute("**/api/v1/conversations");
  });

  test("toasts never cover the composer or the Send button, on a desktop or a phone", async () => {
    const cid = (await (await api(alice))("POST", "/conversations/private", { user_id: bob.id })).id;
    await (await api(bob))("POST", `/conversations/${cid}/messages`, { client_msg_id: `t-${Date.now()}`, kind: "text", body: { text: "Copy me" } });
    for (const viewport of [{ width: 1440, height: 900 }, { width: 390, height: 844 }]) {
      const page = alice.page;
      await page.setViewportSize(viewport);
      await openChat(page, cid);
      await page.getByTestId("composer").fill("typing while a toast shows");
      // several toasts at once: the stack must stay clear of the composer too
      const line = page.getByTestId("message").filter({ hasText: "Copy me" }).locator(".bubble");
      for (let i = 0; i < 2; i++) {
        await line.click({ button: "right" });
        await page.getByRole("menuitem", { name: "Copy text" }).click();
      }
      await eventually(async () => assert.equal(await page.getByTestId("toast").count(), 2));
      const composer = await page.getByTestId("composer").boundingBox();
      const send = await page.getByTestId("send").boundingBox();
      for (const t of await page.getByTestId("toast").all()) {
        const box = await t.boundingBox();
        assert.ok(!overlaps(box, composer), `toast ${JSON.stringify(box)} clear of the composer ${JSON.stringify(composer)} at ${viewport.width}px`);
        assert.ok(!overlaps(box, send), `toast clear of Send at ${viewport.width}px`);
      }
      assert.ok(await reachable(page.getByTestId("send")));
      while (await page.getByTestId("toast").count()) await page.getByTestId("toast").first().getByRole("button", { name: "Dismiss" }).click();
    }
    await alice.page.setViewportSize({ width: 1440, height: 900 });
  });

  test("the theme switch persists over a reload, applies before the app runs, and follows the system", async () => {
    const page = carol.page;
    await page.emulateMedia({ colorScheme: "light" });
    await page.goto("/me");
    const html = page.locator("html");
    assert.equal(await html.getAttribute("data-theme"), "light");
    await page.getByTestId("theme-dark").check();
    assert.equal(await html.getAttribute("data-theme"), "dark");
    const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(await bg(), "rgb(15, 20, 28)");
    await shot(page, "21-theme-dark.png");

    // with the app's own script held back, the page is already dark: no light flash first
    await page.route("**/assets/*.js", (route) => route.abort());
    await page.reload();
    assert.equal(await html.getAttribute("data-theme"), "dark");
    assert.equal(await bg(), "rgb(15, 20, 28)");
    await page.unroute("**/assets/*.js");
    await page.reload();
    await page.getByTestId("theme-switch").waitFor();
    assert.ok(await page.getByTestId("theme-dark").isChecked(), "the choice is kept");

    await page.getByTestId("theme-system").check();
    assert.equal(await html.getAttribute("data-theme"), "light");
    await page.emulateMedia({ colorScheme: "dark" });
    await eventually(async () => assert.equal(await html.getAttribute("data-theme"), "dark"));
    await page.emulateMedia({ colorScheme: "light" });
    await eventually(async () => assert.equal(await html.getAttribute("data-theme"), "light"));
    await page.getByTestId("theme-light").check();
    await page.emulateMedia({ colorScheme: "dark" });
    await page.reload();
    assert.equal(await html.getAttribute("data-theme"), "light", "a fixed light theme ignores the dark system");
  });
});
