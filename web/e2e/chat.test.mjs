// End-to-end tests: real Pigeon server, real headless Chromium, two or three people chatting.
import assert from "node:assert/strict";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { SHOTS, apiFor, eventually, sleep, launchBrowser, newPerson, sessionOf, shot, startServer, texts } from "./harness.mjs";
import { collectAllRows, loadAllHistory } from "./longchat.mjs";

let server;
let browser;
const people = [];

let startError = null;

before(async () => {
  try {
    server = await startServer();
  } catch (e) {
    startError = e; // reported by the first test: a server that cannot start fails the run
  }
  browser = await launchBrowser();
});

test("Pigeon starts and serves the web client at /", async () => {
  if (startError) throw startError;
  const res = await fetch(`${server.base}/`);
  assert.equal(res.status, 200);
  assert.match(await res.text(), /<div id="app"><\/div>/);
  const deep = await fetch(`${server.base}/c/1`); // client-side routes fall back to index.html
  assert.equal(deep.status, 200);
});

after(async () => {
  for (const p of people) await p.context.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await server?.stop();
});

async function person(name, opts) {
  const p = await newPerson(browser, server.base, name, opts);
  people.push(p);
  return p;
}

async function tokenOf(p) {
  const s = await sessionOf(p.page);
  return s.access_token;
}

/** Make two people friends through the API (for scenarios that are not about friending). */
async function befriend(a, b) {
  const apiA = apiFor(server.base, await tokenOf(a));
  const apiB = apiFor(server.base, await tokenOf(b));
  const { friends } = await apiA("GET", "/friends");
  if (friends.some((f) => f.user.id === b.id)) return;
  const req = await apiA("POST", "/friends/requests", { user_id: b.id, note: "hi" });
  await apiB("POST", `/friends/requests/${req.id}/accept`);
}

async function privateConversation(a, b) {
  const c = await apiFor(server.base, await tokenOf(a))("POST", "/conversations/private", { user_id: b.id });
  return c.id;
}

const composer = (page) => page.getByTestId("composer");
async function send(page, text) {
  await composer(page).fill(text);
  await composer(page).press("Enter");
}
const messageTexts = (page) => texts(page.getByTestId("messages").getByTestId("message-text"));
const convRow = (page, id) => page.getByTestId(`conv-${id}`);

async function openChat(page, cid) {
  await page.getByTestId("nav-chats").click();
  await convRow(page, cid).click();
  await page.getByTestId("messages").waitFor();
}

async function waitForMessage(page, text, timeout = 10_000) {
  try {
    await eventually(async () => assert.ok((await messageTexts(page)).includes(text), `"${text}" not shown; shown: ${JSON.stringify(await messageTexts(page))}`), { timeout });
  } catch (e) {
    await shot(page, `failed-${Date.now()}.png`).catch(() => undefined);
    e.message += ` (page: ${page.url()})`;
    throw e;
  }
}

