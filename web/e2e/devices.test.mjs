// End-to-end: one person on two tabs of one browser and on a second browser. Every tab and
// browser gets each message, sends from any of them work, and Me → Devices logs one out.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { apiFor, eventually, launchBrowser, newPerson, sessionOf, shot, startServer, texts } from "./harness.mjs";

let server;
let browser;
const contexts = [];

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await server?.stop();
});

async function person(name) {
  const p = await newPerson(browser, server.base, name);
  contexts.push(p.context);
  return p;
}

/** The same person logging in in a browser of their own (a new browser context). */
async function secondBrowser(p) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: server.base });
  contexts.push(context);
  const page = await context.newPage();
  await page.goto("/login");
  await page.fill('input[name="username"]', p.username);
  await page.fill('input[name="password"]', p.password);
  await page.click('button[type="submit"]');
  await page.getByRole("heading", { name: "Chats" }).waitFor();
  return page;
}

const messageTexts = (page) => texts(page.getByTestId("messages").getByTestId("message-text"));
async function waitForMessage(page, text, timeout = 10_000) {
  await eventually(async () => assert.ok((await messageTexts(page)).includes(text), `"${text}" not shown; shown: ${JSON.stringify(await messageTexts(page))}`), { timeout });
}
async function send(page, text) {
  await page.getByTestId("composer").fill(text);
  await page.getByTestId("composer").press("Enter");
}

test("two tabs and a second browser of one person all receive, and send, messages", async () => {
  const alice = await person("Alice");
  const bob = await person("Bob");
  const apiA = apiFor(server.base, alice.token);
  const apiB = apiFor(server.base, bob.token);
  const req = await apiA("POST", "/friends/requests", { user_id: bob.id, note: "hi" });
  await apiB("POST", `/friends/requests/${req.id}/accept`);
  const { id: cid } = await apiA("POST", "/conversations/private", { user_id: bob.id });

  const tab1 = bob.page;
  const tab2 = await bob.context.newPage(); // same browser: shares the login
  const other = await secondBrowser(bob);
  for (const page of [tab1, tab2, other]) {
    await page.goto(`/c/${cid}`);
    await page.getByTestId("messages").waitFor();
  }
  await alice.page.goto(`/c/${cid}`);
  await alice.page.getByTestId("messages").waitFor();

  await send(alice.page, "Hello every Bob 👋");
  for (const page of [tab1, tab2, other]) await waitForMessage(page, "Hello every Bob 👋");

  await send(tab2, "from the second tab");
  for (const page of [alice.page, tab1, other]) await waitForMessage(page, "from the second tab");
  await send(other, "from the other browser");
  for (const page of [alice.page, tab1, tab2]) await waitForMessage(page, "from the other browser");
  for (const page of [tab1, tab2, other]) assert.equal(await page.getByTestId("kicked").count(), 0, "nobody was logged out");

  // The two tabs are one device; the second browser is another.
  const session = await sessionOf(tab1);
  assert.equal((await sessionOf(tab2)).refresh_token, session.refresh_token);
  const { devices } = await apiFor(server.base, session.access_token)("GET", "/devices");
  assert.equal(devices.length, 2);
  assert.ok(devices.every((d) => d.online && d.kind === "web"));
  assert.ok(devices.every((d) => /^HeadlessChrome on Linux|^Chrome on Linux/.test(d.name)), JSON.stringify(devices));

  // Me → Devices on the second browser: this device is marked, the first browser is listed.
  await other.goto("/me");
  const rows = other.getByTestId("device");
  await eventually(async () => assert.equal(await rows.count(), 2));
  const mine = other.locator('[data-testid="device"][data-current="true"]');
  await mine.getByTestId("this-device").waitFor();
  const first = other.locator('[data-testid="device"][data-current="false"]');
  assert.match(await first.getByTestId("device-online").textContent(), /Online now/);

  // Rename the first browser.
  await first.getByTestId("device-rename").click();
  await first.getByTestId("device-name-input").fill("Bob's work laptop");
  await first.getByTestId("device-save").click();
  await eventually(async () => assert.equal((await first.getByTestId("device-name").textContent()).trim(), "Bob's work laptop"));
  await shot(other, "devices-me.png");

  // Log the first browser out from the second: both of its tabs say so, and stay out.
  await first.getByTestId("device-logout").click();
  await first.getByTestId("device-logout-confirm").click();
  for (const page of [tab1, tab2]) {
    const overlay = page.getByTestId("kicked");
    await overlay.waitFor({ timeout: 10_000 });
    assert.equal(await overlay.getAttribute("data-reason"), "device_logged_out");
    assert.match(await overlay.textContent(), /You were logged out/);
  }
  await eventually(async () => assert.equal(await rows.count(), 1));
  await tab1.getByTestId("login-again").click();
  await tab1.waitForURL((u) => u.pathname.startsWith("/login"));
  await tab2.waitForURL((u) => u.pathname.startsWith("/login"), { timeout: 10_000 });

  // The second browser is untouched and still chatting.
  await other.goto(`/c/${cid}`);
  await send(alice.page, "still there?");
  await waitForMessage(other, "still there?");
  const old = await fetch(`${server.base}/api/v1/devices`, { headers: { Authorization: `Bearer ${session.access_token}` } });
  assert.equal(old.status, 401, "the logged-out device's token is refused");

  // Logging out this very device from its own list goes to the login page.
  await other.goto("/me");
  const self = other.locator('[data-testid="device"][data-current="true"]');
  await self.getByTestId("device-logout").click();
  await self.getByTestId("device-logout-confirm").click();
  await other.waitForURL((u) => u.pathname.startsWith("/login"), { timeout: 10_000 });
});
