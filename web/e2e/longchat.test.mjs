// End-to-end tests of long chats: a burst into a virtualised list, the unread divider and
// "jump to latest", clickable links that stay safe, and a message menu that stays open.
// Correctness only: how fast it is belongs to e2e/bench-longchat.mjs.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { apiFor, eventually, launchBrowser, newPerson, shot, startServer, texts } from "./harness.mjs";
import { befriendApi, collectAllRows, loadAllHistory, registerApi, renderedSeqs, sendMany, variedText } from "./longchat.mjs";

let server;
let browser;
let reader;
let startError = null;

before(async () => {
  try {
    server = await startServer();
    browser = await launchBrowser();
    reader = await newPerson(browser, server.base, "Reader");
    reader.api = apiFor(server.base, reader.token);
  } catch (e) {
    startError = e;
  }
});

after(async () => {
  await reader?.context.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await server?.stop();
});

let n = 0;
/** A new person who is friends with the reader, and their private conversation. */
async function newSender() {
  if (startError) throw startError;
  const sender = await registerApi(server.base, `sender${n++}${Date.now().toString(36)}`);
  const cid = await befriendApi(sender, reader);
  return { sender, cid };
}

const list = () => reader.page.getByTestId("messages");
async function markAllRead(cid, seq) {
  await reader.api("POST", `/conversations/${cid}/read`, { seq });
}
async function openChat(cid) {
  await reader.page.goto(`/c/${cid}`);
  await list().waitFor();
}
async function lastRowSeq() {
  const seqs = await renderedSeqs(reader.page);
  return seqs.length ? Math.max(...seqs) : 0;
}

test("a burst of 500 into a long chat arrives in order and the list stays virtualised", async () => {
  const { sender, cid } = await newSender();
  const seeded = await sendMany(sender, cid, 300, { text: (i) => variedText("Seed", i), tag: "seed" });
  await markAllRead(cid, seeded.at(-1).seq);
  await openChat(cid);
  await eventually(async () => assert.equal(await lastRowSeq(), seeded.at(-1).seq));

  let maxRows = 0;
  const burst = sendMany(sender, cid, 500, { text: (i) => `Burst ${i}`, tag: "burst" });
  let done = false;
  void burst.then(() => (done = true));
  while (!done) {
    maxRows = Math.max(maxRows, (await renderedSeqs(reader.page)).length);
    await new Promise((r) => setTimeout(r, 100));
  }
  const acks = await burst;
  // at the bottom, the list follows the burst to its last message
  await eventually(async () => assert.equal(await lastRowSeq(), acks.at(-1).seq), { timeout: 30_000 });
  maxRows = Math.max(maxRows, (await renderedSeqs(reader.page)).length);
  assert.ok(maxRows < 80, `only the rows near the viewport are rendered (${maxRows})`);

  await loadAllHistory(reader.page, { timeout: 60_000 });
  assert.ok((await renderedSeqs(reader.page)).length < 80, "still virtualised with all 800 loaded");
  const rows = await collectAllRows(reader.page);
  const seqs = rows.map((r) => r.seq);
  assert.deepEqual(seqs, [...seeded, ...acks].map((a) => a.seq).sort((a, b) => a - b), "every message once, in seq order");
  assert.deepEqual(rows.filter((r) => r.text.startsWith("Burst ")).map((r) => r.text), acks.map((a) => a.text), "the burst in the order the server stored it");
  assert.equal(rows.find((r) => r.seq === seeded[0].seq).text, seeded[0].text);
});