describe("Pigeon web client", () => {
  let alice, bob, carol;
  let aliceBob; // conversation id
  let groupId;

  before(async () => {
    if (startError) return; // every test below then fails on its own
    alice = await person("Alice");
    bob = await person("Bob");
  });

  test("two people register, become friends through the UI and chat both ways", async () => {
    // Alice finds Bob and sends a friend request.
    await alice.page.getByTestId("nav-contacts").click();
    await alice.page.getByTestId("user-search").fill(bob.username);
    await alice.page.getByRole("button", { name: "Search" }).click();
    await alice.page.getByTestId(`result-${bob.username}`).getByTestId("add-friend").click();
    await alice.page.getByTestId(`result-${bob.username}`).getByText("Request sent").waitFor();

    // Bob sees it live (friend_request event) and accepts.
    await bob.page.getByTestId("nav-contacts").click();
    const request = bob.page.getByTestId(`request-from-${alice.username}`);
    await request.waitFor({ timeout: 10_000 });
    await request.getByTestId("accept").click();
    await bob.page.getByTestId(`friend-${alice.username}`).waitFor();

    // Alice's friend list updates by itself, with Bob online.
    await alice.page.getByTestId(`friend-${bob.username}`).waitFor({ timeout: 10_000 });
    await eventually(async () => assert.equal(await alice.page.getByTestId(`presence-${bob.username}`).textContent(), "Online"));
    await shot(alice.page, "01-contacts.png");

    // Alice opens the chat and writes.
    await alice.page.getByTestId(`message-${bob.username}`).click();
    await alice.page.getByTestId("messages").waitFor();
    aliceBob = Number(new URL(alice.page.url()).pathname.split("/").pop());
    assert.ok(aliceBob > 0);
    await send(alice.page, "Hello Bob 👋");
    await waitForMessage(alice.page, "Hello Bob 👋");
    // optimistic message confirmed by the ack
    await eventually(async () => assert.equal(await alice.page.getByTestId("message-pending").count(), 0));

    // Bob gets it live: conversation, unread badge, total in the tab title.
    await bob.page.getByTestId("nav-chats").click();
    const row = convRow(bob.page, aliceBob);
    await eventually(async () => assert.equal((await row.getByTestId("unread").textContent()).trim(), "1"));
    await eventually(async () => assert.equal(await bob.page.title(), "(1) Pigeon"));
    assert.match(await row.getByTestId("conv-preview").textContent(), /Hello Bob/);

    await row.click();
    await waitForMessage(bob.page, "Hello Bob 👋");
    await eventually(async () => assert.equal(await bob.page.title(), "Pigeon"));

    // Alice sees that Bob read it.
    await eventually(async () => {
      const status = await alice.page.getByTestId("message").last().getByTestId("status").textContent();
      assert.equal(status.trim(), "Read");
    });

    // Bob answers; Alice sees it, and sees Bob typing first.
    await composer(bob.page).pressSequentially("Hi Alice", { delay: 20 });
    await eventually(async () => assert.match(await alice.page.getByTestId("chat-subtitle").textContent(), /typing/));
    await composer(bob.page).press("Enter");
    await waitForMessage(alice.page, "Hi Alice");
    await send(alice.page, "How are you?");
    await waitForMessage(bob.page, "How are you?");
    const aliceSees = await messageTexts(alice.page);
    assert.deepEqual(aliceSees.slice(-3), ["Hello Bob 👋", "Hi Alice", "How are you?"]);
    await shot(alice.page, "02-chat.png");
  });

  test("a person who was offline catches up on everything in order", async () => {
    await befriend(alice, bob);
    if (!aliceBob) aliceBob = await privateConversation(alice, bob);
    await alice.page.goto(`/c/${aliceBob}`);
    await alice.page.getByTestId("messages").waitFor();

    const subtitle = () => alice.page.getByTestId("chat-subtitle").textContent().then((t) => t.trim());
    await eventually(async () => assert.equal(await subtitle(), "online"), { timeout: 15_000 });
    await bob.page.close();
    // Bob stays away longer than Pigeon's presence grace period (3 s; a quick reload announces nothing).
    await sleep(4500);
    await eventually(async () => assert.equal(await subtitle(), "last seen just now"), { timeout: 15_000 });

    const missed = ["While you were away 1", "While you were away 2", "While you were away 3"];
    for (const t of missed) await send(alice.page, t);
    await eventually(async () => assert.equal(await alice.page.getByTestId("message-pending").count(), 0));

    // Bob comes back in a new tab of the same browser: still logged in, catches up.
    bob.page = await bob.context.newPage();
    await bob.page.goto("/");
    const row = convRow(bob.page, aliceBob);
    await eventually(async () => assert.equal((await row.getByTestId("unread").textContent()).trim(), "3"), { timeout: 15_000 });
    assert.match(await row.getByTestId("conv-preview").textContent(), /While you were away 3/);
    await row.click();
    await waitForMessage(bob.page, "While you were away 3");
    const seen = await messageTexts(bob.page);
    assert.deepEqual(seen.slice(-3), missed, "missed messages in order, no duplicates");
    assert.equal(new Set(seen).size, seen.length, "no message shown twice");
    await eventually(async () => assert.equal((await alice.page.getByTestId("chat-subtitle").textContent()).trim(), "online"), { timeout: 15_000 });
  });

  test("a group of three chats, with a recall and read counts", async () => {
    carol = await person("Carol");
    await befriend(alice, bob);
    await befriend(alice, carol);
    await alice.page.goto("/");
    await alice.page.getByTestId("new-group").click();
    const dlg = alice.page.getByTestId("new-group-dialog");
    await dlg.getByTestId("group-name-new").fill("Weekend plan");
    await dlg.getByTestId(`pick-${bob.username}`).check();
    await dlg.getByTestId(`pick-${carol.username}`).check();
    await dlg.getByTestId("create-group").click();
    await alice.page.waitForURL(/\/c\/\d+$/);
    const gid = Number(new URL(alice.page.url()).pathname.split("/").pop());
    groupId = gid;
    assert.equal((await alice.page.getByTestId("chat-title").textContent()).trim(), "Weekend plan");

    await send(alice.page, "Who is in for Saturday?");
    await waitForMessage(alice.page, "Who is in for Saturday?");

    for (const p of [bob, carol]) {
      await p.page.goto("/");
      await convRow(p.page, gid).waitFor({ timeout: 10_000 });
      await openChat(p.page, gid);
      await waitForMessage(p.page, "Who is in for Saturday?");
    }
    // membership changes appear as centred system tips (when the server writes them)
    await send(bob.page, "Me! 🙋");
    await send(carol.page, "Count me in");
    await waitForMessage(alice.page, "Me! 🙋");
    await waitForMessage(alice.page, "Count me in");

    // Read counts on Alice's message: both read it.
    await eventually(async () => {
      const mine = alice.page.getByTestId("message").filter({ hasText: "Who is in for Saturday?" });
      assert.equal((await mine.getByTestId("status").textContent()).trim(), "Read by 2");
    }, { timeout: 15_000 });

    // Alice recalls a message from the context menu.
    await send(alice.page, "oops, wrong chat");
    await waitForMessage(bob.page, "oops, wrong chat");
    await eventually(async () => assert.equal(await alice.page.getByTestId("message-pending").count(), 0));
    const bubble = alice.page.getByTestId("message").filter({ hasText: "oops, wrong chat" }).locator(".bubble");
    await bubble.click({ button: "right" });
    await alice.page.getByTestId("recall").click();
    await eventually(async () => assert.ok((await texts(alice.page.getByTestId("tip"))).includes("You recalled a message")));
    for (const p of [bob, carol]) {
      await eventually(async () => {
        assert.ok((await texts(p.page.getByTestId("tip"))).includes("Alice recalled a message"));
        assert.ok(!(await messageTexts(p.page)).includes("oops, wrong chat"));
      });
    }
    await shot(carol.page, "03-group.png");
  });

  test("a message containing HTML is shown as text", async () => {
    await befriend(alice, bob);
    const cid = aliceBob ?? (await privateConversation(alice, bob));
    await alice.page.goto(`/c/${cid}`);
    await bob.page.goto(`/c/${cid}`);
    await bob.page.getByTestId("messages").waitFor();
    const evil = `<b>bold</b> <img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script>`;
    await send(alice.page, evil);
    await waitForMessage(bob.page, evil);
    const last = bob.page.getByTestId("message-text").last();
    assert.equal(await last.textContent(), evil);
    assert.equal(await last.locator("b, img, script").count(), 0);
    assert.equal(await bob.page.evaluate(() => window.__pwned), undefined);
    const preview = await alice.page.evaluate(() => document.querySelector("[data-testid=conv-preview]")?.innerHTML ?? "");
    assert.ok(!preview.includes("<b>"), "the list preview is text too");
  });

  test("a phone-sized screen works: list, then chat, then back", async () => {
    await befriend(alice, bob);
    const cid = aliceBob ?? (await privateConversation(alice, bob));
    const phone = await person("Phone", { viewport: { width: 390, height: 844 }, register: false });
    phone.username = bob.username;
    await phone.page.goto("/login");
    await phone.page.fill('input[name="username"]', bob.username);
    await phone.page.fill('input[name="password"]', bob.password);
    await phone.page.click('button[type="submit"]');

    const list = phone.page.getByTestId("conversation-list");
    await list.waitFor();
    assert.equal(await phone.page.getByTestId("messages").count(), 0, "only the list on a phone");
    await shot(phone.page, "05-phone-list.png");

    await convRow(phone.page, cid).click();
    await phone.page.getByTestId("messages").waitFor();
    assert.equal(await list.isVisible(), false, "the list is hidden while chatting");
    assert.ok(await phone.page.getByTestId("back").isVisible());
    const box = await phone.page.getByTestId("composer").boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 390, "composer fits the screen");
    await send(phone.page, "Sent from my phone 📱");
    await waitForMessage(alice.page, "Sent from my phone 📱", 15_000);
    await shot(phone.page, "06-phone-chat.png");

    await phone.page.getByTestId("back").click();
    await list.waitFor();
    assert.equal(await phone.page.getByTestId("messages").count(), 0);
  });

  test("a second browser leaves the first online, @mentions reach the right person, and the group chat view", async () => {
    assert.ok(groupId, "the group scenario created the group");
    // The phone login above is another device of Bob's: his desktop browser stays connected.
    assert.equal(await bob.page.getByTestId("kicked").count(), 0, "nobody was logged out");
    await bob.page.goto("/");
    await convRow(bob.page, groupId).waitFor();

    await alice.page.setViewportSize({ width: 1280, height: 800 });
    await alice.page.goto(`/c/${groupId}`);
    await waitForMessage(alice.page, "Count me in");
    // @ opens the member picker; Enter picks Bob.
    await composer(alice.page).pressSequentially("@" + "Bo", { delay: 30 });
    await alice.page.getByRole("option", { name: /Bob/ }).waitFor();
    await composer(alice.page).press("Enter");
    await composer(alice.page).pressSequentially("can you bring the snacks? 🍕", { delay: 5 });
    assert.equal(await composer(alice.page).inputValue(), "@Bob can you bring the snacks? 🍕");
    await composer(alice.page).press("Enter");
    await waitForMessage(alice.page, "@Bob can you bring the snacks? 🍕");

    const row = convRow(bob.page, groupId);
    await eventually(async () => assert.match(await row.getByTestId("conv-preview").textContent(), /\[@you\].*snacks/));
    await eventually(async () => assert.equal((await row.getByTestId("unread").textContent()).trim(), "1"));
    const carolRow = convRow(carol.page, groupId);
    await carol.page.goto("/");
    await eventually(async () => assert.match(await carolRow.getByTestId("conv-preview").textContent(), /snacks/));
    assert.doesNotMatch(await carolRow.getByTestId("conv-preview").textContent(), /@you/);

    await row.click();
    await waitForMessage(bob.page, "@Bob can you bring the snacks? 🍕");
    await send(bob.page, "Sure, pizza it is 🎉");
    await waitForMessage(alice.page, "Sure, pizza it is 🎉");
    await alice.page.getByTestId("composer").blur();
    await shot(alice.page, "07-group-chat-view.png");
    copyFileSync(join(SHOTS, "07-group-chat-view.png"), join(SHOTS, "chat.png"));
});

  test("history loads older pages as you scroll up, in order, without duplicates", async () => {
    await befriend(alice, carol);
    const cid = await privateConversation(carol, alice);
    const api = apiFor(server.base, await tokenOf(carol));
    const total = 130;
    let lastSeq = 0;
    for (let i = 1; i <= total; i++) {
      for (;;) {
        try {
          lastSeq = (await api("POST", `/conversations/${cid}/messages`, { client_msg_id: `hist-${cid}-${i}`, kind: "text", body: { text: `History ${i}` } })).seq;
          break;
        } catch (e) {
          if (!/ -> 429 /.test(e.message)) throw e;
          await sleep(500);
        }
      }
    }
    // read already, so the chat opens at the newest message (not at the first unread)
    await apiFor(server.base, await tokenOf(alice))("POST", `/conversations/${cid}/read`, { seq: lastSeq });
    await alice.page.goto(`/c/${cid}`);
    await waitForMessage(alice.page, `History ${total}`);
    const first = await messageTexts(alice.page);
    assert.ok(first.length < total, `only the newest page at first (${first.length})`);
    await loadAllHistory(alice.page, { timeout: 60_000 });
    // the list is virtualised: walk it top to bottom to read every row
    const all = (await collectAllRows(alice.page)).map((r) => r.text);
    assert.deepEqual(all, Array.from({ length: total }, (_, i) => `History ${i + 1}`));
    await alice.page.getByTestId("messages").evaluate((el) => { el.dispatchEvent(new WheelEvent("wheel", { deltaY: -1 })); el.scrollTop = 0; });
    await alice.page.getByText("This is the beginning of the conversation.").waitFor();
    assert.ok((await texts(alice.page.locator("[role=separator]"))).includes("Today"));
  });

  test("after the server restarts the client reconnects by itself; a message written meanwhile is sent once", async () => {
    const cid = aliceBob;
    assert.ok(cid);
    await alice.page.goto(`/c/${cid}`);
    await alice.page.getByTestId("messages").waitFor();
    await bob.page.goto(`/c/${cid}`);
    await waitForMessage(bob.page, "Sent from my phone 📱");
    await waitForMessage(alice.page, "Sent from my phone 📱");

    await server.halt();
    await alice.page.getByTestId("reconnecting").waitFor({ timeout: 15_000 });
    await shot(alice.page, "08-reconnecting.png");

    // Sending while the server is down queues the message (no failure, no Retry needed).
    await send(alice.page, "Sent during the outage");
    const pending = alice.page.getByTestId("message-pending");
    await eventually(async () => assert.equal((await pending.getByTestId("status").textContent()).trim(), "Waiting for connection"), { timeout: 15_000 });
    assert.equal(await pending.getByTestId("retry").count(), 0);

    await server.resume();
    await alice.page.getByTestId("reconnecting").waitFor({ state: "hidden", timeout: 30_000 });
    await bob.page.getByTestId("reconnecting").waitFor({ state: "hidden", timeout: 30_000 });

    await eventually(async () => assert.equal(await alice.page.getByTestId("message-pending").count(), 0), { timeout: 15_000 });
    await waitForMessage(bob.page, "Sent during the outage");
    await send(bob.page, "Welcome back");
    await waitForMessage(alice.page, "Welcome back");
    for (const p of [alice, bob]) {
      const shown = await messageTexts(p.page);
      assert.equal(shown.filter((t) => t === "Sent during the outage").length, 1, "the queued message is there exactly once");
    }
  });

  test("group owner edits the notice, sees roles, and removes a member (system tips)", async () => {
    assert.ok(groupId, "the group scenario created the group");
    alice.page.on("dialog", (d) => void d.accept());
    await alice.page.goto(`/c/${groupId}`);
    await bob.page.goto(`/c/${groupId}`);
    await carol.page.goto(`/c/${groupId}`);
    await alice.page.getByTestId("group-info").click();
    const panel = alice.page.getByTestId("group-panel");
    const members = panel.getByTestId("members");
    await eventually(async () => assert.equal(await members.locator("li").count(), 3));
    const ownerRow = members.locator("li").filter({ hasText: "You" });
    assert.equal((await ownerRow.locator(".role").textContent()).trim(), "owner");

    await panel.getByTestId("edit-group").click();
    await panel.getByTestId("group-notice-input").fill("Meet at 10:00 by the station");
    await panel.getByRole("button", { name: "Save" }).click();
    for (const p of [bob, carol]) {
      await eventually(async () => assert.match(await p.page.getByTestId("group-notice").textContent(), /Meet at 10:00/), { timeout: 10_000 });
    }
    await shot(alice.page, "09-group-panel.png");

    await members.locator("li").filter({ hasText: "Carol" }).getByTestId("member-menu").click();
    await panel.getByRole("menuitem", { name: "Remove from group" }).click();
    await eventually(async () => assert.equal(await members.locator("li").count(), 2));
    await eventually(async () => assert.ok((await texts(bob.page.getByTestId("tip"))).some((t) => /removed/i.test(t) && /carol/i.test(t))), { timeout: 10_000 });
    await carol.page.getByText("You are no longer a member of this group.").waitFor({ timeout: 10_000 });
    assert.equal(await carol.page.getByTestId("composer").count(), 0, "a removed member cannot write");
  });
});
