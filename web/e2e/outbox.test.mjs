// End-to-end: messages written offline wait in the outbox (across a reload) and arrive once, in
// order; opening a chat focuses the message box; drafts outlive navigation; typing ends on send.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { apiFor, eventually, launchBrowser, newPerson, sessionOf, shot, sleep, startServer, texts } from "./harness.mjs";

let server;
let browser;
let alice;
let bob;
let cid;
let startError = null;
/** Console errors and uncaught exceptions of Alice's page. */
const errors = [];
/** While false, Alice's browser cannot open a WebSocket to Pigeon (HTTP still works). */
let socketAllowed = true;

before(async () => {
  try {
    server = await startServer();
  } catch (e) {
    startError = e;
    return;
  }
  browser = await launchBrowser();
  alice = await newPerson(browser, server.base, "Alice");
  bob = await newPerson(browser, server.base, "Bob");
  alice.page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  alice.page.on("pageerror", (e) => errors.push(e.message));
  await alice.context.routeWebSocket(/\/ws$/, (ws) => {
    if (!socketAllowed) { ws.close({ code: 1011, reason: "test: no network" }); return; }
    ws.connectToServer();
  });
  const apiA = apiFor(server.base, (await sessionOf(alice.page)).access_token);
  const apiB = apiFor(server.base, (await sessionOf(bob.page)).access_token);
  const req = await apiA("POST", "/friends/requests", { user_id: bob.id, note: "hi" });
  await apiB("POST", `/friends/requests/${req.id}/accept`);
  cid = (await apiA("POST", "/conversations/private", { user_id: bob.id })).id;
  await alice.page.reload(); // from now on Alice's socket goes through the route above
  await alice.page.getByRole("heading", { name: "Chats" }).waitFor();
});

after(async () => {
  for (const p of [alice, bob]) await p?.context.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await server?.stop();
});

const composer = (page) => page.getByTestId("composer");
const messageTexts = (page) => texts(page.getByTestId("messages").locator("[data-testid=message-text]"));
const sentTexts = (page) => texts(page.getByTestId("messages").locator(".line:not([data-testid=message-pending]) [data-testid=message-text]"));
const pending = (page) => page.getByTestId("message-pending");

async function openChat(page) {
  await page.getByTestId("nav-chats").click();
  await page.getByTestId(`conv-${cid}`).click();
  await page.getByTestId("messages").waitFor();
}

async function waitForMessage(page, text) {
  await eventually(async () => assert.ok((await messageTexts(page)).includes(text), `"${text}" not shown`), { timeout: 20_000 });
}

test("opening a chat focuses the message box, with no errors in the console", async () => {
  if (startError) throw startError;
  await openChat(alice.page);
  await eventually(async () => assert.equal(await alice.page.evaluate(() => document.activeElement?.getAttribute("data-testid")), "composer"));
  // from the list to another view and back: focused again
  await alice.page.getByTestId("nav-contacts").click();
  await openChat(alice.page);
  await eventually(async () => assert.equal(await alice.page.evaluate(() => document.activeElement?.getAttribute("data-testid")), "composer"));
  assert.deepEqual(errors, [], "no console errors while opening chats");
});

test("a draft survives going to Contacts and a reload, and is cleared when sent", async () => {
  await openChat(alice.page);
  await composer(alice.page).fill("half a thought");
  await alice.page.getByTestId("nav-contacts").click();
  await openChat(alice.page);
  assert.equal(await composer(alice.page).inputValue(), "half a thought");
  await alice.page.reload();
  await alice.page.getByTestId("messages").waitFor();
  assert.equal(await composer(alice.page).inputValue(), "half a thought");
  await composer(alice.page).fill("a whole thought");
  await composer(alice.page).press("Enter");
  await bob.page.goto(`/c/${cid}`);
  await waitForMessage(bob.page, "a whole thought");
  await alice.page.reload();
  await alice.page.getByTestId("messages").waitFor();
  assert.equal(await composer(alice.page).inputValue(), "");
});

test("the peer's typing indicator ends as soon as the message arrives", async () => {
  await alice.page.goto(`/c/${cid}`);
  await alice.page.getByTestId("messages").waitFor();
  const subtitle = alice.page.getByTestId("chat-subtitle");
  // Typing frames are not stored: keep typing until Alice's socket is up and she sees it.
  const words = "On my way";
  let typed = "";
  await eventually(async () => {
    if (typed.length < words.length) {
      await composer(bob.page).press(words[typed.length] === " " ? "Space" : words[typed.length]);
      typed += words[typed.length];
    } else {
      await composer(bob.page).press("Backspace");
      typed = typed.slice(0, -1);
    }
    assert.match(await subtitle.textContent(), /typing/);
  }, { timeout: 20_000, interval: 300 });
  await composer(bob.page).fill(words);
  await composer(bob.page).press("Enter");
  await waitForMessage(alice.page, "On my way");
  const shownAt = Date.now();
  await eventually(async () => assert.doesNotMatch(await subtitle.textContent(), /typing/), { timeout: 1500, interval: 50 });
  assert.ok(Date.now() - shownAt < 1000, `typing… still shown ${Date.now() - shownAt} ms after the message`);
  // and it does not come back by itself
  await sleep(1500);
  assert.doesNotMatch(await subtitle.textContent(), /typing/);
});

