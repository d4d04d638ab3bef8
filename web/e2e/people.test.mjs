// End-to-end: names of group members who are not friends, message info (who read), last seen.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { eventually, shot, suite, texts } from "./harness.mjs";

const t = suite();
const { person, befriend } = t;

const convRow = (page, id) => page.getByTestId(`conv-${id}`);
const subtitle = async (page) => (await page.getByTestId("chat-subtitle").textContent()).trim();

describe("people in the web client", () => {
  let alice, bob, carol, gid;

  before(async () => {
    if (t.startError) return;
    alice = await person("Alice");
    bob = await person("Bob");
    carol = await person("Carol");
    // Alice knows both; Bob and Carol are not friends.
    await befriend(alice, bob);
    await befriend(alice, carol);
    const group = await alice.api("POST", "/groups", { name: "Book club", member_ids: [bob.id, carol.id] });
    gid = group.id;
  });

  test("a group member who is not a friend is named in the list preview and the bubbles", async () => {
    if (t.startError) throw t.startError;
    await carol.api("POST", `/conversations/${gid}/messages`, { client_msg_id: "c1", kind: "text", body: { text: "Chapter 3 tonight?" } });
    await bob.page.goto("/");
    const row = convRow(bob.page, gid);
    await row.waitFor({ timeout: 10_000 });
    // Bob has not opened the group (no member list loaded): the name comes from the profile cache.
    await eventually(async () => assert.equal((await row.getByTestId("conv-preview").textContent()).trim(), "Carol: Chapter 3 tonight?"));
    await row.click();
    await bob.page.getByTestId("messages").waitFor();
    const line = bob.page.getByTestId("message").filter({ hasText: "Chapter 3 tonight?" });
    await eventually(async () => assert.equal((await line.locator(".sender").textContent()).trim(), "Carol"));
    assert.equal(await bob.page.getByText(/User \d+/).count(), 0);
  });

  test("Read by N follows each reader live, and Message info lists who read and who did not", async () => {
    if (t.startError) throw t.startError;
    await alice.page.goto(`/c/${gid}`);
    await alice.page.getByTestId("composer").fill("Who has finished it?");
    await alice.page.getByTestId("composer").press("Enter");
    const mine = alice.page.getByTestId("message").filter({ hasText: "Who has finished it?" });
    await mine.waitFor({ timeout: 10_000 });
    const seq = Number(await mine.getAttribute("data-seq"));
    const status = async () => (await mine.getByTestId("status").textContent()).trim();

    // Nobody else sends anything: the receipts alone must move the count.
    await bob.api("POST", `/conversations/${gid}/read`, { seq });
    await eventually(async () => assert.equal(await status(), "Read by 1"), { timeout: 10_000 });

    await mine.locator(".bubble").click({ button: "right" });
    await alice.page.getByTestId("message-info-open").click();
    const info = alice.page.getByTestId("message-info");
    await eventually(async () => {
      assert.deepEqual(await texts(info.getByTestId("info-readers").getByTestId("info-name")), ["Bob"]);
      assert.deepEqual(await texts(info.getByTestId("info-unread").getByTestId("info-name")), ["Carol"]);
    });
    await info.getByTestId("info-close").click();

    await carol.api("POST", `/conversations/${gid}/read`, { seq });
    await eventually(async () => assert.equal(await status(), "Read by 2"), { timeout: 10_000 });
    const readers = await alice.api("GET", `/conversations/${gid}/messages/${seq}/readers`);
    assert.equal(readers.read_count, 2);

    await mine.locator(".bubble").click({ button: "right" });
    await alice.page.getByTestId("message-info-open").click();
    await eventually(async () => {
      assert.deepEqual((await texts(info.getByTestId("info-readers").getByTestId("info-name"))).sort(), ["Bob", "Carol"]);
      assert.deepEqual(await texts(info.getByTestId("info-unread").locator("li")), ["Everyone has read it"]);
    });
    await shot(alice.page, "20-message-info.png");
    await info.getByTestId("info-close").click();
  });

  test("last seen shows once a friend goes offline; during an outage presence is marked unknown", async () => {
    if (t.startError) throw t.startError;
    const { id: cid } = await alice.api("POST", "/conversations/private", { user_id: bob.id });
    await alice.page.goto(`/c/${cid}`);
    await eventually(async () => assert.equal(await subtitle(alice.page), "online"), { timeout: 10_000 });

    await bob.context.close(); // Bob's only device goes away
    t.people.splice(t.people.indexOf(bob), 1);
    await eventually(async () => assert.equal(await subtitle(alice.page), "last seen just now"), { timeout: 15_000 });

    await alice.page.getByTestId("nav-contacts").click();
    const status = alice.page.getByTestId(`presence-${bob.username}`);
    await eventually(async () => assert.equal((await status.textContent()).trim(), "Last seen just now"));

    // Alice's own connection goes down: nobody is shown offline, the status says it is unknown.
    await alice.page.getByTestId("nav-chats").click();
    await convRow(alice.page, cid).click();
    await eventually(async () => assert.equal(await subtitle(alice.page), "last seen just now"));
    await t.server.halt();
    await eventually(async () => assert.equal(await subtitle(alice.page), "Connecting… — status may be out of date"), { timeout: 15_000 });
    await shot(alice.page, "21-presence-unknown.png");
    await alice.page.getByTestId("nav-contacts").click();
    await eventually(async () => assert.equal((await status.textContent()).trim(), "Connecting… — status may be out of date"));
    await t.server.resume();
    // Back online, and last seen was kept across the restart.
    await eventually(async () => assert.match((await status.textContent()).trim(), /^Last seen (just now|1 min ago)$/), { timeout: 30_000 });
  });
});