test("a chat with unread messages opens at the first of them; jump to latest counts new ones", async () => {
  const { sender, cid } = await newSender();
  const read = await sendMany(sender, cid, 40, { concurrency: 1, text: (i) => `Old ${i}`, tag: "old" });
  await markAllRead(cid, read.at(-1).seq);
  const unread = await sendMany(sender, cid, 250, { concurrency: 1, text: (i) => variedText("Unread", i), tag: "unread" });
  await openChat(cid);

  const divider = reader.page.getByTestId("unread-divider");
  await divider.waitFor();
  assert.equal((await divider.textContent()).trim(), "250 unread messages");
  const firstUnread = reader.page.locator(`[data-seq="${unread[0].seq}"]`);
  await firstUnread.waitFor();
  const box = await list().boundingBox();
  const d = await divider.boundingBox();
  assert.ok(d.y >= box.y - 1 && d.y < box.y + box.height / 2, `the divider is at the top of the list (${d.y} in ${box.y}..${box.y + box.height})`);
  assert.ok(await firstUnread.isVisible());
  assert.equal(await reader.page.locator(`[data-seq="${unread.at(-1).seq}"]`).count(), 0, "the newest message is not rendered yet");
  await shot(reader.page, "20-unread-divider.png");

  const jump = reader.page.getByTestId("jump-latest");
  assert.equal((await jump.textContent()).trim(), "Jump to latest");
  await jump.click();
  await reader.page.locator(`[data-seq="${unread.at(-1).seq}"]`).waitFor();
  await eventually(async () => assert.equal(await jump.count(), 0, "no button at the bottom"));

  // scrolled up, new messages are counted on the button
  await list().hover();
  await reader.page.mouse.wheel(0, -1500);
  await jump.waitFor();
  const more = await sendMany(sender, cid, 3, { concurrency: 1, text: (i) => `While away ${i}`, tag: "away" });
  await eventually(async () => assert.equal((await reader.page.getByTestId("jump-count").textContent()).trim(), "3 new"));
  assert.equal(await reader.page.locator(`[data-seq="${more.at(-1).seq}"]`).count(), 0, "the list did not move");
  await jump.click();
  await reader.page.locator(`[data-seq="${more.at(-1).seq}"]`).waitFor();
  await eventually(async () => assert.equal(await jump.count(), 0));

  // opened again with everything read: no divider, at the bottom
  await openChat(cid);
  await reader.page.locator(`[data-seq="${more.at(-1).seq}"]`).waitFor();
  assert.equal(await divider.count(), 0);
});

test("links are clickable with safe schemes only; HTML and javascript: stay text", async () => {
  const { sender, cid } = await newSender();
  await reader.page.addInitScript(() => { window.__xss = 0; });
  const text = `see https://example.com/docs?a=1. or mail team@example.org! not javascript:window.__xss=1 nor <a href="javascript:window.__xss=2">x</a><img src=x onerror="window.__xss=3">`;
  const [ack] = await sendMany(sender, cid, 1, { text: () => text, tag: "links" });
  await openChat(cid);
  const row = reader.page.locator(`[data-seq="${ack.seq}"]`);
  await row.waitFor();
  assert.equal((await row.getByTestId("message-text").textContent()), text, "the text shows literally");
  const links = row.getByTestId("message-link");
  assert.deepEqual(await texts(links), ["https://example.com/docs?a=1", "team@example.org"]);
  const attrs = await links.evaluateAll((as) => as.map((a) => [a.getAttribute("href"), a.target, a.rel]));
  assert.deepEqual(attrs, [
    ["https://example.com/docs?a=1", "_blank", "noopener noreferrer"],
    ["mailto:team@example.org", "_blank", "noopener noreferrer"],
  ]);
  assert.equal(await row.locator("img, script, a[href^='javascript']").count(), 0, "no element comes from the text");
  assert.equal(await reader.page.evaluate(() => window.__xss), 0, "nothing ran");
});

test("an incoming message leaves an open message menu open", async () => {
  const { sender, cid } = await newSender();
  const first = await sendMany(sender, cid, 30, { concurrency: 1, text: (i) => `Before ${i}`, tag: "menu" });
  await markAllRead(cid, first.at(-1).seq);
  await openChat(cid);
  const target = reader.page.locator(`[data-seq="${first.at(-1).seq}"] .bubble`);
  await target.waitFor();
  await target.click({ button: "right" });
  const menu = reader.page.getByRole("menu");
  await menu.waitFor();
  const [incoming] = await sendMany(sender, cid, 1, { text: () => "Arrives while the menu is open", tag: "menu-in" });
  await reader.page.locator(`[data-seq="${incoming.seq}"]`).waitFor();
  await reader.page.waitForTimeout(300);
  assert.ok(await menu.isVisible(), "the menu is still open");
  assert.ok(await menu.getByTestId("copy").isVisible());
  await menu.getByTestId("menu-cancel").click();
  await eventually(async () => assert.equal(await menu.count(), 0));
});