test("messages written offline wait (across a reload) and arrive once, in order, when back online", async () => {
  await alice.page.goto(`/c/${cid}`);
  await alice.page.getByTestId("messages").waitFor();
  await bob.page.goto(`/c/${cid}`);
  await waitForMessage(bob.page, "On my way");
  const before = await sentTexts(bob.page);

  socketAllowed = false;
  await alice.context.setOffline(true);
  await alice.page.getByTestId("reconnecting").waitFor({ timeout: 15_000 });
  for (const t of ["Written offline 1", "Written offline 2"]) {
    await composer(alice.page).fill(t);
    await composer(alice.page).press("Enter");
  }
  await eventually(async () => assert.deepEqual(await pending(alice.page).evaluateAll((els) => els.map((e) => e.dataset.state)), ["queued", "queued"]));
  assert.equal((await pending(alice.page).first().getByTestId("status").textContent()).trim(), "Waiting for connection");
  assert.equal(await alice.page.getByTestId("retry").count(), 0, "a queued message is not failed");
  await shot(alice.page, "outbox-queued.png");

  // The page is reloaded while Pigeon still cannot be reached over the socket: the queue is kept.
  await alice.context.setOffline(false);
  await alice.page.reload();
  await alice.page.getByTestId("messages").waitFor();
  await eventually(async () => assert.deepEqual(await texts(pending(alice.page).getByTestId("message-text")), ["Written offline 1", "Written offline 2"]));
  await sleep(1500);
  assert.deepEqual(await sentTexts(bob.page), before, "nothing was sent while the socket was down");

  socketAllowed = true;
  await alice.page.getByTestId("reconnecting").waitFor({ state: "hidden", timeout: 30_000 });
  await eventually(async () => assert.equal(await pending(alice.page).count(), 0), { timeout: 15_000 });
  await eventually(async () => assert.deepEqual((await sentTexts(bob.page)).slice(before.length), ["Written offline 1", "Written offline 2"]));
  // exactly once on the server too, and in this order
  const api = apiFor(server.base, (await sessionOf(bob.page)).access_token);
  const page = await api("GET", `/conversations/${cid}/messages?limit=50`);
  const stored = page.messages.map((m) => m.body.text).filter((t) => t?.startsWith("Written offline"));
  assert.deepEqual(stored, ["Written offline 1", "Written offline 2"]);
  await sleep(1000);
  assert.deepEqual((await sentTexts(alice.page)).filter((t) => t.startsWith("Written offline")), ["Written offline 1", "Written offline 2"]);
});

test("a message the server refuses is Failed, with Retry and Delete in full view above the composer", async () => {
  const apiB = apiFor(server.base, (await sessionOf(bob.page)).access_token);
  await apiB("POST", `/blocks/${alice.id}`);
  try {
    await alice.page.goto(`/c/${cid}`);
    await alice.page.getByTestId("messages").waitFor();
    await composer(alice.page).fill("Refused one");
    await composer(alice.page).press("Enter");
    const row = alice.page.getByTestId("send-error").last();
    await row.waitFor({ timeout: 15_000 });
    assert.match(await row.textContent(), /cannot message this person/);
    const retry = row.getByTestId("retry");
    const del = row.getByRole("button", { name: "Delete" });
    assert.ok(await retry.isVisible());
    const boxTop = (await composer(alice.page).locator("xpath=ancestor::form").boundingBox()).y;
    const scroller = await alice.page.getByTestId("messages").boundingBox();
    await eventually(async () => {
      for (const b of [await retry.boundingBox(), await del.boundingBox()]) {
        assert.ok(b.y >= scroller.y && b.y + b.height <= Math.min(boxTop, scroller.y + scroller.height), `button at ${b.y}+${b.height}, composer at ${boxTop}`);
      }
    });
    await shot(alice.page, "outbox-failed.png");
    await del.click();
    await eventually(async () => assert.equal(await pending(alice.page).count(), 0));
    await alice.page.reload(); // deleted for good: not restored from the outbox
    await alice.page.getByTestId("messages").waitFor();
    await sleep(500);
    assert.equal(await pending(alice.page).count(), 0);
  } finally {
    await apiB("DELETE", `/blocks/${alice.id}`);
  }
});

test("a phone shows a placeholder that fits on one line", async () => {
  const phone = await newPerson(browser, server.base, "Phoebe", { viewport: { width: 390, height: 844 } });
  try {
    const api = apiFor(server.base, phone.token);
    const apiA = apiFor(server.base, (await sessionOf(alice.page)).access_token);
    const req = await api("POST", "/friends/requests", { user_id: alice.id, note: "hi" });
    await apiA("POST", `/friends/requests/${req.id}/accept`);
    const g = await api("POST", "/groups", { name: "Phone group", member_ids: [alice.id] });
    await phone.page.goto(`/c/${g.id}`);
    const box = composer(phone.page);
    await box.waitFor();
    const placeholder = await box.getAttribute("placeholder");
    assert.equal(placeholder, "Message the group");
    const fits = await box.evaluate((el) => {
      const probe = document.createElement("span");
      const cs = getComputedStyle(el);
      probe.style.font = cs.font;
      probe.style.whiteSpace = "nowrap";
      probe.textContent = el.placeholder;
      document.body.append(probe);
      const w = probe.getBoundingClientRect().width;
      probe.remove();
      return { text: w, box: el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) };
    });
    assert.ok(fits.text <= fits.box, `placeholder ${fits.text}px wide in a ${fits.box}px box`);
    await shot(phone.page, "outbox-phone-composer.png");
  } finally {
    await phone.context.close();
  }
});
