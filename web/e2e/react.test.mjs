// End-to-end: replies, edits and reactions between two people, live and after a reload.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eventually, shot, suite } from "./harness.mjs";

const t = suite();
const { person } = t;

const line = (page, text) => page.getByTestId("message").filter({ hasText: text });

async function menu(page, text, action) {
  const l = line(page, text).first();
  await l.locator(".bubble").hover();
  await l.getByTestId("message-actions").click();
  await page.getByTestId(action).click();
}

async function openChat(p, cid) {
  await p.page.goto(`/c/${cid}`);
  await p.page.getByTestId("messages").waitFor();
}

describe("replies, edits and reactions in the web client", () => {
  let alice, bob, cid;

  before(async () => {
    if (t.startError) return;
    alice = await person("Alice");
    bob = await person("Bob");
    const req = await alice.api("POST", "/friends/requests", { user_id: bob.id });
    await bob.api("POST", `/friends/requests/${req.id}/accept`);
    cid = (await alice.api("POST", "/conversations/private", { user_id: bob.id })).id;
    await bob.api("POST", `/conversations/${cid}/messages`, { client_msg_id: "b1", kind: "text", body: { text: "Lunch at noon?" } });
    await openChat(alice, cid);
    await openChat(bob, cid);
  });

  test("a reply quotes its original for both, and the quote scrolls to it", async () => {
    if (t.startError) throw t.startError;
    await line(alice.page, "Lunch at noon?").waitFor();
    await menu(alice.page, "Lunch at noon?", "reply");
    const bar = alice.page.getByTestId("composer-quote");
    await bar.waitFor();
    assert.match(await bar.textContent(), /Reply to Bob\s*Lunch at noon\?/);
    await alice.page.getByTestId("composer").fill("Sounds good");
    await alice.page.getByTestId("composer").press("Enter");
    assert.equal(await bar.count(), 0);
    for (const p of [alice, bob]) {
      const reply = line(p.page, "Sounds good");
      await reply.waitFor();
      await eventually(async () => assert.equal((await reply.getByTestId("quote-snippet").textContent()).trim(), "Lunch at noon?"));
    }
    assert.equal((await line(bob.page, "Sounds good").getByTestId("reply-quote").locator("b").textContent()).trim(), "You");
    await line(bob.page, "Sounds good").getByTestId("reply-quote").click();
    await eventually(async () => assert.equal(await bob.page.locator(".bubble.flash").count(), 1));
    // Esc cancels a reply
    await menu(bob.page, "Sounds good", "reply");
    await bob.page.getByTestId("composer").press("Escape");
    assert.equal(await bob.page.getByTestId("composer-quote").count(), 0);
  });

  test("an edit shows for both as edited, and the quote follows it", async () => {
    if (t.startError) throw t.startError;
    // only my own messages offer Edit
    await line(alice.page, "Lunch at noon?").first().locator(".bubble").hover();
    await line(alice.page, "Lunch at noon?").first().getByTestId("message-actions").click();
    assert.equal(await alice.page.getByTestId("edit").count(), 0);
    await alice.page.getByTestId("menu-cancel").click();

    await bob.page.getByTestId("composer").fill("my draft");
    await menu(bob.page, "Lunch at noon?", "edit");
    const box = bob.page.getByTestId("composer");
    assert.equal(await box.inputValue(), "Lunch at noon?");
    await box.fill("Lunch at one?");
    await box.press("Enter");
    await eventually(async () => assert.equal(await box.inputValue(), "my draft")); // the draft comes back
    for (const p of [bob, alice]) {
      const l = line(p.page, "Lunch at one?").filter({ hasNot: p.page.getByTestId("reply-quote") });
      await eventually(async () => assert.equal(await l.getByTestId("edited").count(), 1));
      await eventually(async () => assert.equal((await line(p.page, "Sounds good").getByTestId("quote-snippet").textContent()).trim(), "Lunch at one?"));
    }
    await box.fill("");
  });

  test("reactions show as chips for both, toggle on click and name who reacted", async () => {
    if (t.startError) throw t.startError;
    await menu(alice.page, "Lunch at one?", "react");
    await alice.page.getByTestId("react-picker").waitFor();
    await alice.page.getByTestId("react-👍").click();
    const chipOf = (p) => line(p.page, "Lunch at one?").first().getByTestId("reaction");
    await eventually(async () => assert.equal((await chipOf(bob).textContent()).replace(/\s+/g, " ").trim(), "👍 1"));
    assert.equal(await chipOf(bob).getAttribute("title"), "Alice");
    assert.equal(await chipOf(bob).getAttribute("aria-pressed"), "false");
    assert.equal(await chipOf(alice).getAttribute("aria-pressed"), "true");
    await chipOf(bob).click();
    for (const p of [alice, bob]) {
      await eventually(async () => assert.equal((await chipOf(p).getByTestId("reaction-count").textContent()).trim(), "2"));
    }
    assert.equal(await chipOf(alice).getAttribute("title"), "You, Bob");
    // the full picker adds another emoji
    await menu(bob.page, "Lunch at one?", "react");
    await bob.page.getByTestId("react-more").click();
    await bob.page.getByRole("button", { name: "Insert 🎉" }).click();
    await eventually(async () => assert.equal(await chipOf(alice).count(), 2));
    await chipOf(alice).first().click(); // Alice takes hers off
    await eventually(async () => assert.equal((await chipOf(bob).first().getByTestId("reaction-count").textContent()).trim(), "1"));
    await shot(bob.page, "react-chips.png");
  });

  test("after a reload both see the replies, edits and reactions as they stand", async () => {
    if (t.startError) throw t.startError;
    for (const p of [alice, bob]) {
      await p.page.reload();
      await p.page.getByTestId("messages").waitFor();
      const original = line(p.page, "Lunch at one?").first();
      await original.waitFor();
      assert.equal(await original.getByTestId("edited").count(), 1);
      const chips = (await original.getByTestId("reaction").allTextContents()).map((s) => s.replace(/\s+/g, " ").trim());
      assert.deepEqual(chips, ["👍 1", "🎉 1"]);
      assert.equal((await line(p.page, "Sounds good").getByTestId("quote-snippet").textContent()).trim(), "Lunch at one?");
    }
  });

  test("changes made while a device was away arrive once it reconnects (the changes feed)", async () => {
    if (t.startError) throw t.startError;
    const reply = line(alice.page, "Sounds good");
    const page = await bob.api("GET", `/conversations/${cid}/messages?limit=10`);
    const id = page.messages.find((m) => m.body?.text === "Sounds good").id;
    const asked = [];
    alice.page.on("request", (r) => { if (r.url().includes(`/conversations/${cid}/changes?`)) asked.push(r.url()); });
    await alice.context.setOffline(true);
    await alice.page.getByTestId("reconnecting").waitFor({ timeout: 15_000 });
    await bob.api("PUT", `/messages/${id}/reactions/${encodeURIComponent("❤️")}`);
    await alice.context.setOffline(false);
    await eventually(async () => assert.equal((await reply.getByTestId("reaction").textContent()).replace(/\s+/g, " ").trim(), "❤️ 1"), { timeout: 30_000 });
    assert.equal(await reply.getByTestId("reaction").getAttribute("title"), "Bob");
    assert.ok(asked.length >= 1, "the reconnected device asked the changes feed");
  });

  test("a recalled original shows as recalled in the quote, live", async () => {
    if (t.startError) throw t.startError;
    await menu(bob.page, "Lunch at one?", "recall");
    for (const p of [alice, bob]) {
      await eventually(async () => assert.equal((await line(p.page, "Sounds good").getByTestId("quote-recalled").textContent()).trim(), "Message recalled"));
    }
  });
});
