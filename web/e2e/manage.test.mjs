// End-to-end: pinned messages, forwarding, delete for me, and the list's mute, pin and archive.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { eventually, suite } from "./harness.mjs";

const t = suite();
const { person, befriend } = t;

let n = 0;
async function say(p, cid, text) {
  return p.api("POST", `/conversations/${cid}/messages`, { client_msg_id: `m${++n}`, kind: "text", body: { text } });
}

const bubble = (page, text) => page.getByTestId("message").filter({ hasText: text });
async function menuOn(page, text, action) {
  await bubble(page, text).locator(".bubble").click({ button: "right" });
  await page.getByTestId(action).click();
}

describe("managing messages and conversations", () => {
  let alice, bob, carol, ab, ac, gid;

  before(async () => {
    if (t.startError) return;
    alice = await person("Alice");
    bob = await person("Bob");
    carol = await person("Carol");
    await befriend(alice, bob);
    await befriend(alice, carol);
    ab = (await alice.api("POST", "/conversations/private", { user_id: bob.id })).id;
    ac = (await alice.api("POST", "/conversations/private", { user_id: carol.id })).id;
    gid = (await alice.api("POST", "/groups", { name: "Garden", member_ids: [bob.id, carol.id] })).id;
  });

  test("a pinned message shows in the bar, for the other side too, with a count when several", async () => {
    if (t.startError) throw t.startError;
    await say(alice, ab, "Meet at the north gate");
    await say(bob, ab, "Bring the map");
    await alice.page.goto(`/c/${ab}`);
    await bubble(alice.page, "Meet at the north gate").waitFor({ timeout: 10_000 });
    await bob.page.goto(`/c/${ab}`);
    await bubble(bob.page, "Bring the map").waitFor({ timeout: 10_000 });

    await menuOn(alice.page, "Meet at the north gate", "pin");
    await eventually(async () => assert.match(await alice.page.getByTestId("pin-text").textContent(), /north gate/));
    // Bob's bar follows the pin tip live.
    await eventually(async () => assert.match(await bob.page.getByTestId("pin-text").textContent(), /north gate/));

    await menuOn(bob.page, "Bring the map", "pin");
    await eventually(async () => assert.match(await alice.page.getByTestId("pin-text").textContent(), /Bring the map/));
    await alice.page.getByTestId("pin-count").click();
    await eventually(async () => assert.equal(await alice.page.getByTestId("pin-item").count(), 2));
    await alice.page.getByTestId("pin-item").filter({ hasText: "north gate" }).click();
    await eventually(async () => assert.ok(await bubble(alice.page, "Meet at the north gate").isVisible()));

    // In a group only the owner and admins may pin: Bob (a member) has no Pin entry.
    await say(bob, gid, "Seeds arrived");
    await bob.page.goto(`/c/${gid}`);
    await bubble(bob.page, "Seeds arrived").locator(".bubble").click({ button: "right" });
    await bob.page.getByTestId("forward").waitFor();
    assert.equal(await bob.page.getByTestId("pin").count(), 0);
    await bob.page.getByTestId("menu-cancel").click();

    await menuOn(alice.page, "Meet at the north gate", "unpin");
    await eventually(async () => assert.equal(await alice.page.getByTestId("pin-count").count(), 0));
    assert.match(await alice.page.getByTestId("pin-text").textContent(), /Bring the map/);
  });

  test("forward a message to another chat: it arrives marked Forwarded", async () => {
    if (t.startError) throw t.startError;
    await alice.page.goto(`/c/${ab}`);
    await menuOn(alice.page, "Bring the map", "forward");
    const dialog = alice.page.getByTestId("forward-dialog");
    await dialog.getByTestId("forward-search").fill("Carol");
    await dialog.getByTestId(`forward-pick-${ac}`).check();
    assert.equal(await dialog.getByTestId(`forward-pick-${gid}`).count(), 0); // filtered out by the search
    await dialog.getByTestId("forward-send").click();
    await dialog.waitFor({ state: "detached" });

    await carol.page.goto(`/c/${ac}`);
    const copy = bubble(carol.page, "Bring the map");
    await copy.waitFor({ timeout: 10_000 });
    assert.equal((await copy.getByTestId("forwarded").textContent()).trim(), "Forwarded");
  });

  test("delete for me: gone on a second tab of the same user, still there for the other side", async () => {
    if (t.startError) throw t.startError;
    await say(bob, ab, "Secret plan");
    await say(bob, ab, "After the secret");
    await alice.page.goto(`/c/${ab}`);
    await bubble(alice.page, "Secret plan").waitFor({ timeout: 10_000 });
    const tab2 = await alice.context.newPage();
    await tab2.goto(`/c/${ab}`);
    await bubble(tab2, "Secret plan").waitFor({ timeout: 10_000 });

    alice.page.once("dialog", (d) => void d.accept());
    await menuOn(alice.page, "Secret plan", "hide");
    await eventually(async () => assert.equal(await bubble(alice.page, "Secret plan").count(), 0));
    await alice.page.getByTestId("tip").filter({ hasText: "You deleted this message" }).waitFor();
    // The other tab follows live; the messages around it stay.
    await eventually(async () => assert.equal(await bubble(tab2, "Secret plan").count(), 0));
    await tab2.getByTestId("tip").filter({ hasText: "You deleted this message" }).waitFor();
    assert.equal(await bubble(tab2, "After the secret").count(), 1);
    // Bob still has it.
    await bob.page.goto(`/c/${ab}`);
    await bubble(bob.page, "Secret plan").waitFor({ timeout: 10_000 });
    // After a reload the message stays deleted.
    await tab2.reload();
    await bubble(tab2, "After the secret").waitFor({ timeout: 10_000 });
    assert.equal(await bubble(tab2, "Secret plan").count(), 0);
    await tab2.close();
  });

  test("pin to top, mute and archive in the list survive a reload", async () => {
    if (t.startError) throw t.startError;
    await say(carol, ac, "Newest in the list");
    await alice.page.goto("/");
    const row = (id) => alice.page.getByTestId(`conv-${id}`);
    const order = async () => alice.page.locator("[data-testid^=conv-]:is(a)").evaluateAll((els) => els.map((e) => e.dataset.testid));
    await row(ac).waitFor({ timeout: 10_000 });
    assert.equal((await order())[0], `conv-${ac}`);

    const menu = async (id, action) => {
      await row(id).click({ button: "right" });
      await alice.page.getByTestId(action).click();
    };
    await menu(ab, "conv-pin");
    await eventually(async () => assert.equal((await order())[0], `conv-${ab}`));
    await row(ab).getByTestId("conv-pinned").waitFor();

    await menu(ac, "conv-mute-forever");
    await row(ac).getByTestId("conv-muted").waitFor();

    await menu(gid, "conv-archive");
    await eventually(async () => assert.equal(await row(gid).count(), 0));
    assert.match(await alice.page.getByTestId("archived-toggle").textContent(), /Archived \(1\)/);

    await alice.page.reload();
    await row(ab).waitFor({ timeout: 10_000 });
    assert.equal((await order())[0], `conv-${ab}`);
    await row(ab).getByTestId("conv-pinned").waitFor();
    await row(ac).getByTestId("conv-muted").waitFor();
    assert.equal(await row(gid).count(), 0);
    await alice.page.getByTestId("archived-toggle").click();
    await row(gid).waitFor();

    // A muted chat's unread badge is grey.
    await say(carol, ac, "Quiet news");
    await eventually(async () => assert.equal(await row(ac).locator(".badge.quiet").count(), 1));
    await menu(ac, "conv-unmute");
    await eventually(async () => assert.equal(await row(ac).getByTestId("conv-muted").count(), 0));
  });
});
